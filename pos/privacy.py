"""What the till holds about a member, for the privacy registry (``members.privacy``).

A sale is a tax document (its buyer's name, address and tax ID for a full tax invoice):
kept unchanged for the legal retention period, then the buyer is anonymised."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy

from members.privacy.registry import ModelPolicy, RowsFor, register

from .models import (
    RefundPayout,
    Sale,
    SaleLine,
    SaleRefund,
    SaleRefundLine,
    StockMovement,
    Tender,
)

SALE_KEPT = gettext_lazy(
    "A sale at the till is a money and tax record: kept unchanged for the legal retention "
    "period (Revenue Code, 5 years)."
)


def anonymise_sale_buyers(cutoff: dt.datetime) -> int:
    return (
        Sale.objects.filter(member__erased_at__isnull=False, created_at__lt=cutoff)
        .exclude(buyer_name="", buyer_address="", buyer_tax_id="", buyer_branch="")
        .update(buyer_name="", buyer_address="", buyer_tax_id="", buyer_branch="")
    )


def register_pos() -> None:
    register(
        ModelPolicy(
            "pos.Sale",
            rows=lambda m: Sale.objects.filter(member=m),
            retained=SALE_KEPT,
            after_retention=anonymise_sale_buyers,
        )
    )
    entries1: list[tuple[str, RowsFor]] = [
        ("pos.SaleLine", lambda m: SaleLine.objects.filter(sale__member=m)),
        ("pos.Tender", lambda m: Tender.objects.filter(sale__member=m)),
        ("pos.SaleRefund", lambda m: SaleRefund.objects.filter(sale__member=m)),
        ("pos.SaleRefundLine", lambda m: SaleRefundLine.objects.filter(refund__sale__member=m)),
        ("pos.RefundPayout", lambda m: RefundPayout.objects.filter(refund__sale__member=m)),
        (
            "pos.StockMovement",
            lambda m: StockMovement.objects.filter(sale_line__sale__member=m),
        ),
    ]
    for label, rows in entries1:
        register(ModelPolicy(label, rows=rows, retained=SALE_KEPT))
