"""Revenue by plan, add-on and pack: invoiced in a date range, net of VAT, less the credit
notes issued in it (``docs/reports.md``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Func, Sum, Value

from config import clock

from ..models import InvoiceLine, InvoiceStatus, LineKind
from ..money import divide_round

# A line written before lines named what they bill reads "Plan name (1 Jan 2027 – …)":
# for those only, the name is the description without its period.
_PERIOD_SUFFIX = r" \([^()]*\)$"
GROUPS: dict[str, str] = {
    LineKind.PLAN: "plan",
    LineKind.PRORATION: "proration",
    LineKind.ADDON: "addon",
    LineKind.PACK: "pack",
    LineKind.DISCOUNT: "discount",
}

GROUP_ORDER = ("plan", "proration", "addon", "pack", "discount")
_NOT_ISSUED = (InvoiceStatus.VOID, InvoiceStatus.DRAFT)


class _StripPeriod(Func):
    function = "REGEXP_REPLACE"


@dataclass(frozen=True)
class RevenueRow:
    group: str  # plan, proration, addon, pack or discount
    thing_id: int | None  # the plan, add-on or pack (None: a line that named none)
    name: str  # its name now (a renamed plan shows its new name)
    lines: int
    invoiced: int  # net of VAT
    credited: int  # the credit notes' share, net of VAT

    @property
    def net(self) -> int:
        return self.invoiced - self.credited


# Key of a row: (group, id of the plan/add-on/pack, fallback name for lines without one).
RowKey = tuple[str, int | None, str]


def _key(kind: str, plan: int | None, addon: int | None, pack: int | None, name: str) -> RowKey:
    group = GROUPS[kind]
    if group in ("discount", "proration"):
        return (group, None, "")
    thing = {"plan": plan, "addon": addon, "pack": pack}[group]
    return (group, thing, "" if thing is not None else name)


def _range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return clock.local_midnight(start), clock.local_midnight(end + dt.timedelta(days=1))


_CREDITED_LINES = """
SELECT n.id, n.amount - n.tax_amount, l.id, l.kind, l.plan_id, l.addon_id, l.pack_id,
       COALESCE(p.name, a.name, k.name, regexp_replace(l.description, %(suffix)s, '')),
       l.net_amount
FROM billing_creditnote n
JOIN billing_invoice i ON i.id = n.invoice_id
JOIN billing_invoiceline l ON l.invoice_id = i.id
LEFT JOIN billing_plan p ON p.id = l.plan_id
LEFT JOIN billing_addon a ON a.id = l.addon_id
LEFT JOIN billing_pack k ON k.id = l.pack_id
WHERE n.issued_at >= %(start)s AND n.issued_at < %(end)s AND n.currency = %(currency)s
  AND i.status <> ALL(%(not_issued)s)
ORDER BY n.id, l.id
"""


def credited_by_line(start: dt.date, end: dt.date) -> dict[RowKey, tuple[str, int]]:
    """Each credit note issued in the range, net of VAT, shared over its invoice's lines in
    proportion to their net amounts (each share rounded once, the remainder on the
    largest line, so the shares add up to the note to the satang); the shares that fall
    on plan, add-on, pack, proration and discount lines, by row.  One query."""
    first, after = _range(start, end)
    notes: dict[int, tuple[int, list[tuple[Any, ...]]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _CREDITED_LINES,
            {
                "start": first,
                "end": after,
                "currency": settings.GYM_CURRENCY,
                "not_issued": [str(s) for s in _NOT_ISSUED],
                "suffix": _PERIOD_SUFFIX,
            },
        )
        for note, credit, *line in cursor.fetchall():
            notes.setdefault(note, (credit, []))[1].append(tuple(line))
    shares: dict[RowKey, int] = defaultdict(int)
    names: dict[RowKey, str] = {}
    for credit, lines in notes.values():
        base = sum(line[-1] for line in lines)
        if not base:
            continue
        parts = [divide_round(credit * line[-1], base) for line in lines]
        largest = max(range(len(lines)), key=lambda i: (abs(lines[i][-1]), -i))
        parts[largest] += credit - sum(parts)
        for (_line, kind, plan, addon, pack, name, _net), part in zip(lines, parts, strict=True):
            if kind in GROUPS and part:
                key = _key(kind, plan, addon, pack, name)
                shares[key] += part
                names[key] = "" if key[0] in ("discount", "proration") else name
    return {key: (names[key], amount) for key, amount in shares.items()}


# Lines grouped by what they bill: the ids alone (a handful of groups the planner hashes),
# the names joined to the few groups afterwards.  Lines naming nothing are the second
# statement's, grouped by their description.
_BY_THING = """
SELECT g.kind, g.plan_id, p.name, g.addon_id, a.name, g.pack_id, k.name, g.lines, g.net
FROM (
    SELECT l.kind, l.plan_id, l.addon_id, l.pack_id, COUNT(*) AS lines,
           SUM(l.net_amount) AS net
    FROM billing_invoiceline l
    JOIN billing_invoice i ON i.id = l.invoice_id
    WHERE {where}
      AND NOT (l.kind = ANY(%(named)s)
               AND l.plan_id IS NULL AND l.addon_id IS NULL AND l.pack_id IS NULL)
    GROUP BY 1, 2, 3, 4
) g
LEFT JOIN billing_plan p ON p.id = g.plan_id
LEFT JOIN billing_addon a ON a.id = g.addon_id
LEFT JOIN billing_pack k ON k.id = g.pack_id
"""
_BY_DESCRIPTION = """
SELECT l.kind, regexp_replace(l.description, %(suffix)s, ''), COUNT(*), SUM(l.net_amount)
FROM billing_invoiceline l
JOIN billing_invoice i ON i.id = l.invoice_id
WHERE {where}
  AND l.kind = ANY(%(named)s)
  AND l.plan_id IS NULL AND l.addon_id IS NULL AND l.pack_id IS NULL
