"""Refunds: a manager gives back a sale or some of its lines.

Each refund is a credit note numbered in billing's credit-note series.  The sale's row
is locked while it is written, and a line never gives back more than it sold (a
database constraint too), so refunds never exceed what was paid.  Stock comes back;
a pack refunded is emptied.  The money goes back by the tenders that paid (cash from the
till doing the refund, the card through the gateway, a terminal's reference, the
member's account) or, as the manager chooses, as credit on the member's account.
A PromptPay payment cannot be pushed back: its share is paid in cash from the till.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Sum

from billing.models import LedgerKind
from billing.money import divide_round
from billing.services.cards import card_refund
from billing.services.invoices import allocate_numbers, invoice_series, ledger_post
from billing.services.packs import pack_revoke
from config import clock

from ..errors import ManagerNeeded, RefundRefused
from ..models import (
    RefundDestination,
    RefundPayout,
    Sale,
    SaleKind,
    SaleRefund,
    SaleRefundLine,
    SaleStatus,
    Tender,
    TenderKind,
    TenderStatus,
    TillSession,
    TillStatus,
)
from .stock import stock_return
from .tills import locked_till

logger = logging.getLogger(__name__)

# Which tenders are paid back first (the ones that cannot go back as cash last).
PAYBACK_ORDER = [
    TenderKind.ACCOUNT,
    TenderKind.CARD,
    TenderKind.TERMINAL,
    TenderKind.PROMPTPAY,
    TenderKind.CASH,
]


def sale_refund(
    sale: Sale,
    *,
    till: TillSession,
    user: Any,
    reason: str,
    quantities: Mapping[int, int] | None = None,
    destination: str = RefundDestination.ORIGINAL,
) -> SaleRefund:
    """Refund ``quantities`` (line id → how many; ``None``: everything not yet refunded)."""
    if user is None or not user.has_perm("pos.refund_sale"):
        raise ManagerNeeded(reason="refund")
    reason = "".join(ch for ch in reason if ch.isprintable()).strip()[:200]
    if not reason:
        raise RefundRefused(reason="reason_required")
    if destination not in RefundDestination.values:
        raise RefundRefused(reason="nothing")
    with transaction.atomic():
        locked_till_row = locked_till(till, TillStatus.OPEN)
        locked = Sale.objects.select_for_update().get(pk=sale.pk)
        if locked.status != SaleStatus.COMPLETED:
            raise RefundRefused(reason="not_completed")
        if locked.kind != SaleKind.SALE:
            raise RefundRefused(reason="not_refundable")
        if destination == RefundDestination.ACCOUNT and locked.member is None:
            raise RefundRefused(reason="no_member_for_credit")
        refund = _write(locked, locked_till_row, user, reason, quantities, destination)
        payouts = _pay_back(refund, locked, destination, user)
    for payout in payouts:
        if payout.kind == TenderKind.CARD:
            _send_card_refund(payout)
    return refund


def _write(
    sale: Sale,
    till: TillSession,
    user: Any,
    reason: str,
    quantities: Mapping[int, int] | None,
    destination: str,
) -> SaleRefund:
    lines = {line.pk: line for line in sale.lines.select_for_update()}
    wanted = (
        {pk: line.quantity - line.refunded_quantity for pk, line in lines.items()}
        if quantities is None
        else dict(quantities)
    )
    wanted = {pk: qty for pk, qty in wanted.items() if qty}
    if not wanted:
        raise RefundRefused(reason="nothing")
    refund = SaleRefund(
        number=allocate_numbers(invoice_series(clock.today(), "CN"), 1)[0],
        sale=sale,
        till=till,
        amount=0,
        tax_amount=0,
        destination=destination,
        reason=reason,
        created_by=user,
        created_at=clock.now(),
    )
    rows: list[SaleRefundLine] = []
    location = till.station.location
    for pk, quantity in wanted.items():
        line = lines.get(pk)
        if (
            line is None
            or not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or quantity < 0
            or quantity > line.quantity - line.refunded_quantity
        ):
            raise RefundRefused(reason="more_than_sold")
        given = line.refund_lines.aggregate(a=Sum("amount"), t=Sum("tax_amount"))
        if quantity == line.quantity - line.refunded_quantity:
            # The last of the line: exactly what is left of it, so the sum is the line.
            amount = line.amount - int(given["a"] or 0)
            tax = line.tax_amount - int(given["t"] or 0)
        else:
            amount = divide_round(line.amount * quantity, line.quantity)
            tax = divide_round(line.tax_amount * quantity, line.quantity)
        rows.append(SaleRefundLine(line=line, quantity=quantity, amount=amount, tax_amount=tax))
        refund.amount += amount
        refund.tax_amount += tax
        line.refunded_quantity += quantity
        line.save(update_fields=["refunded_quantity"])
        stock_return(line, location, quantity, user=user, reason=f"Refund: {reason}")
        if line.pack_purchase_id and line.refunded_quantity == line.quantity:
            pack_revoke(line.pack_purchase_id)
    already = int(sale.refunds.aggregate(s=Sum("amount"))["s"] or 0)
    if refund.amount <= 0 or already + refund.amount > sale.total:
        raise RefundRefused(reason="more_than_sold")
    refund.save()
    for row in rows:
        row.refund = refund
    SaleRefundLine.objects.bulk_create(rows)
    return refund


def _paid_back(tender: Tender) -> int:
    return int(RefundPayout.objects.filter(tender=tender).aggregate(s=Sum("amount"))["s"] or 0)


def _pay_back(refund: SaleRefund, sale: Sale, destination: str, user: Any) -> list[RefundPayout]:
    if destination == RefundDestination.ACCOUNT:
        assert sale.member is not None
        ledger_post(
            sale.member,
            kind=LedgerKind.CREDIT,
            amount=refund.amount,
            currency=sale.currency,
            description=f"Refund {refund.number} of {sale.number}",
            reference=f"pos:refund:{refund.pk}",
            user=user,
        )
        return [
            RefundPayout.objects.create(
                refund=refund, kind=TenderKind.ACCOUNT, amount=refund.amount
            )
        ]
    tenders = sorted(
        sale.tenders.filter(status=TenderStatus.SUCCEEDED),
        key=lambda t: PAYBACK_ORDER.index(TenderKind(t.kind)),
    )
    left = refund.amount
    payouts = []
    for tender in tenders:
        if left <= 0:
            break
        share = min(left, tender.amount - _paid_back(tender))
        if share <= 0:
            continue
        left -= share
        kind = TenderKind.CASH if tender.kind == TenderKind.PROMPTPAY else tender.kind
        payout = RefundPayout.objects.create(refund=refund, kind=kind, amount=share, tender=tender)
        if tender.kind == TenderKind.ACCOUNT and sale.member is not None:
            ledger_post(
                sale.member,
                kind=LedgerKind.CREDIT,
                amount=share,
                currency=sale.currency,
                description=f"Refund {refund.number} of {sale.number}",
                reference=f"pos:payout:{payout.pk}",
                user=user,
            )
        payouts.append(payout)
    if left > 0:
        raise RefundRefused(reason="more_than_sold")
    return payouts


def _send_card_refund(payout: RefundPayout) -> None:
    tender = payout.tender
    assert tender is not None
    result = card_refund(
        gateway=tender.gateway,
        gateway_reference=tender.reference,
        amount=payout.amount,
        currency=payout.refund.sale.currency,
        idempotency_key=f"pos-payout-{payout.pk}",
    )
    reference = result.gateway_reference if result.succeeded else f"failed: {result.message}"
    RefundPayout.objects.filter(pk=payout.pk).update(reference=reference[:120])
    if not result.succeeded:
        logger.warning("Card refund for payout %s failed: %s", payout.pk, result.message)
