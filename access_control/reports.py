"""Attendance for the owner's reports: the hour × weekday heatmap and members at risk.

Definitions in ``docs/reports.md``.  An *entry* is a granted access event going in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection

from billing.reports.mrr import paying_members_sql
from config import clock

from .models import Decision, Direction, Location

AT_RISK_DAYS = 14
LAPSED_DAYS = 30


@dataclass
class Heatmap:
    """Entries by ISO weekday (1 = Monday … 7) × hour (0–23) in the location's zone."""

    location: Location
    zone_id: int | None
    counts: list[list[int]]  # [weekday - 1][hour]

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.counts)

    @property
    def peak(self) -> int:
        return max((max(row) for row in self.counts), default=0)


_HEATMAP = """
SELECT EXTRACT(ISODOW FROM e.occurred_at AT TIME ZONE %(tz)s)::int AS weekday,
       EXTRACT(HOUR FROM e.occurred_at AT TIME ZONE %(tz)s)::int AS hour,
       COUNT(*)
FROM access_control_accessevent e
JOIN billing_zone z ON z.id = e.zone_id
WHERE e.decision = %(granted)s AND e.direction = %(in)s
  AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
  AND z.location_id = %(location)s {zone}
GROUP BY 1, 2
"""


def attendance_heatmap(
    location: Location, start: dt.date, end: dt.date, *, zone_id: int | None = None
) -> Heatmap:
    """Entries at ``location`` (one zone of it if given) from ``start`` to ``end``, both
    included, read in the location's own time zone.  One query."""
    tz = ZoneInfo(location.time_zone)
    params: dict[str, Any] = {
        "tz": location.time_zone,
        "granted": Decision.GRANTED,
        "in": Direction.IN,
        "start": dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        "end": dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
        "location": location.pk,
        "zone": zone_id,
    }
    sql = _HEATMAP.format(zone="AND e.zone_id = %(zone)s" if zone_id else "")
    counts = [[0] * 24 for _ in range(7)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for weekday, hour, count in cursor.fetchall():
            counts[weekday - 1][hour] = count
    return Heatmap(location, zone_id, counts)


@dataclass(frozen=True)
class AbsentMember:
    member_id: int
    name: str
    last_entry: dt.datetime | None

    def days_away(self, today: dt.date) -> int | None:
        if self.last_entry is None:
            return None
        return (today - self.last_entry.astimezone(clock.gym_tz()).date()).days


@dataclass
class AtRisk:
    """Paying members by how long since their last entry anywhere."""

    at_risk: int  # 14–29 days
    lapsed: int  # 30 days or more
    never: int  # paying, never came in
    members: list[AbsentMember]  # the longest away first (never first of all)


_LAST_ENTRY = """
WITH paying AS ({paying}),
last_entry AS (
    SELECT p.member_id, MAX(e.occurred_at) AS at
    FROM paying p
    LEFT JOIN access_control_accessevent e
      ON e.member_id = p.member_id AND e.decision = %s AND e.direction = %s
    GROUP BY p.member_id
)
SELECT {select} FROM last_entry l JOIN members_member m ON m.id = l.member_id
WHERE l.at IS NULL OR l.at < %s
"""


def members_at_risk(today: dt.date, *, limit: int | None = 100) -> AtRisk:
    """Paying members away 14 days or more on ``today`` (gym-local), counted by band,
    with the ``limit`` longest away (``None``: all of them).  Two queries."""
    paying, paying_params = paying_members_sql()
    risk_from = clock.local_midnight(today - dt.timedelta(days=AT_RISK_DAYS - 1))
    lapsed_from = clock.local_midnight(today - dt.timedelta(days=LAPSED_DAYS - 1))
    head = [*paying_params, Decision.GRANTED, Direction.IN]
    counts_sql = _LAST_ENTRY.format(
        paying=paying,
        select="COUNT(*) FILTER (WHERE l.at IS NULL), "
        "COUNT(*) FILTER (WHERE l.at < %s), COUNT(*) FILTER (WHERE l.at >= %s)",
    )
    list_sql = (
        _LAST_ENTRY.format(paying=paying, select="l.member_id, m.first_name, m.last_name, l.at")
        + " ORDER BY l.at ASC NULLS FIRST, l.member_id"
        + (" LIMIT %s" if limit else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(counts_sql, [*head, lapsed_from, lapsed_from, risk_from])
        never, lapsed, at_risk = cursor.fetchone() or (0, 0, 0)
        cursor.execute(list_sql, [*head, risk_from, *([limit] if limit else [])])
        members = [
            AbsentMember(pk, f"{first} {last}".strip(), at)
            for pk, first, last, at in cursor.fetchall()
        ]
    return AtRisk(at_risk=at_risk, lapsed=lapsed, never=never, members=members)