GROUP BY 1, 2
"""
_ISSUED_IN_RANGE = """i.issued_at >= %(start)s AND i.issued_at < %(end)s
      AND i.currency = %(currency)s AND i.status <> ALL(%(not_issued)s)
      AND l.kind = ANY(%(kinds)s)"""


def revenue_by_product(start: dt.date, end: dt.date) -> list[RevenueRow]:
    """Net revenue of invoices issued from ``start`` to ``end`` (gym-local, both included),
    less credit notes issued in the range, by plan, add-on and pack (by what was billed,
    under its name now), proration and discount, largest first.  Three queries."""
    first, after = _range(start, end)
    params = {
        "start": first,
        "end": after,
        "currency": settings.GYM_CURRENCY,
        "not_issued": [str(s) for s in _NOT_ISSUED],
        "kinds": [str(k) for k in GROUPS],
        "named": [str(LineKind.PLAN), str(LineKind.ADDON), str(LineKind.PACK)],
        "suffix": _PERIOD_SUFFIX,
    }
    merged: dict[RowKey, list[Any]] = {}

    def add(key: RowKey, name: str, lines: int, net: int) -> None:
        entry = merged.setdefault(key, [name, 0, 0])
        entry[1] += lines
        entry[2] += net

    with connection.cursor() as cursor:
        cursor.execute(_BY_THING.format(where=_ISSUED_IN_RANGE), params)
        for (
            kind,
            plan,
            plan_name,
            addon,
            addon_name,
            pack,
            pack_name,
            lines,
            net,
        ) in cursor.fetchall():
            key = _key(kind, plan, addon, pack, "")
            name = {"plan": plan_name, "addon": addon_name, "pack": pack_name}.get(key[0])
            add(key, name or "", lines, int(net or 0))
        cursor.execute(_BY_DESCRIPTION.format(where=_ISSUED_IN_RANGE), params)
        for kind, name, lines, net in cursor.fetchall():
            add(_key(kind, None, None, None, name), name, lines, int(net or 0))
    credited = credited_by_line(start, end)
    for key in credited.keys() - merged.keys():
        merged[key] = [credited[key][0], 0, 0]  # credited in the range, invoiced before it
    result = [
        RevenueRow(key[0], key[1], name, lines, net, credited.get(key, ("", 0))[1])
        for key, (name, lines, net) in merged.items()
    ]
    return sorted(result, key=lambda r: (GROUP_ORDER.index(r.group), -r.net, r.name))


def revenue_members(
    start: dt.date, end: dt.date, group: str, thing_id: int | None, name: str = ""
) -> list[tuple[int, int, int]]:
    """The members behind a row of :func:`revenue_by_product`: ``(member, lines, net of
    VAT)`` of the invoice lines issued to them in the range, largest first.  One query."""
    first, after = _range(start, end)
    kinds = [kind for kind, g in GROUPS.items() if g == group]
    lines = InvoiceLine.objects.filter(
        invoice__issued_at__gte=first,
        invoice__issued_at__lt=after,
        invoice__currency=settings.GYM_CURRENCY,
        kind__in=kinds,
    ).exclude(invoice__status__in=_NOT_ISSUED)
    if group in ("plan", "addon", "pack"):
        if thing_id is not None:
            lines = lines.filter(**{f"{group}_id": thing_id})
        else:
            lines = lines.filter(plan__isnull=True, addon__isnull=True, pack__isnull=True)
            lines = lines.annotate(
                name=_StripPeriod("description", Value(_PERIOD_SUFFIX), Value(""))
            ).filter(name=name)
    rows = (
        lines.values("invoice__member_id")
        .annotate(lines=Count("pk"), net=Sum("net_amount"))
        .order_by("-net", "invoice__member_id")
    )
    return [(r["invoice__member_id"], r["lines"], int(r["net"] or 0)) for r in rows]
