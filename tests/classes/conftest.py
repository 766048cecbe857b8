"""Classes fixtures: a Bangkok studio, class types, sessions and members with plans.

The clock stands still at Monday 7 June 2027, 03:00 UTC: 10:00 in Bangkok.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine

from billing.models import Location, Membership, Pack, PackKind, PackPurchase, Plan
from classes.models import ClassSession, ClassType, Room
from config import clock as gym_clock
from members.models import Member
from tests.billing.factories import PlanFactory
from tests.factories import MemberFactory

NOW = dt.datetime(2027, 6, 7, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _sms_outbox(settings: Any) -> Iterator[list[Any]]:
    from billing.messaging.sms import locmem

    settings.SMS_BACKEND = "billing.messaging.sms.locmem.LocmemSmsBackend"
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def sms(_sms_outbox: list[Any]) -> list[Any]:
    return _sms_outbox


@pytest.fixture
def location(db: None) -> Location:
    return Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")


@pytest.fixture
def room(location: Location) -> Room:
    return Room.objects.create(location=location, name="Studio 1", capacity=30)


@pytest.fixture
def make_type(db: None) -> Callable[..., ClassType]:
    def make(code: str = "yoga", **fields: Any) -> ClassType:
        fields.setdefault("name", code.title())
        fields.setdefault("name_th", f"{code} (ไทย)")
        return ClassType.objects.create(code=code, **fields)

    return make


@pytest.fixture
def yoga(make_type: Callable[..., ClassType]) -> ClassType:
    return make_type("yoga")


@pytest.fixture
def make_session(room: Room, yoga: ClassType) -> Callable[..., ClassSession]:
    def make(
        start: dt.datetime | None = None,
        *,
        hours: float = 24,
        capacity: int = 10,
        class_type: ClassType | None = None,
        room_: Room | None = None,
        minutes: int = 60,
    ) -> ClassSession:
        starts = start or gym_clock.now() + dt.timedelta(hours=hours)
        return ClassSession.objects.create(
            class_type=class_type or yoga,
            room=room_ or room,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=minutes),
            capacity=capacity,
        )

    return make


@pytest.fixture
def session(make_session: Callable[..., ClassSession]) -> ClassSession:
    return make_session()


@pytest.fixture
def make_member(db: None) -> Callable[..., Member]:
    """A member with a live membership (``status``) on a plan with ``credits`` a period
    (``None``: unlimited); ``plan=False``: no membership at all."""

    def make(
        *,
        credits: int | None = None,
        status: str = "active",
        plan: Plan | bool | None = None,
        **fields: Any,
    ) -> Member:
        member = MemberFactory(**fields)
        if plan is False:
            return member
        chosen = plan or PlanFactory(class_credits_per_period=credits)
        today = gym_clock.today()
        Membership.objects.create(
            member=member,
            payer=member,
            plan=chosen,
            status=status,
            currency="THB",
            anchor_day=1,
            started_on=today - dt.timedelta(days=6),
            current_period_start=today - dt.timedelta(days=6),
            current_period_end=today + dt.timedelta(days=24),
        )
        return member

    return make


@pytest.fixture
def make_pack(db: None) -> Callable[..., PackPurchase]:
    def make(member: Member, *, remaining: int = 5, days: int = 30) -> PackPurchase:
        pack, _ = Pack.objects.get_or_create(
            code="classes-5",
            defaults={
                "name": "5 classes",
                "kind": PackKind.CLASSES,
                "quantity": 5,
                "price": 120_000,
            },
        )
        today = gym_clock.today()
        return PackPurchase.objects.create(
            member=member,
            pack=pack,
            remaining=remaining,
            valid_from=today - dt.timedelta(days=1),
            expires_on=today + dt.timedelta(days=days),
        )

    return make
