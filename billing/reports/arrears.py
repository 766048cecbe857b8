"""Arrears aging: what open invoices still ask for, by days past due (``docs/reports.md``).

Amounts are as invoiced, VAT included: a debt is what the member owes.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, cast

from django.conf import settings
from django.db.models import Case, F, IntegerField, Q, Sum, When
from django.db.models.functions import Greatest

from ..models import Invoice, InvoiceStatus

# (key, first day past due, last day past due or None)
BUCKETS = (
    ("current", None, 0),
    ("d1_30", 1, 30),
    ("d31_60", 31, 60),
    ("d61_90", 61, 90),
    ("d90_plus", 91, None),
)
BUCKET_KEYS = tuple(key for key, _, _ in BUCKETS)


@dataclass
class ArrearsRow:
    """One member's amounts due, per bucket (or the total row, ``member_id`` None)."""

    member_id: int | None
    name: str = ""
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKET_KEYS, 0))

    @property
    def total(self) -> int:
        return sum(self.buckets.values())


@dataclass
class Arrears:
    total: ArrearsRow
    members: list[ArrearsRow]  # largest debt first
    member_count: int


def _bucket_sums(today: dt.date) -> dict[str, Sum]:
    due = Greatest(F("total") - F("amount_paid") - F("amount_credited"), 0)
    sums = {}
    for key, first, last in BUCKETS:
        # Past due by d days: due_on <= today - d.
        condition = Q()
        if first is not None:
            condition &= Q(due_on__lte=today - dt.timedelta(days=first))
        if last is not None:
            condition &= Q(due_on__gt=today - dt.timedelta(days=last + 1))
        if first is None:
            condition = Q(due_on__isnull=True) | Q(due_on__gt=today - dt.timedelta(days=1))
        sums[key] = Sum(Case(When(condition, then=due), default=0, output_field=IntegerField()))
    return sums


def arrears_aging(today: dt.date, *, limit: int | None = 50) -> Arrears:
    """Aged arrears on ``today`` (gym-local): the total row and the members owing most
    (``limit`` of them; ``None`` for all, as the CSV export asks).  Two queries."""
    open_invoices = Invoice.objects.filter(
        status=InvoiceStatus.OPEN, currency=settings.GYM_CURRENCY
    ).filter(total__gt=F("amount_paid") + F("amount_credited"))
    sums = _bucket_sums(today)
    total_row = ArrearsRow(None)
    per_member = (
        open_invoices.values("member_id", "member__first_name", "member__last_name")
        .annotate(**sums)
        .annotate(owed=reduce(operator.add, (F(key) for key in BUCKET_KEYS)))
        .order_by("-owed", "member_id")
    )
    totals = open_invoices.aggregate(**sums)
    total_row.buckets = {key: int(totals[key] or 0) for key in BUCKET_KEYS}
    count = open_invoices.values("member_id").distinct().count()
    rows = per_member if limit is None else per_member[:limit]
    members = [
        ArrearsRow(
            row["member_id"],
            f"{row['member__first_name']} {row['member__last_name']}".strip(),
            {key: int(values.get(key) or 0) for key in BUCKET_KEYS},
        )
        for row in rows
        for values in [cast(dict[str, Any], row)]
    ]
    return Arrears(total=total_row, members=members, member_count=count)
