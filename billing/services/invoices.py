"""Invoices: itemise, issue with a gap-free number, take payments, credit notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Sum

from config import clock, inputs
from members.audit import audit_record
from members.models import GymProfile, Member
from members.services import sequence_allocate

from .. import hooks
from ..errors import InvoiceImmutable, PaymentNotAllowed
from ..models import (
    AttemptStatus,
    BillingReason,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    LineKind,
    Payment,
    PaymentAttempt,
    PaymentSource,
)
from ..money import split_tax


@dataclass(frozen=True)
class LineSpec:
    kind: str
    description: str
    unit_amount: int
    tax_rate_bp: int
    inclusive: bool
    quantity: int = 1
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    # What the line bills (revenue by plan, add-on and pack groups by these).
    plan_id: int | None = None
    addon_id: int | None = None
    pack_id: int | None = None

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


def build_line(spec: LineSpec) -> InvoiceLine:
    """An unsaved line with its net and tax worked out (net + tax == amount when inclusive)."""
    net, tax = split_tax(spec.amount, spec.tax_rate_bp, inclusive=spec.inclusive)
    return InvoiceLine(
        kind=spec.kind,
        description=spec.description[:200],
        quantity=spec.quantity,
        unit_amount=spec.unit_amount,
        amount=spec.amount,
        net_amount=net,
        tax_rate_bp=spec.tax_rate_bp,
        tax_amount=tax,
        period_start=spec.period_start,
        period_end=spec.period_end,
        plan_id=spec.plan_id,
        addon_id=spec.addon_id,
        pack_id=spec.pack_id,
    )


def totals(lines: Iterable[InvoiceLine]) -> tuple[int, int, int]:
    """``(subtotal, tax_total, total)``: the sums of the lines' net and tax."""
    subtotal = tax = 0
    for line in lines:
        subtotal += line.net_amount
        tax += line.tax_amount
    return subtotal, tax, subtotal + tax


def invoice_series(day: dt.date, prefix: str = "INV") -> str:
    return f"{prefix}-{day.year}"


def allocate_numbers(series: str, count: int) -> list[str]:
    """Gap-free document numbers: the counter is held until the caller's transaction ends."""
    numbers = sequence_allocate(f"doc:{series}", count)
    return [f"{series}-{n:05d}" for n in numbers]


def seller_tax_id() -> str:
    profile = GymProfile.objects.only("tax_id").first()
    return profile.tax_id if profile else ""


def _account_balance_line(member: Member, currency: str, room: int) -> tuple[LineSpec, int] | None:
    """The account balance as an invoice line: charges owed, or credit up to ``room``."""
    balance = (
        LedgerEntry.objects.filter(member=member, currency=currency).aggregate(s=Sum("amount"))["s"]
        or 0
    )
    if balance == 0:
        return None
    applied = balance if balance > 0 else -min(-balance, room)
    if applied == 0:
        return None
    description = "Account charges" if applied > 0 else "Account credit applied"
    spec = LineSpec(LineKind.ACCOUNT, description, applied, tax_rate_bp=0, inclusive=True)
    return spec, applied


@transaction.atomic
def invoice_create(
    *,
    member: Member,
    currency: str,
    reason: str,
    specs: Sequence[LineSpec],
    membership_id: int | None = None,
    period: tuple[dt.date, dt.date] | None = None,
    apply_account: bool = True,
    issue: bool = True,
) -> Invoice:
    """Create an itemised invoice and (by default) issue it."""
    lines = [build_line(spec) for spec in specs]
    applied = 0
    if apply_account:
        # Serialise account use per member so a balance is never applied twice.
        Member.objects.select_for_update().filter(pk=member.pk).first()
        _, _, running_total = totals(lines)
        account = _account_balance_line(member, currency, max(running_total, 0))
        if account is not None:
            spec, applied = account
            lines.append(build_line(spec))
    subtotal, tax, total = totals(lines)
    invoice = Invoice.objects.create(
        member=member,
        membership_id=membership_id,
        billing_reason=reason,
        currency=currency,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        subtotal=subtotal,
        tax_total=tax,
        total=total,
    )
    for line in lines:
        line.invoice = invoice
    InvoiceLine.objects.bulk_create(lines)
    if applied:
        LedgerEntry.objects.create(
            member=member,
            kind=LedgerKind.APPLIED,
            amount=-applied,
            currency=currency,
            description="Moved to invoice",
            invoice=invoice,
        )
    if issue:
        invoice_issue(invoice)
    return invoice


def invoice_issue(invoice: Invoice) -> Invoice:
    """Give a draft its number and freeze it.  A zero or negative total is paid at once."""
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceImmutable(reason="already_issued")
    now = clock.now()
    with transaction.atomic():
        invoice.number = allocate_numbers(invoice_series(clock.today()), 1)[0]
        invoice.status = InvoiceStatus.OPEN
        invoice.issued_at = now
        invoice.due_on = invoice.due_on or clock.today()
        invoice.seller_tax_id = seller_tax_id()
        if invoice.total <= 0:
            if invoice.total < 0:
                _credit_account(invoice, -invoice.total)
            invoice.status = InvoiceStatus.PAID
            invoice.paid_at = now
        invoice.save()
    return invoice


