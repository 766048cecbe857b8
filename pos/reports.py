"""The point of sale for the owner's reports: sales by category and product, takings by
tender, stock at or below its reorder level (``docs/reports.md``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, Sum

from config import clock

from .models import (
    LineKind,
    SaleLine,
    SaleRefundLine,
    SaleStatus,
    Tender,
    TenderStatus,
)
from .selectors import stock_levels

SOLD_LINES = (LineKind.PRODUCT, LineKind.PACK, LineKind.GENERAL)


@dataclass(frozen=True)
class SalesRow:
    category: str
    product: str
    quantity: int
    net: int  # net of VAT, refunds made in the range taken off


def _window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return clock.local_midnight(start), clock.local_midnight(end + dt.timedelta(days=1))


def _at(location_id: int | None, path: str) -> Q:
    return Q(**{path: location_id}) if location_id else Q()


def sales_by_product(
    start: dt.date, end: dt.date, *, location_id: int | None = None
) -> list[SalesRow]:
    """Goods, packs and general items sold in completed sales from ``start`` to ``end``
    (both included), less refunds made in the range, by category and product.  Two
    queries."""
    since, until = _window(start, end)
    sold = (
        SaleLine.objects.filter(
            sale__status=SaleStatus.COMPLETED,
            sale__completed_at__gte=since,
            sale__completed_at__lt=until,
            sale__currency=settings.GYM_CURRENCY,
            kind__in=SOLD_LINES,
        )
        .filter(_at(location_id, "sale__till__station__location_id"))
        .values("category", "description")
        .annotate(quantity=Sum("quantity"), net=Sum("net_amount"))
    )
    refunded = (
        SaleRefundLine.objects.filter(
            refund__created_at__gte=since,
            refund__created_at__lt=until,
            line__kind__in=SOLD_LINES,
            line__sale__currency=settings.GYM_CURRENCY,
        )
        .filter(_at(location_id, "refund__sale__till__station__location_id"))
        .values(category=F("line__category"), description=F("line__description"))
        .annotate(quantity=Sum("quantity"), net=Sum(F("amount") - F("tax_amount")))
    )
    totals: dict[tuple[str, str], list[int]] = {}
    for sign, rows in ((1, sold), (-1, refunded)):
        for row in rows:
            entry = totals.setdefault((row["category"] or "", row["description"]), [0, 0])
            entry[0] += sign * int(row["quantity"] or 0)
            entry[1] += sign * int(row["net"] or 0)
    return sorted(
        (SalesRow(cat, product, qty, net) for (cat, product), (qty, net) in totals.items()),
        key=lambda r: (r.category, -r.net, r.product),
    )


def sales_by_category(rows: list[SalesRow]) -> list[SalesRow]:
    """:func:`sales_by_product` added up by category."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        entry = totals.setdefault(row.category, [0, 0])
        entry[0] += row.quantity
        entry[1] += row.net
    return sorted(
        (SalesRow(cat, "", qty, net) for cat, (qty, net) in totals.items()),
        key=lambda r: -r.net,
    )


def takings_by_tender(
    start: dt.date, end: dt.date, *, location_id: int | None = None
) -> list[dict[str, Any]]:
    """Money received by the tills from ``start`` to ``end`` by tender, VAT included (the
    money in the till).  One query."""
    since, until = _window(start, end)
    rows = (
        Tender.objects.filter(
            status=TenderStatus.SUCCEEDED,
            sale__status=SaleStatus.COMPLETED,
            sale__completed_at__gte=since,
            sale__completed_at__lt=until,
            sale__currency=settings.GYM_CURRENCY,
        )
        .filter(_at(location_id, "sale__till__station__location_id"))
        .values("kind")
        .annotate(count=Count("pk"), amount=Sum("amount"))
        .order_by("-amount")
    )
    return [
        {"kind": row["kind"], "count": row["count"], "amount": int(row["amount"] or 0)}
        for row in rows
    ]


def stock_to_reorder(location_id: int) -> list[dict[str, Any]]:
    """Tracked products on sale at or below their reorder level at the location."""
    return [row for row in stock_levels(location_id) if row["reorder"]]
