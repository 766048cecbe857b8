from __future__ import annotations

import datetime as dt

import factory

from members import services
from members.models import AgreementKind, AgreementVersion, Member


class MemberFactory(factory.django.DjangoModelFactory[Member]):
    class Meta:
        model = Member

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"member{n}@example.com")
    phone = factory.Sequence(lambda n: f"+66812{n:06d}")
    date_of_birth = dt.date(1990, 5, 17)
    language = "en"

    @classmethod
    def _create(cls, model_class: type[Member], *args: object, **kwargs: object) -> Member:
        return services.member_create(**kwargs)


class AgreementVersionFactory(factory.django.DjangoModelFactory[AgreementVersion]):
    class Meta:
        model = AgreementVersion

    kind = AgreementKind.MEMBERSHIP_TERMS
    version = factory.Sequence(lambda n: f"2026.{n}")
    title = "Membership terms"
    body_en = "Terms"
    body_th = "ข้อกำหนด"
    effective_from = dt.date(2026, 1, 1)
