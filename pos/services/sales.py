"""Sales at the till: products, packs and passes, general items, paying what is owed, and
deposits; paid by cash, a card, PromptPay or the member's account, split as they like.

Submitting is idempotent.  The client sends a key with each submission; the first
submission writes the sale under that key (the till's row is locked while it does), and
any later one with the same key gets that sale back (a double click, a retry, a lost
reply) without selling or charging again.  A card is charged after the sale is committed,
with a key derived from the tender, so a retry asks the gateway again with the same key
and money moves once.

Numbers are gap-free: a sale is numbered when it completes, inside the transaction that
completes it, from the billing invoice series (a tax invoice) or, for a payment of what
is owed and a deposit, from the receipt series.  See docs/pos.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from billing.errors import PaymentNotAllowed
from billing.gateways.interface import ChargeStatus
from billing.models import (
    Invoice,
    InvoiceStatus,
    LedgerKind,
    Pack,
    PaymentMethod,
    PaymentSource,
    PromptPayChannel,
    PromptPayRequest,
    PromptPayStatus,
)
from billing.money import percent_of, split_tax
from billing.promptpay import conf as promptpay_conf
from billing.selectors import account_charges_blocked
from billing.services.cards import card_charge
from billing.services.invoices import (
    allocate_numbers,
    invoice_series,
    ledger_post,
    payment_record,
    seller_tax_id,
)
from billing.services.packs import pack_grant
from billing.services.payments import default_payment_method
from billing.services.promptpay import promptpay_request_cancel, promptpay_request_create
from billing.summaries import member_invoices_open
from config import clock
from members.models import Member

from ..errors import ManagerNeeded, SaleRefused
from ..models import (
    LineKind,
    Product,
    Sale,
    SaleKind,
    SaleLine,
    SaleStatus,
    TaxDocument,
    Tender,
    TenderKind,
    TenderStatus,
    TillSession,
    TillStatus,
)
from .stock import stock_return, stock_take_for_sale
from .tills import locked_till

logger = logging.getLogger(__name__)

MAX_QUANTITY = 999
MAX_AMOUNT = 100_000_000  # ฿1,000,000.00 a line or a tender
RECEIPT_SERIES = "RC"
# Tenders that settle at once; the others wait for a gateway or the bank.
IMMEDIATE = {TenderKind.CASH, TenderKind.TERMINAL, TenderKind.ACCOUNT}
PAYMENT_SOURCE = {
    TenderKind.CASH: PaymentSource.CASH,
    TenderKind.CARD: PaymentSource.CARD,
    TenderKind.TERMINAL: PaymentSource.CARD,
    TenderKind.PROMPTPAY: PaymentSource.PROMPTPAY,
}


@dataclass(frozen=True)
class LineIn:
    """One line as the till sends it."""

    kind: str = LineKind.PRODUCT
    product_id: int | None = None
    pack_id: int | None = None
    quantity: int = 1
    unit_price: int | None = None  # general items only
    description: str = ""  # general items only
    reason: str = ""  # general items: why; discounts: why
    discount: int = 0


@dataclass(frozen=True)
class TenderIn:
    kind: str
    amount: int  # what it pays toward the sale
    tendered: int | None = None  # cash handed over (>= amount; the rest is change)
    reference: str = ""  # a card terminal's reference


@dataclass(frozen=True)
class Buyer:
    """A full tax invoice's buyer (ใบกำกับภาษีเต็มรูป)."""

    name: str
    address: str
    tax_id: str = ""
    branch: str = ""


@dataclass
class _Priced:
    line: SaleLine
    gross: int  # before discount, tax included


@dataclass
class _Order:
    kind: str
    lines: list[SaleLine] = field(default_factory=list)
    gross: int = 0


def _clean_text(value: Any, limit: int) -> str:
    text = "".join(ch for ch in str(value or "") if ch.isprintable()).strip()
    return text[:limit]


