"""Classes test data usable outside the classes tests' fixtures (the browser tests)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from billing.models import Location, Membership
from classes.models import ClassSession, ClassType, Room
from config import clock
from members.models import Member
from tests.billing.factories import PlanFactory
from tests.factories import MemberFactory


def studio() -> tuple[Room, ClassType]:
    location = Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")
    room = Room.objects.create(location=location, name="Studio A", capacity=20)
    kind = ClassType.objects.create(
        code="muay-thai",
        name="Muay Thai",
        name_th="มวยไทย",
        no_show_fee=20_000,
        late_cancel_fee=10_000,
    )
    return room, kind


def session_at(
    room: Room, kind: ClassType, starts: dt.datetime, capacity: int = 10
) -> ClassSession:
    return ClassSession.objects.create(
        class_type=kind,
        room=room,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=kind.duration_minutes),
        capacity=capacity,
    )


def member_with_plan(**fields: Any) -> Member:
    member = MemberFactory(**fields)
    today = clock.today()
    Membership.objects.create(
        member=member,
        payer=member,
        plan=PlanFactory(),
        status="active",
        currency="THB",
        anchor_day=1,
        started_on=today - dt.timedelta(days=3),
        current_period_start=today - dt.timedelta(days=3),
        current_period_end=today + dt.timedelta(days=27),
    )
    return member
