"""Cohort retention in members and in MRR, by the month of each member's first membership."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from .rates import Rate

# One pass over the snapshots of the cohorts' months.
_COHORTS = """
WITH firsts AS (
    SELECT member_id, date_trunc('month', MIN(started_on))::date AS cohort
    FROM billing_membership
    WHERE currency = %(currency)s
    GROUP BY member_id
    HAVING date_trunc('month', MIN(started_on))::date BETWEEN %(first)s AND %(last)s
)
SELECT f.cohort, s.month, COUNT(DISTINCT s.member_id), COALESCE(SUM(s.mrr), 0)
FROM billing_mrrsnapshot s
JOIN firsts f ON f.member_id = s.member_id
WHERE s.month >= f.cohort AND s.month >= %(first)s
GROUP BY f.cohort, s.month
"""
_SIZES = """
SELECT f.cohort, COUNT(*) FROM (
    SELECT member_id, date_trunc('month', MIN(started_on))::date AS cohort
    FROM billing_membership
    WHERE currency = %(currency)s
    GROUP BY member_id
) f
WHERE f.cohort BETWEEN %(first)s AND %(last)s
  AND EXISTS (SELECT 1 FROM billing_mrrsnapshot s WHERE s.member_id = f.member_id)
GROUP BY f.cohort
"""


def _months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


@dataclass
class Cohort:
    month: dt.date
    size: int
    members: list[int]  # subscribers at the end of month 0, 1, 2 … since joining
    mrr: list[int]

    @property
    def member_retention(self) -> list[Rate]:
        return [Rate(count, self.size) for count in self.members]

    @property
    def mrr_retention(self) -> list[Rate]:
        base = self.mrr[0] if self.mrr else 0
        return [Rate(amount, base) for amount in self.mrr]


def cohorts(first: dt.date, last: dt.date) -> list[Cohort]:
    """The cohorts that joined from month ``first`` to month ``last`` (first days), each
    followed through the closed months written so far.  Two queries."""
    params = {"currency": settings.GYM_CURRENCY, "first": first, "last": last}
    with connection.cursor() as cursor:
        cursor.execute(_SIZES, params)
        sizes = dict(cursor.fetchall())
        cursor.execute(_COHORTS, params)
        cells = cursor.fetchall()
    latest = max((month for _, month, _, _ in cells), default=None)
    result = {
        month: Cohort(
            month,
            size,
            [0] * (_months_between(month, latest) + 1 if latest and latest >= month else 0),
            [0] * (_months_between(month, latest) + 1 if latest and latest >= month else 0),
        )
        for month, size in sizes.items()
    }
    for cohort_month, month, count, mrr in cells:
        cohort = result.get(cohort_month)
        if cohort is None:
            continue
        index = _months_between(cohort_month, month)
        cohort.members[index] = count
        cohort.mrr[index] = int(mrr)
    return [result[month] for month in sorted(result)]


_COHORT_MEMBERS = """
WITH firsts AS (
    SELECT member_id FROM billing_membership
    WHERE currency = %(currency)s
    GROUP BY member_id
    HAVING date_trunc('month', MIN(started_on))::date = %(cohort)s
)
SELECT f.member_id, COALESCE(SUM(s.mrr), 0)
FROM firsts f
JOIN billing_mrrsnapshot s ON s.member_id = f.member_id AND {month}
GROUP BY f.member_id
ORDER BY f.member_id
"""


def cohort_members(cohort: dt.date, month: dt.date | None = None) -> list[tuple[int, int]]:
    """The members behind a cohort's figures: ``(member, MRR)`` for the cohort that joined
    in month ``cohort`` who were subscribers at the end of ``month`` (its MRR then), or,
    without ``month``, every member the cohort counts (subscribers at some month's end;
    their MRR at the end of the joining month).  One query."""
    condition = "s.month = %(month)s" if month else "s.month >= %(cohort)s"
    sql = _COHORT_MEMBERS.format(month=condition)
    if month is None:
        # Every member counted, with the joining month's MRR (0 for one who joined later
        # in their first month's snapshot).
        sql = sql.replace(
            "COALESCE(SUM(s.mrr), 0)", "COALESCE(SUM(s.mrr) FILTER (WHERE s.month = %(cohort)s), 0)"
        )
    params = {"currency": settings.GYM_CURRENCY, "cohort": cohort, "month": month}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(member, int(mrr)) for member, mrr in cursor.fetchall()]
