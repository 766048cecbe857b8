"""Reads: the X and Z report of a till, stock levels, open tills and today's takings.

A report is a handful of grouped sums over the till's rows (no per-sale Python), so a
till with a year of sales reports in well under a second.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from config import clock

from .models import (
    CashMovement,
    CashMovementKind,
    Product,
    RefundPayout,
    Sale,
    SaleKind,
    SaleLine,
    SaleRefund,
    SaleStatus,
    StockLevel,
    Tender,
    TenderKind,
    TenderStatus,
    TillSession,
    TillStatus,
)

# Thai baht notes and coins, in satang: what a count may list.
DENOMINATIONS = (100_000, 50_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100, 50, 25)


def count_total(count: dict[str, int]) -> int:
    return sum(int(value) * int(number) for value, number in count.items())


def _sum(queryset: QuerySet[Any], field: str) -> int:
    return int(queryset.aggregate(s=Sum(field))["s"] or 0)


def till_report(till: TillSession) -> dict[str, Any]:
    """The till's figures now (an X report; frozen at close as the Z report).

    Every amount is in minor units of ``currency``.  ``sales.total`` equals the sum of
    ``tenders`` to the satang; ``cash.expected`` is the float plus cash taken, plus cash
    in, less cash out and cash paid back on refunds.
    """
    # One pass over the till's sales, grouped by status and kind.
    totals = {"count": 0, "total": 0, "net": 0, "tax": 0, "discounts": 0, "change": 0}
    by_kind: dict[str, dict[str, int]] = {}
    voided = {"count": 0, "total": 0}
    pending = 0
    for row in (
        Sale.objects.filter(till=till)
        .values("status", "kind")
        .annotate(
            count=Count("id"),
            total=Sum("total"),
            net=Sum("subtotal"),
            tax=Sum("tax_total"),
            discounts=Sum("discount_total"),
            change=Sum("change_given"),
        )
        .order_by()
    ):
        if row["status"] == SaleStatus.VOIDED:
            voided["count"] += row["count"]
            voided["total"] += int(row["total"] or 0)
        elif row["status"] == SaleStatus.PENDING:
            pending += row["count"]
        else:
            found: dict[str, Any] = dict(row)
            for key in totals:
                totals[key] += int(found[key] or 0)
            by_kind[row["kind"]] = {"count": row["count"], "total": int(row["total"] or 0)}
    tenders = {
        row["kind"]: {"count": row["count"], "amount": int(row["amount"] or 0)}
        for row in Tender.objects.filter(
            sale__till=till, sale__status=SaleStatus.COMPLETED, status=TenderStatus.SUCCEEDED
        )
        .values("kind")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("kind")
    }
    # One pass over the lines sold, by tax rate and category; folded both ways here.
    rates: dict[int, dict[str, int]] = {}
    categories: dict[str, dict[str, Any]] = {}
    for line in (
        SaleLine.objects.filter(
            sale__till=till, sale__status=SaleStatus.COMPLETED, sale__kind=SaleKind.SALE
        )
        .values("tax_rate_bp", "category")
        .annotate(
            net=Sum("net_amount"),
            tax=Sum("tax_amount"),
            gross=Sum("amount"),
            quantity=Sum("quantity"),
        )
        .order_by()
    ):
        rate = rates.setdefault(
            line["tax_rate_bp"], {"rate_bp": line["tax_rate_bp"], "net": 0, "tax": 0, "gross": 0}
        )
        rate["net"] += int(line["net"] or 0)
        rate["tax"] += int(line["tax"] or 0)
        rate["gross"] += int(line["gross"] or 0)
        category = categories.setdefault(
            line["category"], {"category": line["category"], "quantity": 0, "amount": 0}
        )
        category["quantity"] += int(line["quantity"] or 0)
        category["amount"] += int(line["gross"] or 0)
    by_rate = [rates[key] for key in sorted(rates)]
    by_category = [categories[key] for key in sorted(categories)]
    refunds = SaleRefund.objects.filter(till=till)
    refund_totals = refunds.aggregate(
        count=Count("id"), amount=Sum("amount"), tax=Sum("tax_amount")
    )
    payouts = {
        row["kind"]: int(row["amount"] or 0)
        for row in RefundPayout.objects.filter(refund__till=till)
        .values("kind")
        .annotate(amount=Sum("amount"))
    }
    movements = CashMovement.objects.filter(till=till)
    cash_in = _sum(movements.filter(kind=CashMovementKind.IN), "amount")
    cash_out = _sum(movements.filter(kind=CashMovementKind.OUT), "amount")
    cash_taken = tenders.get(TenderKind.CASH, {}).get("amount", 0)
    expected = till.opening_float + cash_taken + cash_in - cash_out - payouts.get("cash", 0)
    return {
        "till": till.pk,
        "station": till.station.name,
        "currency": till.currency,
        "opened_at": till.opened_at.isoformat() if till.opened_at else None,
        "at": clock.now().isoformat(),
        "sales": {
            "count": totals["count"],
            "total": totals["total"],
            "net": totals["net"],
            "tax": totals["tax"],
            "discounts": totals["discounts"],
            "pending": pending,
            "by_kind": by_kind,
        },
        "voids": voided,
        "tenders": tenders,
        "tax_rates": by_rate,
        "categories": by_category,
        "refunds": {
            "count": refund_totals["count"] or 0,
            "amount": int(refund_totals["amount"] or 0),
            "tax": int(refund_totals["tax"] or 0),
            "paid_back": payouts,
        },
        "cash": {
            "opening_float": till.opening_float,
            "taken": cash_taken,
            "change_given": totals["change"],
            "cash_in": cash_in,
            "cash_out": cash_out,
            "refunded": payouts.get("cash", 0),
            "expected": expected,
            "counted": till.counted_cash,
            "difference": till.difference,
        },
    }


def till_live(station_id: int) -> TillSession | None:
    return (
        TillSession.objects.filter(station_id=station_id)
        .exclude(status=TillStatus.CLOSED)
        .select_related("station")
        .first()
    )


def tills_open() -> QuerySet[TillSession]:
    return (
        TillSession.objects.exclude(status=TillStatus.CLOSED)
        .select_related("station", "opened_by")
        .order_by("station__name")
    )


def takings_between(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Money taken by the tills in ``[start, end)``, by currency (completed sales)."""
    return {
        row["currency"]: int(row["total"] or 0)
        for row in Sale.objects.filter(
            status=SaleStatus.COMPLETED, completed_at__gte=start, completed_at__lt=end
        )
        .values("currency")
        .annotate(total=Sum("total"))
    }


def stock_levels(location_id: int, *, active_only: bool = True) -> list[dict[str, Any]]:
    """Every tracked product's level at a location, with whether it is at or below its
    reorder level; products never moved there read 0."""
    products = Product.objects.filter(track_stock=True)
    if active_only:
        products = products.filter(is_active=True)
    levels = dict(
        StockLevel.objects.filter(location_id=location_id).values_list("product_id", "quantity")
    )
    rows = []
    for pk, sku, name, reorder in products.order_by("name").values_list(
        "pk", "sku", "name", "reorder_level"
    ):
        quantity = levels.get(pk, 0)
        rows.append(
            {
                "product": pk,
                "sku": sku,
                "name": name,
                "quantity": quantity,
                "reorder_level": reorder,
                "reorder": quantity <= reorder,
            }
        )
    return rows


def product_by_code(code: str) -> Product | None:
    """A product on sale by its barcode or SKU (what a scanner or the desk typed)."""
    code = code.strip()
    if not code:
        return None
    return (
        Product.objects.filter(is_active=True)
        .filter(Q(barcode=code) | Q(sku__iexact=code))
        .select_related("category")
        .first()
    )
