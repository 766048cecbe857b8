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

from .models import Decision, Direction, Location, Zone

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


# Entries are counted per local hour first (a few thousand groups a year, one time-zone
# conversion per entry, read from the zone-entries index alone), then laid out by weekday
# and hour here.
_HEATMAP = """
SELECT date_trunc('hour', e.occurred_at AT TIME ZONE %(tz)s) AS local_hour, COUNT(*)
FROM access_control_accessevent e
WHERE e.decision = %(granted)s AND e.direction = %(in)s
  AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
  AND e.zone_id = ANY(%(zones)s)
GROUP BY 1
"""


def attendance_heatmap(
    location: Location, start: dt.date, end: dt.date, *, zone_id: int | None = None
) -> Heatmap:
    """Entries at ``location`` (one zone of it if given) from ``start`` to ``end``, both
    included, read in the location's own time zone.  Two queries (the zones, the entries)."""
    tz = ZoneInfo(location.time_zone)
    params: dict[str, Any] = {
        "tz": location.time_zone,
        "granted": Decision.GRANTED,
        "in": Direction.IN,
        "start": dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        "end": dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    }
    zones = Zone.objects.filter(location=location)
    if zone_id:
        zones = zones.filter(pk=zone_id)
    params["zones"] = list(zones.values_list("pk", flat=True))
    counts = [[0] * 24 for _ in range(7)]
    with connection.cursor() as cursor:
        cursor.execute(_HEATMAP, params)
        for local_hour, count in cursor.fetchall():
            counts[local_hour.weekday()][local_hour.hour] += count
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
    """Paying members by how long since their last visit anywhere (their last granted pass
    at any zone, in or out)."""

    at_risk: int  # 14–29 days
    lapsed: int  # 30 days or more
    never: int  # paying, never came in
    members: list[AbsentMember]  # the longest away first (never first of all)


# The last visit is read from the presence rows the access service keeps with the events
# (``access_control.presence``: each member's latest granted pass per zone), a handful of
# rows per member, instead of every check-in they ever made.
_LAST_ENTRY = """
WITH paying AS ({paying}),
last_entry AS (
    SELECT p.member_id, MAX(z.at) AS at
    FROM paying p
    LEFT JOIN access_control_zonepresence z ON z.member_id = p.member_id
    GROUP BY p.member_id
)
SELECT {select} FROM last_entry l JOIN members_member m ON m.id = l.member_id
WHERE l.at IS NULL OR l.at < %s
"""


BANDS = ("at_risk", "lapsed", "never")


def members_at_risk(today: dt.date, *, limit: int | None = 100, band: str | None = None) -> AtRisk:
    """Paying members away 14 days or more on ``today`` (gym-local), counted by band,
    with the ``limit`` longest away (``None``: all of them), of one ``band`` of
    :data:`BANDS` if given.  Two queries."""
    paying, paying_params = paying_members_sql()
    risk_from = clock.local_midnight(today - dt.timedelta(days=AT_RISK_DAYS - 1))
    lapsed_from = clock.local_midnight(today - dt.timedelta(days=LAPSED_DAYS - 1))
    head = list(paying_params)
    counts_sql = _LAST_ENTRY.format(
        paying=paying,
        select="COUNT(*) FILTER (WHERE l.at IS NULL), "
        "COUNT(*) FILTER (WHERE l.at < %s), COUNT(*) FILTER (WHERE l.at >= %s)",
    )
    only, only_params = {
        None: ("", []),
        "at_risk": (" AND l.at >= %s", [lapsed_from]),
        "lapsed": (" AND l.at < %s", [lapsed_from]),
        "never": (" AND l.at IS NULL", []),
    }[band]
    list_sql = (
        _LAST_ENTRY.format(paying=paying, select="l.member_id, m.first_name, m.last_name, l.at")
        .rstrip()
        .replace("WHERE l.at IS NULL OR l.at < %s", "WHERE (l.at IS NULL OR l.at < %s)" + only)
        + " ORDER BY l.at ASC NULLS FIRST, l.member_id"
        + (" LIMIT %s" if limit else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(counts_sql, [*head, lapsed_from, lapsed_from, risk_from])
        never, lapsed, at_risk = cursor.fetchone() or (0, 0, 0)
        cursor.execute(list_sql, [*head, risk_from, *only_params, *([limit] if limit else [])])
        members = [
            AbsentMember(pk, f"{first} {last}".strip(), at)
            for pk, first, last, at in cursor.fetchall()
        ]
    return AtRisk(at_risk=at_risk, lapsed=lapsed, never=never, members=members)


_HEATMAP_MEMBERS = """
SELECT e.member_id, COUNT(*)
FROM access_control_accessevent e
WHERE e.decision = %(granted)s AND e.direction = %(in)s AND e.member_id IS NOT NULL
  AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
  AND e.zone_id = ANY(%(zones)s)
  AND EXTRACT(ISODOW FROM e.occurred_at AT TIME ZONE %(tz)s) = %(weekday)s
  AND EXTRACT(HOUR FROM e.occurred_at AT TIME ZONE %(tz)s) = %(hour)s
GROUP BY 1
ORDER BY 2 DESC, 1
"""


def heatmap_members(
    location: Location,
    start: dt.date,
    end: dt.date,
    weekday: int,
    hour: int,
    *,
    zone_id: int | None = None,
) -> list[tuple[int, int]]:
    """The members behind a heatmap cell: ``(member, entries)`` for the entries at
    ``location`` (a zone of it) from ``start`` to ``end`` on ISO ``weekday`` (1 = Monday)
    at ``hour``, in the location's zone, most entries first.  Two queries."""
    tz = ZoneInfo(location.time_zone)
    zones = Zone.objects.filter(location=location)
    if zone_id:
        zones = zones.filter(pk=zone_id)
    with connection.cursor() as cursor:
        cursor.execute(
            _HEATMAP_MEMBERS,
            {
                "tz": location.time_zone,
                "granted": Decision.GRANTED,
                "in": Direction.IN,
                "start": dt.datetime.combine(start, dt.time.min, tzinfo=tz),
                "end": dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
                "zones": list(zones.values_list("pk", flat=True)),
                "weekday": weekday,
                "hour": hour,
            },
        )
        return [(member, count) for member, count in cursor.fetchall()]