def _check_int(value: Any, low: int, high: int, reason: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SaleRefused(reason=reason)
    return value


def _fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _staff(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


# --- pricing -----------------------------------------------------------------------------


def _price(line: SaleLine, inclusive: bool) -> None:
    """Work out the line's amount, net and tax from its price, quantity and discount."""
    base = line.unit_price * line.quantity
    if line.discount > base:
        raise SaleRefused(reason="discount_too_large")
    if inclusive:
        line.amount = base - line.discount
        line.net_amount, line.tax_amount = split_tax(line.amount, line.tax_rate_bp, inclusive=True)
    else:
        line.net_amount, line.tax_amount = split_tax(
            base - line.discount, line.tax_rate_bp, inclusive=False
        )
        line.amount = line.net_amount + line.tax_amount
    line.prices_include_tax = inclusive


def _line_from(spec: LineIn, member: Member | None, currency: str, language: str) -> SaleLine:
    quantity = _check_int(spec.quantity, 1, MAX_QUANTITY, "bad_quantity")
    discount = _check_int(spec.discount or 0, 0, MAX_AMOUNT, "bad_amount")
    reason = _clean_text(spec.reason, 200)
    if discount and not reason:
        raise SaleRefused(reason="reason_required")
    line = SaleLine(kind=spec.kind, quantity=quantity, discount=discount, reason=reason)
    if spec.kind == LineKind.PRODUCT:
        product = (
            Product.objects.select_related("category").filter(pk=spec.product_id).first()
            if isinstance(spec.product_id, int)
            else None
        )
        if product is None or not product.is_active:
            raise SaleRefused(reason="product_inactive")
        if product.currency != currency:
            raise SaleRefused(reason="mixed_currency")
        line.product = product
        line.description = product.display_name(language)[:200]
        line.category = product.category.name[:80]
        line.unit_price = product.price
        line.tax_rate_bp = product.tax_rate_bp
        _price(line, product.prices_include_tax)
    elif spec.kind == LineKind.PACK:
        pack = (
            Pack.objects.filter(pk=spec.pack_id).first() if isinstance(spec.pack_id, int) else None
        )
        if pack is None or not pack.is_active:
            raise SaleRefused(reason="pack_inactive")
        if member is None:
            raise SaleRefused(reason="member_required")
        if pack.currency != currency:
            raise SaleRefused(reason="mixed_currency")
        if quantity != 1:
            raise SaleRefused(reason="bad_quantity")
        line.pack = pack
        line.description = pack.name[:200]
        line.category = str(pack.get_kind_display())[:80]
        line.unit_price = pack.price
        line.tax_rate_bp = pack.tax_rate_bp
        _price(line, True)
    elif spec.kind == LineKind.GENERAL:
        line.unit_price = _check_int(spec.unit_price, 1, MAX_AMOUNT, "bad_amount")
        line.description = _clean_text(spec.description, 200)
        if not line.description or not reason:
            raise SaleRefused(reason="reason_required")
        line.category = "General"
        line.tax_rate_bp = int(getattr(settings, "POS_GENERAL_TAX_RATE_BP", 700))
        _price(line, True)
    else:
        raise SaleRefused(reason="empty")
    return line


def _check_discounts(lines: Sequence[SaleLine], user: Any) -> Any:
    """Who approved the discounts: nobody needed below the threshold, else a manager."""
    discount = sum(line.discount for line in lines)
    if not discount:
        return None
    gross = sum(line.unit_price * line.quantity for line in lines)
    limit = percent_of(gross, int(getattr(settings, "POS_DISCOUNT_MANAGER_PERCENT_BP", 1000)))
    if discount <= limit:
        return None
    if user is None or not user.has_perm("pos.discount_sale"):
        raise ManagerNeeded(reason="discount")
    return user


# --- tenders -----------------------------------------------------------------------------


def _tenders_from(specs: Sequence[TenderIn], total: int, member: Member | None) -> list[Tender]:
    """The tenders, checked: they cover the total exactly, except cash, which may be more
    than it pays (the rest is change)."""
    if not specs:
        raise SaleRefused(reason="tenders_short")
    tenders: list[Tender] = []
    for spec in specs:
        if spec.kind not in TenderKind.values:
            raise SaleRefused(reason="bad_tender")
        amount = _check_int(spec.amount, 0, MAX_AMOUNT, "bad_amount")
        tender = Tender(kind=spec.kind, amount=amount)
        if spec.kind == TenderKind.CASH:
            tendered = amount if spec.tendered is None else spec.tendered
            tender.tendered = _check_int(tendered, amount, MAX_AMOUNT, "tenders_short")
            tender.change = tender.tendered - amount
        elif spec.kind == TenderKind.TERMINAL:
            tender.reference = _clean_text(spec.reference, 120)
            if not tender.reference:
                raise SaleRefused(reason="terminal_reference_required")
        elif spec.kind == TenderKind.CARD:
            method = default_payment_method(member.payer.pk) if member else None
            if method is None:
                raise SaleRefused(reason="no_card")
            tender.payment_method = method
            tender.gateway = method.gateway
        elif spec.kind == TenderKind.PROMPTPAY:
            if not promptpay_conf.available():
                raise SaleRefused(reason="promptpay_unavailable")
        elif spec.kind == TenderKind.ACCOUNT:
            if member is None:
                raise SaleRefused(reason="member_required")
            if account_charges_blocked(member.pk):
                raise SaleRefused(reason="account_blocked")
        if amount or spec.kind == TenderKind.CASH:
            tenders.append(tender)
    if sum(1 for t in tenders if t.kind == TenderKind.PROMPTPAY) > 1:
        raise SaleRefused(reason="one_promptpay")
    paid = sum(t.amount for t in tenders)
    if paid < total:
        raise SaleRefused(reason="tenders_short")
    if paid > total:
        raise SaleRefused(reason="tenders_over")
    return tenders


# --- submitting ----------------------------------------------------------------------------


def sale_submit(
    *,
    till: TillSession,
    user: Any,
    idempotency_key: str,
    lines: Sequence[LineIn] = (),
    tenders: Sequence[TenderIn] = (),
    member: Member | None = None,
    kind: str = SaleKind.SALE,
    invoice_ids: Sequence[int] = (),
    deposit: int = 0,
    buyer: Buyer | None = None,
    language: str = "en",
) -> Sale:
    """Sell, take what is owed (``kind="owing"``, ``invoice_ids``) or take a deposit
    (``kind="deposit"``, ``deposit``).  Returns the sale: completed, or pending while a
    card or a PromptPay QR is being paid, or voided if the card was declined.

    The same ``idempotency_key`` returns the sale it first made (and finishes charging it
    if a reply was lost); with a different request it is refused.
    """
    key = _clean_text(idempotency_key, 80)
    if not key:
        raise SaleRefused(reason="idempotency_key_required")
    fingerprint = _fingerprint(
        {
            "till": till.pk,
            "kind": kind,
            "member": member.pk if member else None,
            "lines": [asdict(line) for line in lines],
            "tenders": [asdict(tender) for tender in tenders],
            "invoices": sorted(invoice_ids),
            "deposit": deposit,
            "buyer": asdict(buyer) if buyer else None,
        }
    )
    existing = Sale.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            sale = _write(
                till=till,
                user=user,
                key=key,
                fingerprint=fingerprint,
                lines=lines,
                tenders=tenders,
                member=member,
                kind=kind,
                invoice_ids=invoice_ids,
                deposit=deposit,
                buyer=buyer,
                language=language,
            )
    except IntegrityError:
        twin = Sale.objects.filter(idempotency_key=key).first()
        if twin is None:
            raise
        return _replay(twin, fingerprint)
    return _settle_waiting(sale)


def _replay(sale: Sale, fingerprint: str) -> Sale:
    if sale.request_hash != fingerprint:
        raise SaleRefused(reason="idempotency_key_reused")
    return _settle_waiting(sale)


def _order(
    kind: str,
    lines: Sequence[LineIn],
    member: Member | None,
    currency: str,
    invoice_ids: Sequence[int],
    deposit: int,
    language: str,
) -> list[SaleLine]:
    if kind == SaleKind.SALE:
        if not lines:
            raise SaleRefused(reason="empty")
        return [_line_from(spec, member, currency, language) for spec in lines[:200]]
    if member is None:
        raise SaleRefused(reason="member_required")
    if kind == SaleKind.DEPOSIT:
        amount = _check_int(deposit, 1, MAX_AMOUNT, "bad_amount")
        return [
            SaleLine(
                kind=LineKind.DEPOSIT,
                description="Deposit to account",
                unit_price=amount,
                amount=amount,
                net_amount=amount,
                tax_amount=0,
                category="Deposit",
            )
        ]
    if kind == SaleKind.OWING:
        wanted = set(invoice_ids)
        invoices = [inv for inv in member_invoices_open(member) if not wanted or inv.pk in wanted]
        if wanted and len(invoices) != len(wanted):
            raise SaleRefused(reason="invoice_not_payable_here")
        invoices = [inv for inv in invoices if inv.amount_due > 0]
        if not invoices:
            raise SaleRefused(reason="nothing_owed")
        if any(inv.currency != currency for inv in invoices):
            raise SaleRefused(reason="mixed_currency")
        return [
            SaleLine(
                kind=LineKind.OWING,
                invoice=inv,
                description=f"{inv.number}"[:200],
                unit_price=inv.amount_due,
                amount=inv.amount_due,
                net_amount=inv.amount_due,
                tax_amount=0,
                category="Owing",
            )
            for inv in invoices
        ]
    raise SaleRefused(reason="empty")


def _write(
    *,
    till: TillSession,
    user: Any,
    key: str,
    fingerprint: str,
    lines: Sequence[LineIn],
    tenders: Sequence[TenderIn],
    member: Member | None,
    kind: str,
    invoice_ids: Sequence[int],
    deposit: int,
    buyer: Buyer | None,
    language: str,
) -> Sale:
    locked = locked_till(till, TillStatus.OPEN)
    if kind not in SaleKind.values:
        raise SaleRefused(reason="empty")
    priced = _order(kind, lines, member, locked.currency, invoice_ids, deposit, language)
    approver = _check_discounts(priced, user)
    total = sum(line.amount for line in priced)
    tender_rows = _tenders_from(tenders, total, member)
    if kind != SaleKind.SALE and any(t.kind == TenderKind.ACCOUNT for t in tender_rows):
        raise SaleRefused(reason="bad_tender")
    sale = Sale(
        kind=kind,
        till=locked,
        member=member,
        idempotency_key=key,
        request_hash=fingerprint,
        currency=locked.currency,
        subtotal=sum(line.net_amount for line in priced),
        tax_total=sum(line.tax_amount for line in priced),
        total=total,
        discount_total=sum(line.discount for line in priced),
        discount_approved_by=approver,
        change_given=sum(t.change for t in tender_rows),
        document=TaxDocument.RECEIPT if kind != SaleKind.SALE else TaxDocument.ABBREVIATED,
        created_by=user,
        created_at=clock.now(),
    )
    if buyer is not None and kind == SaleKind.SALE:
        _set_buyer(sale, buyer)
    sale.save()
    for line in priced:
        line.sale = sale
    SaleLine.objects.bulk_create(priced)
    location = locked.station.location
    for line in priced:
        stock_take_for_sale(line, location, user=user)
    for tender in tender_rows:
        tender.sale = sale
        if tender.kind in IMMEDIATE:
            tender.status = TenderStatus.SUCCEEDED
        tender.save()
        if tender.kind == TenderKind.ACCOUNT:
            assert member is not None
            tender.ledger_entry = ledger_post(
                member,
                kind=LedgerKind.ACCOUNT_CHARGE,
                amount=tender.amount,
                currency=sale.currency,
                description=f"Till sale {sale.pk}",
                reference=f"pos:tender:{tender.pk}",
                user=user,
            )
            tender.save(update_fields=["ledger_entry"])
    if all(t.status == TenderStatus.SUCCEEDED for t in tender_rows):
        _complete(sale)
    return sale


def _set_buyer(sale: Sale, buyer: Buyer) -> None:
    name = _clean_text(buyer.name, 200)
    address = _clean_text(buyer.address.replace("\n", ", "), 500)
    tax_id = "".join(ch for ch in buyer.tax_id if ch.isdigit())
    if not name or not address or (tax_id and len(tax_id) != 13):
        raise SaleRefused(reason="reason_required")
    sale.document = TaxDocument.FULL
    sale.buyer_name, sale.buyer_address, sale.buyer_tax_id = name, address, tax_id
    sale.buyer_branch = _clean_text(buyer.branch, 40)


# --- completing, waiting, voiding ------------------------------------------------------------


def _complete(sale: Sale) -> None:
    """Number the sale and carry out what it sold (inside the caller's transaction)."""
    series = invoice_series(clock.today(), RECEIPT_SERIES if sale.kind != SaleKind.SALE else "INV")
    sale.number = allocate_numbers(series, 1)[0]
    sale.seller_tax_id = seller_tax_id()
    sale.status = SaleStatus.COMPLETED
    sale.completed_at = clock.now()
    sale.save(update_fields=["number", "seller_tax_id", "status", "completed_at"])
    lines = list(sale.lines.select_related("pack", "invoice"))
    for line in lines:
        if line.kind == LineKind.PACK and line.pack is not None:
            assert sale.member is not None
            line.pack_purchase = pack_grant(sale.member, line.pack)
            line.save(update_fields=["pack_purchase"])
    if sale.kind == SaleKind.DEPOSIT:
        assert sale.member is not None
        ledger_post(
            sale.member,
            kind=LedgerKind.DEPOSIT,
            amount=sale.total,
            currency=sale.currency,
            description=f"Deposit {sale.number}",
            reference=f"pos:deposit:{sale.pk}",
            user=sale.created_by,
        )
    elif sale.kind == SaleKind.OWING:
        _pay_invoices(sale, [line.invoice for line in lines if line.invoice is not None])
    transaction.on_commit(lambda: _after_completed(sale.pk))


def _pay_invoices(sale: Sale, invoices: list[Invoice]) -> None:
    """The tenders paid against the invoices, oldest first, through billing's payment path
    (which settles the membership and ends dunning once an invoice is paid)."""
    tenders = list(sale.tenders.filter(status=TenderStatus.SUCCEEDED))
    left = {tender.pk: tender.amount for tender in tenders}
    for invoice in invoices:
        invoice.refresh_from_db()
        due = invoice.amount_due
        for tender in tenders:
            if due <= 0 or invoice.status != InvoiceStatus.OPEN:
                break
            share = min(left[tender.pk], due)
            if share <= 0:
                continue
            try:
                payment_record(
                    invoice,
                    amount=share,
                    source=PAYMENT_SOURCE[TenderKind(tender.kind)],
                    reference=f"{sale.number} {tender.reference}".strip()[:120],
                    user=sale.created_by,
                )
            except PaymentNotAllowed:
                break
            left[tender.pk] -= share
            due -= share
            invoice.refresh_from_db()
    left_over = sum(left.values())
    if left_over > 0 and sale.member is not None:
        # Settled meanwhile: what was paid for it is the member's, as credit.
        ledger_post(
            sale.member,
            kind=LedgerKind.CREDIT,
            amount=left_over,
            currency=sale.currency,
            description=f"Paid at the till {sale.number} (already settled)",
            reference=f"pos:owing-credit:{sale.pk}",
            user=sale.created_by,
        )


def _after_completed(sale_id: int) -> None:
    from .receipts import receipt_email_enqueue

    receipt_email_enqueue(sale_id)


def _settle_waiting(sale: Sale) -> Sale:
    """Carry on with a pending sale's tenders: charge its card (once, by key) and make sure
    its PromptPay QR exists."""
    if sale.status != SaleStatus.PENDING:
        return sale
    for tender in sale.tenders.filter(status=TenderStatus.PENDING).select_related("payment_method"):
        if tender.kind == TenderKind.CARD:
            _charge_card(sale, tender)
        elif tender.kind == TenderKind.PROMPTPAY and tender.promptpay_request_id is None:
            request = promptpay_request_create(
                amount=tender.amount,
                channel=PromptPayChannel.DESK,
                user=sale.created_by,
                reference=f"pos-sale:{sale.pk}",
                idempotency_key=f"pos-tender-{tender.pk}",
            )
            Tender.objects.filter(pk=tender.pk).update(promptpay_request=request)
            if request.status == PromptPayStatus.PAID:
                promptpay_paid(request)
    sale.refresh_from_db()
    return sale


def _charge_card(sale: Sale, tender: Tender) -> None:
    method = tender.payment_method
    assert method is not None
    result = card_charge(
        method,
        amount=tender.amount,
        currency=sale.currency,
        idempotency_key=f"pos-tender-{tender.pk}",
        description=f"Till sale {sale.pk}",
    )
    if result.status == ChargeStatus.SUCCEEDED:
        with transaction.atomic():
            locked = Sale.objects.select_for_update().get(pk=sale.pk)
            Tender.objects.filter(pk=tender.pk).update(
                status=TenderStatus.SUCCEEDED,
                reference=result.gateway_reference[:120],
                message=result.message[:300],
            )
            _complete_if_paid(locked)
    elif result.status == ChargeStatus.UNKNOWN:
        # Not heard: left pending; the next submission with the same key asks again.
        Tender.objects.filter(pk=tender.pk).update(message=result.message[:300])
    else:
        Tender.objects.filter(pk=tender.pk).update(
            status=TenderStatus.FAILED, message=(result.decline_code or result.message)[:300]
        )
        sale_void(sale, reason="card_declined", user=None)


def _complete_if_paid(sale: Sale) -> None:
    if sale.status != SaleStatus.PENDING:
        return
    if sale.tenders.exclude(status=TenderStatus.SUCCEEDED).exists():
        return
    _complete(sale)


def promptpay_paid(request: PromptPayRequest) -> None:
    """billing's ``promptpay_paid`` hook: a QR shown at the till was paid."""
    tender = Tender.objects.filter(promptpay_request=request).first()
    if tender is None:
        return
    with transaction.atomic():
        sale = Sale.objects.select_for_update().get(pk=tender.sale_id)
        if sale.status == SaleStatus.VOIDED:
            logger.warning("PromptPay %s paid for voided till sale %s", request.pk, sale.pk)
            return
        Tender.objects.filter(pk=tender.pk).update(
            status=TenderStatus.SUCCEEDED, reference=request.bank_reference or str(request.pk)
        )
        _complete_if_paid(sale)


def sale_void(sale: Sale, *, reason: str, user: Any) -> Sale:
    """Give up a sale still waiting for payment: stock back, account charge reversed,
    its QR withdrawn.  A completed sale is refunded instead."""
    with transaction.atomic():
        locked = Sale.objects.select_for_update().select_related("till__station").get(pk=sale.pk)
        if locked.status != SaleStatus.PENDING:
            return locked
        if locked.till.status == TillStatus.CLOSED:
            return locked
        location = locked.till.station.location
        for line in locked.lines.all():
            stock_return(line, location, line.quantity, user=user, reason="Sale voided")
        for tender in locked.tenders.all():
            if tender.kind == TenderKind.ACCOUNT and tender.ledger_entry_id and locked.member:
                ledger_post(
                    locked.member,
                    kind=LedgerKind.CREDIT,
                    amount=tender.amount,
                    currency=locked.currency,
                    description=f"Till sale {locked.pk} voided",
                    reference=f"pos:void:{tender.pk}",
                    user=user,
                )
        locked.status = SaleStatus.VOIDED
        locked.void_reason = _clean_text(reason, 200)
        locked.save(update_fields=["status", "void_reason"])
        request_ids = [
            t.promptpay_request_id for t in locked.tenders.all() if t.promptpay_request_id
        ]
    for request in PromptPayRequest.objects.filter(
        pk__in=request_ids, status=PromptPayStatus.PENDING
    ):
        promptpay_request_cancel(request, why="till sale voided")
    return locked


def sale_request_full_invoice(sale: Sale, buyer: Buyer) -> Sale:
    """Reissue a sale's abbreviated tax invoice as a full one for the buyer (same number)."""
    with transaction.atomic():
        locked = Sale.objects.select_for_update().get(pk=sale.pk)
        if locked.kind != SaleKind.SALE or locked.status != SaleStatus.COMPLETED:
            raise SaleRefused(reason="empty")
        _set_buyer(locked, buyer)
        locked.save(
            update_fields=[
                "document",
                "buyer_name",
                "buyer_address",
                "buyer_tax_id",
                "buyer_branch",
            ]
        )
    return locked


__all__ = [
    "Buyer",
    "LineIn",
    "PaymentMethod",
    "TenderIn",
    "promptpay_paid",
    "sale_request_full_invoice",
    "sale_submit",
    "sale_void",
]
