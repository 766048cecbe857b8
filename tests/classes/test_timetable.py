"""Sessions generated from weekly schedules, on the location's wall clock."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from billing.models import Location
from classes.models import ClassSession, Room, Schedule
from classes.services.timetable import sessions_generate

pytestmark = pytest.mark.django_db


def test_weekly_schedules_make_sessions_once_across_dst(make_type):
    ny = Location.objects.create(name="Brooklyn", time_zone="America/New_York")
    room = Room.objects.create(location=ny, name="Loft", capacity=12)
    kind = make_type("spin", default_capacity=20, duration_minutes=45)
    Schedule.objects.create(
        class_type=kind,
        room=room,
        weekdays="13",
        start_time=dt.time(18, 0),
        valid_from=dt.date(2027, 3, 1),
        valid_until=dt.date(2027, 3, 21),
    )
    sessions_generate(first=dt.date(2027, 3, 1), last=dt.date(2027, 3, 31))
    sessions_generate(first=dt.date(2027, 3, 1), last=dt.date(2027, 3, 31))
    tz = ZoneInfo("America/New_York")
    starts = list(ClassSession.objects.order_by("starts_at").values_list("starts_at", flat=True))
    assert len(starts) == 6
    assert {s.astimezone(tz).time() for s in starts} == {dt.time(18, 0)}
    assert {s.astimezone(tz).isoweekday() for s in starts} == {1, 3}
    assert {s.utcoffset() for s in starts} == {dt.timedelta(0)}
    assert ClassSession.objects.first().capacity == 12  # at most the room's


def test_a_year_of_a_hundred_class_timetable_in_ten_seconds(make_type, room):
    kinds = [make_type(f"type-{n}") for n in range(5)]
    for n in range(100):
        Schedule.objects.create(
            class_type=kinds[n % 5],
            room=room,
            weekdays=str(n % 7 + 1),
            start_time=dt.time(6 + n % 14, 0),
            valid_from=dt.date(2027, 1, 4),
        )
    started = time.perf_counter()
    sessions_generate(first=dt.date(2027, 1, 4), last=dt.date(2028, 1, 2))
    elapsed = time.perf_counter() - started
    assert ClassSession.objects.count() == 52 * 100
    assert elapsed <= 10, elapsed
