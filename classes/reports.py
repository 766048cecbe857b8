"""Classes for the owner's reports: fill rate, waitlist demand, late cancels and no-shows,
by class type and by instructor (``docs/reports.md``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils.translation import get_language

from billing.reports.rates import Rate
from config import clock

from .models import BookingSource, BookingStatus, SessionStatus

# Per session first, so capacities are not multiplied by the bookings joined to them.
_BY = """
WITH per_session AS (
    SELECT s.id, s.class_type_id, s.instructor_id, s.capacity,
           COUNT(b.id) FILTER (WHERE b.status = ANY(%(taken)s)) AS taken,
           COUNT(b.id) FILTER (WHERE b.status = %(waitlisted)s OR b.source = %(from_waitlist)s)
               AS waitlist,
           COUNT(b.id) FILTER (WHERE b.status = %(late)s) AS late,
           COUNT(b.id) FILTER (WHERE b.status = %(no_show)s) AS no_show,
           COUNT(b.id) FILTER (WHERE b.status <> %(waitlisted)s) AS bookings
    FROM classes_classsession s
    JOIN classes_room r ON r.id = s.room_id
    LEFT JOIN classes_booking b ON b.session_id = s.id
    WHERE s.status <> %(cancelled)s AND s.starts_at >= %(start)s AND s.starts_at < %(end)s
      {location}
    GROUP BY s.id
)
SELECT {key}, {name}, COUNT(*), SUM(p.capacity), SUM(p.taken), SUM(p.waitlist), SUM(p.late),
       SUM(p.no_show), SUM(p.bookings)
FROM per_session p {join}
GROUP BY 1, 2 ORDER BY 2
"""


@dataclass(frozen=True)
class ClassFigures:
    key: int | None
    name: str
    sessions: int
    capacity: int
    taken: int
    waitlist: int
    late_cancels: int
    no_shows: int
    bookings: int

    @property
    def fill_rate(self) -> Rate:
        return Rate(self.taken, self.capacity)

    @property
    def late_cancel_rate(self) -> Rate:
        return Rate(self.late_cancels, self.bookings)

    @property
    def no_show_rate(self) -> Rate:
        return Rate(self.no_shows, self.bookings)


def _rows(sql: str, params: dict[str, Any]) -> list[ClassFigures]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            ClassFigures(key, name or "", *(int(v or 0) for v in rest))
            for key, name, *rest in cursor.fetchall()
        ]


def class_figures(
    start: dt.date, end: dt.date, *, location_id: int | None = None
) -> dict[str, list[ClassFigures]]:
    """Sessions starting from ``start`` to ``end`` (gym-local, both included) and not
    cancelled by the gym, ``by_type`` and ``by_instructor``.  Two queries."""
    params: dict[str, Any] = {
        "taken": [BookingStatus.BOOKED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW],
        "waitlisted": BookingStatus.WAITLISTED,
        "from_waitlist": BookingSource.WAITLIST,
        "late": BookingStatus.LATE_CANCELLED,
        "no_show": BookingStatus.NO_SHOW,
        "cancelled": SessionStatus.CANCELLED,
        "start": clock.local_midnight(start),
        "end": clock.local_midnight(end + dt.timedelta(days=1)),
        "location": location_id,
    }
    location = "AND r.location_id = %(location)s" if location_id else ""
    thai = (get_language() or "").startswith("th")
    type_name = "COALESCE(NULLIF(t.name_th, ''), t.name)" if thai else "t.name"
    by_type = _BY.format(
        location=location,
        key="p.class_type_id",
        name=type_name,
        join="JOIN classes_classtype t ON t.id = p.class_type_id",
    )
    by_instructor = _BY.format(
        location=location,
        key="p.instructor_id",
        name="i.name",
        join="LEFT JOIN classes_instructor i ON i.id = p.instructor_id",
    )
    return {"by_type": _rows(by_type, params), "by_instructor": _rows(by_instructor, params)}
