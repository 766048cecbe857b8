"""Shared fixtures for the dunning tests: the SMS outbox, a clean bank, the gym, a clock.

Most dunning tests commit for real (``transaction=True``): billing calls dunning's
hooks after its transactions commit, and the run's row locks are part of what is tested.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from billing.gateways import get_gateway
from billing.models import Membership
from dunning.sms import locmem
from members.models import GymProfile
from tests.billing.factories import PlanFactory, card, signed_up
from tests.factories import MemberFactory

BANGKOK = ZoneInfo("Asia/Bangkok")


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """An instant in the gym's time zone (Asia/Bangkok in the test settings)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=BANGKOK)


def seed_policy() -> None:
    """The seeded decline rules, retry policy and ladder (a flush after a test that
    committed wipes what the migration wrote)."""
    from django.apps import apps

    importlib.import_module("dunning.migrations.0002_seed_policy").seed(apps, None)
    importlib.import_module("dunning.migrations.0008_recovery_fitted_to_paydays").forwards(
        apps, None
    )


@pytest.fixture(autouse=True)
def _seeded_policy(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    transactional = marker.kwargs.get("transaction", False)
    request.getfixturevalue("transactional_db" if transactional else "db")
    seed_policy()


@pytest.fixture(autouse=True)
def _dunning_settings(settings) -> Iterator[None]:
    settings.DUNNING_SMS_BACKEND = "dunning.sms.locmem.LocmemSmsBackend"
    settings.DUNNING_HOOK_ERRORS_RAISE = True
    settings.DUNNING_PUBLIC_BASE_URL = "https://gym.example"
    locmem.outbox.clear()
    mail.outbox = []
    yield
    locmem.outbox.clear()


@pytest.fixture
def bank() -> None:
    """A sandbox bank with no memory of earlier tests."""
    get_gateway("sandbox").reset()


@pytest.fixture
def gym(db: None) -> GymProfile:
    return GymProfile.objects.create(
        name="Lumpini Fitness",
        phone="+66 2 123 4567",
        email="billing@lumpini.example",
        opening_hours="Mon–Sun 06:00–22:00",
    )


@pytest.fixture
def failing_member(bank: None, gym: GymProfile, time_machine) -> Callable[..., Membership]:
    """A member who signed up on 5 March 2026 with a good card, then swapped to ``token``.

    The clock is left at the sign-up; the renewal is due on 5 April 2026.
    """

    def make(
        token: str = "tok_decline_insufficient_funds",
        *,
        language: str = "en",
        plan=None,
        **member_fields,
    ) -> Membership:
        time_machine.move_to(local(2026, 3, 5, 9), tick=False)
        member = MemberFactory(language=language, **member_fields)
        membership = signed_up(member=member, plan=plan or PlanFactory())
        method = card(member, token)
        Membership.objects.filter(pk=membership.pk).update(payment_method=method)
        membership.refresh_from_db()
        mail.outbox = []  # the sign-up receipt
        locmem.outbox.clear()
        return membership

    return make
