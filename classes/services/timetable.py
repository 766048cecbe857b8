"""Sessions generated from weekly schedules, some weeks ahead (a beat task).

One INSERT per batch; a session already generated for a schedule and start is left as
it is (``ON CONFLICT DO NOTHING`` on the unique slot), so a changed or cancelled
session is never overwritten and running twice adds nothing.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from config import clock

from ..models import ClassSession, Schedule


def _sessions_for(schedule: Schedule, first: dt.date, last: dt.date) -> list[ClassSession]:
    kind, room = schedule.class_type, schedule.room
    tz = room.location.tz
    capacity = min(schedule.capacity or kind.default_capacity, room.capacity)
    length = dt.timedelta(minutes=kind.duration_minutes)
    start = max(first, schedule.valid_from)
    end = min(last, schedule.valid_until) if schedule.valid_until else last
    days = {int(d) for d in schedule.weekdays if d.isdigit()}
    out = []
    day = start
    while day <= end:
        if day.isoweekday() in days:
            starts = dt.datetime.combine(day, schedule.start_time, tzinfo=tz).astimezone(dt.UTC)
            out.append(
                ClassSession(
                    class_type=kind,
                    schedule=schedule,
                    room=room,
                    instructor_id=schedule.instructor_id,
                    starts_at=starts,
                    ends_at=starts + length,
                    capacity=capacity,
                )
            )
        day += dt.timedelta(days=1)
    return out


def sessions_generate(
    *, first: dt.date | None = None, last: dt.date | None = None, batch: int = 2000
) -> int:
    """Create the sessions of every active schedule from ``first`` to ``last`` (local
    dates; by default today to ``CLASSES_WEEKS_AHEAD`` weeks ahead).  Returns how many
    were considered (already existing ones are skipped by the database)."""
    first = first or clock.today()
    last = last or first + dt.timedelta(weeks=settings.CLASSES_WEEKS_AHEAD)
    pending: list[ClassSession] = []
    total = 0
    schedules = Schedule.objects.filter(is_active=True).select_related(
        "class_type", "room__location"
    )
    for schedule in schedules:
        pending += _sessions_for(schedule, first, last)
        if len(pending) >= batch:
            ClassSession.objects.bulk_create(pending, ignore_conflicts=True)
            total += len(pending)
            pending = []
    if pending:
        ClassSession.objects.bulk_create(pending, ignore_conflicts=True)
        total += len(pending)
    return total