def _credit_account(invoice: Invoice, amount: int) -> None:
    LedgerEntry.objects.create(
        member=invoice.member,
        kind=LedgerKind.CREDIT,
        amount=-amount,
        currency=invoice.currency,
        description=f"Credit from {invoice.number}",
        invoice=invoice,
    )


def invoice_void(invoice: Invoice, *, user: Any = None, reason: str = "") -> Invoice:
    """Void an open invoice nothing was paid on (a mistake); otherwise use a credit note."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status not in (InvoiceStatus.OPEN, InvoiceStatus.DRAFT) or locked.amount_paid:
            raise InvoiceImmutable(reason="cannot_void")
        before = locked.status
        locked.status = InvoiceStatus.VOID
        locked.voided_at = clock.now()
        locked.save(update_fields=["status", "voided_at"])
        audit_record(
            "invoice.void",
            locked,
            member=locked.member_id,
            before={"status": before},
            after={"status": locked.status, "total": locked.total, "currency": locked.currency},
            reason=reason,
            actor=user,
        )
    return locked


def invoice_mark_uncollectible(invoice: Invoice, *, user: Any = None, reason: str = "") -> Invoice:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status != InvoiceStatus.OPEN:
            raise InvoiceImmutable(reason="not_open")
        locked.status = InvoiceStatus.UNCOLLECTIBLE
        locked.save(update_fields=["status"])
        audit_record(
            "invoice.write_off",
            locked,
            member=locked.member_id,
            before={"status": InvoiceStatus.OPEN},
            after={"status": locked.status, "amount_due": locked.amount_due},
            reason=reason,
            actor=user,
        )
    return locked


def _settle(invoice: Invoice) -> bool:
    """Mark the invoice paid if nothing is due; say whether it became paid now."""
    if (
        invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
        and invoice.amount_due == 0
    ):
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = clock.now()
        return True
    return False


def invoices_after_paid(invoices: list[Invoice]) -> None:
    """Everything that follows payment: restore memberships, receipts, dunning recovery."""
    from .memberships import memberships_settle
    from .notifications import receipts_enqueue

    memberships_settle({inv.membership_id for inv in invoices if inv.membership_id})
    receipts_enqueue([inv.pk for inv in invoices])
    for hook in hooks.invoices_paid:
        hook(invoices)


def payment_record(
    invoice: Invoice,
    *,
    amount: int,
    source: str,
    attempt: PaymentAttempt | None = None,
    reference: str = "",
    user: Any = None,
    up_to_due: bool = False,
) -> Payment:
    """Money arrived for ``invoice`` by any route.  Overpayment goes to account credit.

    When the invoice becomes paid, the membership is restored and the ``invoice_paid``
    hooks (dunning recovery) run after commit.
    """
    if amount <= 0:
        raise PaymentNotAllowed(reason="amount_not_positive")
    with inputs.for_field("amount"):
        inputs.check_amount(amount)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            raise PaymentNotAllowed(reason=f"invoice_{locked.status}")
        if locked.status == InvoiceStatus.PAID and attempt is None:
            raise PaymentNotAllowed(reason="already_paid")
        due = locked.amount_due
        if up_to_due and amount > due:
            raise PaymentNotAllowed(reason="amount_above_due")
        payment = Payment.objects.create(
            invoice=locked,
            amount=amount,
            currency=locked.currency,
            source=source,
            attempt=attempt,
            reference=reference,
            received_at=clock.now(),
            received_by=user if getattr(user, "is_authenticated", False) else None,
        )
        applied = min(amount, due)
        locked.amount_paid += applied
        if amount > applied:
            _credit_account(locked, amount - applied)
            if attempt is not None or due == 0:  # paid twice, not a deliberate overpayment
                duplicate = (payment.pk, amount - applied)
                transaction.on_commit(lambda: duplicates_refund_later([duplicate]))
        became_paid = _settle(locked)
        locked.save(update_fields=["amount_paid", "status", "paid_at"])
        if became_paid:
            transaction.on_commit(lambda: invoices_after_paid([locked]))
    invoice.refresh_from_db()
    return payment


def duplicates_refund_later(duplicates: Sequence[tuple[int, int]]) -> None:
    """Money that arrived for an invoice already paid (``(payment id, excess)``): refund it
    by its own route (see ``refunds.duplicate_payments_refund``), after the commit."""
    from .refunds import duplicate_payments_refund

    duplicate_payments_refund(duplicates)


def payment_record_manual(
    invoice: Invoice, *, amount: int, source: str, reference: str = "", user: Any = None
) -> Payment:
    """The front desk takes cash, PromptPay or a transfer for an invoice: at most what is
    owed on it (credit on the account is a deliberate ledger entry, never a typo).

    Refused while a card charge for the invoice is in flight (``card_payment_in_progress``,
    with its amount and age): the money would be collected twice.  The check runs with
    the invoice locked, the lock every card charge takes before it writes its attempt,
    so a charge cannot start between the check and the payment either.
    """
    if source not in {PaymentSource.CASH, PaymentSource.PROMPTPAY, PaymentSource.BANK_TRANSFER}:
        raise PaymentNotAllowed(reason="source_not_manual")
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(pk=invoice.pk).first()
        card_payment_in_flight_refuse(invoice.pk)
        return payment_record(
            invoice, amount=amount, source=source, reference=reference, user=user, up_to_due=True
        )


# An attempt still ``pending`` or ``unknown`` (billing.services.payments.UNSETTLED).
IN_FLIGHT_STATUSES = (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)


def card_payment_in_flight_refuse(invoice_id: int) -> None:
    """Raise ``card_payment_in_progress`` if a card charge for the invoice is in flight."""
    attempt = (
        PaymentAttempt.objects.filter(invoice_id=invoice_id, status__in=IN_FLIGHT_STATUSES)
        .order_by("created_at")
        .first()
    )
    if attempt is None:
        return
    from ..money import format_amount

    seconds = max(int((clock.now() - attempt.created_at).total_seconds()), 0)
    raise PaymentNotAllowed(
        reason="card_payment_in_progress",
        amount=format_amount(attempt.amount, attempt.currency),
        seconds=seconds,
    )


def credit_note_issue(
    invoice: Invoice, *, amount: int, reason: str, user: Any = None, refund: Any = None
) -> CreditNote:
    """Reduce an issued invoice by ``amount`` (tax shares in proportion)."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            raise InvoiceImmutable(reason="credit_needs_issued_invoice")
        creditable = locked.total - locked.amount_credited
        if amount <= 0 or amount > creditable:
            raise InvoiceImmutable(reason="credit_exceeds_invoice", creditable=creditable)
        tax = (locked.tax_total * amount) // locked.total if locked.total else 0
        note = CreditNote.objects.create(
            number=allocate_numbers(invoice_series(clock.today(), "CN"), 1)[0],
            invoice=locked,
            amount=amount,
            tax_amount=tax,
            currency=locked.currency,
            reason=reason[:200],
            refund=refund,
            issued_at=clock.now(),
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        if refund is None:
            # A correction on an unpaid invoice lowers what is due; on a paid one, it is credit.
            unpaid_part = min(amount, locked.amount_due)
            locked.amount_credited += amount
            if amount > unpaid_part:
                _credit_account(locked, amount - unpaid_part)
        else:
            locked.amount_credited += amount
        before = {"amount_credited": locked.amount_credited - amount}
        became_paid = _settle(locked)
        locked.save(update_fields=["amount_credited", "status", "paid_at"])
        audit_record(
            "credit_note.issue",
            note,
            member=locked.member_id,
            before=before,
            after={
                "amount_credited": locked.amount_credited,
                "amount": amount,
                "tax_amount": tax,
                "invoice": locked.number,
            },
            reason=reason,
            actor=user,
        )
        if became_paid:
            transaction.on_commit(lambda: invoices_after_paid([locked]))
    return note


def ledger_post(
    member: Member,
    *,
    kind: str,
    amount: int,
    currency: str,
    description: str,
    reference: str = "",
    user: Any = None,
) -> LedgerEntry:
    """Post to the member account (POS charge, deposit, credit).  A reference posts once."""
    if kind == LedgerKind.APPLIED:
        raise PaymentNotAllowed(reason="applied_is_internal")
    signed = abs(amount) if kind == LedgerKind.ACCOUNT_CHARGE else -abs(amount)
    with transaction.atomic():
        entry, created = LedgerEntry.objects.get_or_create(
            reference=reference or f"manual:{clock.now().timestamp()}:{member.pk}",
            defaults={
                "member": member,
                "kind": kind,
                "amount": signed,
                "currency": currency,
                "description": description[:200],
                "created_by": user if getattr(user, "is_authenticated", False) else None,
            },
        )
        if created:
            audit_record(
                "ledger.post",
                entry,
                member=member,
                after={"kind": kind, "amount": signed, "currency": currency},
                reason=description,
                actor=user,
            )
    return entry


def account_balance(member: Member, currency: str) -> int:
    return (
        LedgerEntry.objects.filter(member=member, currency=currency).aggregate(s=Sum("amount"))["s"]
        or 0
    )


__all__ = [
    "BillingReason",
    "LineSpec",
    "account_balance",
    "allocate_numbers",
    "build_line",
    "credit_note_issue",
    "invoice_create",
    "invoice_issue",
    "invoice_mark_uncollectible",
    "invoice_void",
    "ledger_post",
    "payment_record",
    "payment_record_manual",
    "totals",
]
