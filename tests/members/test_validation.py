"""Each member validation rule gives a clear field error and saves nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from members import services
from members.models import AgreementSignature, Member
from tests.factories import AgreementVersionFactory, MemberFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 21)


def error_codes(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return {field: [e.code or "" for e in errors] for field, errors in exc.value.error_dict.items()}


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


def test_valid_member_is_numbered_and_normalised():
    first = services.member_create(
        first_name=" Somchai ",
        last_name="Suksawat",
        email="Somchai@Example.COM",
        phone="081 234 5678",
        date_of_birth=dt.date(1990, 1, 1),
    )
    second = MemberFactory()
    assert first.first_name == "Somchai"
    assert first.email == "somchai@example.com"
    assert first.phone == "+66812345678"
    assert second.member_number == first.member_number + 1


def test_date_of_birth_in_the_future_is_refused():
    with pytest.raises(ValidationError) as exc:
        MemberFactory(date_of_birth=TODAY + dt.timedelta(days=1))
    assert error_codes(exc) == {"date_of_birth": ["dob_in_future"]}
    assert Member.objects.count() == 0


def test_implausible_date_of_birth_is_refused():
    with pytest.raises(ValidationError) as exc:
        MemberFactory(date_of_birth=dt.date(1890, 1, 1))
    assert error_codes(exc) == {"date_of_birth": ["dob_implausible"]}


def test_minor_without_guardian_is_refused():
    with pytest.raises(ValidationError) as exc:
        MemberFactory(date_of_birth=dt.date(2014, 3, 3))
    assert error_codes(exc) == {"guardian": ["guardian_required"]}
    assert Member.objects.count() == 0


def test_minor_with_adult_guardian_is_accepted():
    parent = MemberFactory()
    child = MemberFactory(date_of_birth=dt.date(2014, 3, 3), guardian=parent)
    assert child.guardian == parent
    assert child.is_minor


def test_guardian_must_be_adult():
    parent = MemberFactory()
    teen = MemberFactory(date_of_birth=dt.date(2010, 1, 1), guardian=parent)
    with pytest.raises(ValidationError) as exc:
        MemberFactory(date_of_birth=dt.date(2015, 1, 1), guardian=teen)
    assert error_codes(exc) == {"guardian": ["guardian_minor"]}


def test_member_cannot_be_own_guardian():
    member = MemberFactory()
    with pytest.raises(ValidationError) as exc:
        services.member_update(member, guardian=member)
    assert error_codes(exc) == {"guardian": ["guardian_self"]}


@pytest.mark.parametrize("phone", ["12", "not a phone", "+66 12", "0812345678901234"])
def test_malformed_phone_is_refused(phone):
    with pytest.raises(ValidationError) as exc:
        MemberFactory(phone=phone)
    assert error_codes(exc) == {"phone": ["invalid_phone"]}


def test_malformed_emergency_phone_is_refused():
    with pytest.raises(ValidationError) as exc:
        MemberFactory(emergency_contact_phone="abc")
    assert error_codes(exc) == {"emergency_contact_phone": ["invalid_phone"]}


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "x@@example.com"])
def test_malformed_email_is_refused(email):
    with pytest.raises(ValidationError) as exc:
        MemberFactory(email=email)
    assert list(error_codes(exc)) == ["email"]


def test_email_is_unique_case_insensitively():
    MemberFactory(email="Nok@example.com")
    with pytest.raises(ValidationError) as exc:
        MemberFactory(email="NOK@EXAMPLE.COM")
    assert "email" in str(exc.value) or "__all__" in exc.value.message_dict
    assert Member.objects.count() == 1


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError) as exc:
        services.member_create(first_name="A", last_name="B", status="active")
    assert "status" in exc.value.message_dict


def test_household_payer_is_billed_for_dependants():
    payer = MemberFactory()
    household = services.household_create(payer=payer)
    child = MemberFactory(date_of_birth=dt.date(2016, 1, 1), guardian=payer, household=household)
    assert child.payer == payer
    assert payer.payer == payer


def test_minor_cannot_pay_for_a_household():
    parent = MemberFactory()
    child = MemberFactory(date_of_birth=dt.date(2016, 1, 1), guardian=parent)
    with pytest.raises(ValidationError) as exc:
        services.household_create(payer=child)
    assert error_codes(exc) == {"payer": ["payer_minor"]}


def test_agreement_signature_records_version_time_and_device():
    member = MemberFactory()
    version = AgreementVersionFactory()
    signature = services.agreement_sign(
        member=member,
        version=version,
        signer_name="Somchai S.",
        ip_address="203.0.113.5",
        user_agent="Mozilla/5.0 (iPhone)",
    )
    assert (signature.version, signature.ip_address) == (version, "203.0.113.5")
    assert signature.user_agent == "Mozilla/5.0 (iPhone)"
    assert signature.signed_at == dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
    with pytest.raises(ValidationError):
        services.agreement_sign(
            member=member, version=version, signer_name="Again", ip_address=None
        )
    assert AgreementSignature.objects.count() == 1


def test_agreement_needs_a_signer_name():
    with pytest.raises(ValidationError) as exc:
        services.agreement_sign(
            member=MemberFactory(),
            version=AgreementVersionFactory(),
            signer_name="  ",
            ip_address=None,
        )
    assert "signer_name" in exc.value.message_dict
