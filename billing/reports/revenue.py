"""Revenue by plan, add-on and pack: invoiced, net of VAT, in a date range."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Func, Sum, Value

from config import clock

from ..models import InvoiceLine, InvoiceStatus, LineKind

# A plan line reads "Plan name (1 Jan 2027 – 31 Jan 2027)": the plan is its name.
_PERIOD_SUFFIX = r" \([^()]*\)$"
GROUPS: dict[str, str] = {
    LineKind.PLAN: "plan",
    LineKind.PRORATION: "proration",
    LineKind.ADDON: "addon",
    LineKind.PACK: "pack",
    LineKind.DISCOUNT: "discount",
}

GROUP_ORDER = ("plan", "proration", "addon", "pack", "discount")


class _StripPeriod(Func):
    function = "REGEXP_REPLACE"


@dataclass(frozen=True)
class RevenueRow:
    group: str  # plan, addon, pack or discount
    name: str
    lines: int
    net: int


def revenue_by_product(start: dt.date, end: dt.date) -> list[RevenueRow]:
    """Net revenue of invoices issued from ``start`` to ``end`` (gym-local, both included),
    by plan, add-on, pack and discount, largest first.  One query."""
    rows = (
        InvoiceLine.objects.filter(
            invoice__issued_at__gte=clock.local_midnight(start),
            invoice__issued_at__lt=clock.local_midnight(end + dt.timedelta(days=1)),
            invoice__currency=settings.GYM_CURRENCY,
            kind__in=list(GROUPS),
        )
        .exclude(invoice__status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT])
        .annotate(name=_StripPeriod("description", Value(_PERIOD_SUFFIX), Value("")))
        .values("kind", "name")
        .annotate(lines=Count("pk"), net=Sum("net_amount"))
    )
    merged: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        group = GROUPS[row["kind"]]
        name = "" if group in ("discount", "proration") else row["name"]
        entry = merged.setdefault((group, name), [0, 0])
        entry[0] += row["lines"]
        entry[1] += int(row["net"] or 0)
    return sorted(
        (RevenueRow(group, name, lines, net) for (group, name), (lines, net) in merged.items()),
        key=lambda r: (GROUP_ORDER.index(r.group), -r.net, r.name),
    )
