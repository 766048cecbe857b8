"""Set-based versions of the billing workflows, for the billing run.

A batch of hundreds of memberships costs a fixed number of queries, so the run's
queries per membership stay constant as it grows.  The rules (lines, tax, periods)
are the same functions the one-at-a-time services use.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Sum

from config import clock
from config.db import bulk_insert_rows, bulk_update_rows
from config.errors import DomainError

from .. import hooks
from ..models import (
    BILLABLE_STATUSES,
    AttemptStatus,
    AttemptTrigger,
    BillingReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    Membership,
    MembershipAddOn,
    MembershipEvent,
    MembershipStatus,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    PaymentMethodStatus,
    PaymentSource,
)
from ..periods import advance
from .history import membership_events_audit, membership_events_save
from .invoices import (
    LineSpec,
    allocate_numbers,
    build_line,
    duplicates_refund_later,
    invoice_series,
    invoices_after_paid,
    seller_tax_id,
    totals,
)
from .lines import cycle_line_specs


@dataclass
class BatchResult:
    invoiced: int = 0
    ended: int = 0
    skipped: int = 0
    attempt_ids: list[int] = field(default_factory=list)
    failed_unsent: list[PaymentAttempt] = field(default_factory=list)  # no card, or blocked


def _account_balances(member_ids: set[int]) -> dict[tuple[int, str], int]:
    rows = (
        LedgerEntry.objects.filter(member_id__in=member_ids)
        .values("member_id", "currency")
        .annotate(balance=Sum("amount"))
    )
    return {(r["member_id"], r["currency"]): r["balance"] for r in rows if r["balance"]}


def _bill_one_period(
    membership: Membership,
    addons: dict[int, list[MembershipAddOn]],
    balances: dict[tuple[int, str], int],
    events: list[MembershipEvent],
    *,
    first: bool,
) -> tuple[Membership, list[InvoiceLine], int] | None:
    """The lines of the period starting at ``membership.next_billing_date``, and move the
    membership to the next period; ``None`` if the membership ends there instead."""
    start = membership.next_billing_date
    assert start is not None
    if membership.cancel_at and start >= membership.cancel_at:
        membership.status = MembershipStatus.CANCELLED
        membership.ended_on = membership.cancel_at
        membership.next_billing_date = None
        events.append(
            MembershipEvent(
                membership=membership,
                kind="cancelled_at_period_end",
                to_status=MembershipStatus.CANCELLED,
            )
        )
        return None
    if first and membership.pending_plan is not None:
        events.append(
            MembershipEvent(
                membership=membership,
                kind="plan_changed",
                detail={"from": membership.plan.code, "to": membership.pending_plan.code},
            )
        )
        membership.plan = membership.pending_plan
        membership.pending_plan = None
    if membership.status == MembershipStatus.TRIALING:
        # The first paid period: the trial is over (the audit trail says when).
        membership.status = MembershipStatus.ACTIVE
        events.append(
            MembershipEvent(
                membership=membership,
                kind="trial_ended",
                from_status=MembershipStatus.TRIALING,
                to_status=MembershipStatus.ACTIVE,
            )
        )
    plan = membership.plan
    end = advance(start, plan.interval, plan.interval_count, membership.anchor_day)
    assert end > start, "a billing period must move forward"
    specs = cycle_line_specs(membership, plan, addons[membership.pk], (start, end))
    lines = [build_line(spec) for spec in specs]
    applied = 0
    balance = balances.get((membership.payer_id, membership.currency), 0)
    if balance:
        room = max(totals(lines)[2], 0)
        applied = balance if balance > 0 else -min(-balance, room)
        if applied:
            description = "Account charges" if applied > 0 else "Account credit applied"
            lines.append(build_line(LineSpec("account", description, applied, 0, inclusive=True)))
            balances[(membership.payer_id, membership.currency)] = balance - applied
    if membership.coupon_id and membership.coupon_periods_left:
        membership.coupon_periods_left -= 1
    # Each invoice keeps its own period: the membership object moves on, so the copy
    # billed for this period keeps the dates it had.
    billed = copy.copy(membership)
    billed.current_period_start, billed.current_period_end = start, end
    membership.current_period_start, membership.current_period_end = start, end
    membership.next_billing_date = end
    return billed, lines, applied


def bill_due_batch(membership_ids: Sequence[int], today: dt.date) -> BatchResult:
    """Issue the next invoice for each due membership in the batch and write charge intents.

    Memberships another run holds are skipped; ones already billed for the period no longer
    match ``next_billing_date <= today``.  Everything here commits together: numbers,
    invoices, lines, period moves and the attempts the caller then charges.
    """
    result = BatchResult()
    with transaction.atomic():
        memberships = list(
            Membership.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                pk__in=membership_ids, status__in=BILLABLE_STATUSES, next_billing_date__lte=today
            )
            .select_related("plan", "pending_plan", "coupon", "payment_method")
            .order_by("pk")
        )
        result.skipped = len(set(membership_ids)) - len(memberships)
        if not memberships:
            return result
        ids = [m.pk for m in memberships]
        payer_ids = {m.payer_id for m in memberships}
        addons: dict[int, list[MembershipAddOn]] = defaultdict(list)
        for item in MembershipAddOn.objects.filter(
            membership_id__in=ids, ended_on__isnull=True
        ).select_related("addon"):
            addons[item.membership_id].append(item)
        defaults = {
            pm.member_id: pm
            for pm in PaymentMethod.objects.filter(
                member_id__in=payer_ids, is_default=True, status=PaymentMethodStatus.ACTIVE
            )
        }
        balances = _account_balances(payer_ids)

        now = clock.now()
        to_bill: list[tuple[Membership, list[InvoiceLine], int]] = []
        ended: list[Membership] = []
        events: list[MembershipEvent] = []
        for membership in memberships:
            # Catch-up: every period that started on or before ``today`` gets its own
            # invoice now (docs/billing-catch-up.md), oldest first, so one run leaves
            # nothing due and a second run on the same date finds nothing to do.
            first = True
            while membership.next_billing_date is not None and (
                membership.next_billing_date <= today
            ):
                billed = _bill_one_period(membership, addons, balances, events, first=first)
                first = False
                if billed is None:
                    ended.append(membership)
                    break
                to_bill.append(billed)

        numbers = iter(allocate_numbers(invoice_series(today), len(to_bill))) if to_bill else None
        tax_id = seller_tax_id() if to_bill else ""
        invoices: list[Invoice] = []
        for membership, lines, _ in to_bill:
            subtotal, tax, total = totals(lines)
            assert numbers is not None
            invoices.append(
                Invoice(
                    number=next(numbers),
                    member_id=membership.payer_id,
                    membership=membership,
                    status=InvoiceStatus.OPEN if total > 0 else InvoiceStatus.PAID,
                    billing_reason=BillingReason.CYCLE,
                    currency=membership.currency,
                    period_start=membership.current_period_start,
                    period_end=membership.current_period_end,
                    subtotal=subtotal,
                    tax_total=tax,
                    total=total,
                    issued_at=now,
                    due_on=membership.current_period_start,
                    paid_at=now if total <= 0 else None,
                    seller_tax_id=tax_id,
                )
            )
        Invoice.objects.bulk_create(invoices)
        all_lines: list[InvoiceLine] = []
        ledger: list[LedgerEntry] = []
        attempts: list[PaymentAttempt] = []
        from .payments import attempt_build

        methods = [m.payment_method or defaults.get(m.payer_id) for m, _, _ in to_bill]
        blocked = hooks.cards_blocked({method.fingerprint for method in methods if method})
        for invoice, (membership, lines, applied) in zip(invoices, to_bill, strict=True):
            for line in lines:
                line.invoice = invoice
            all_lines.extend(lines)
            if applied:
                ledger.append(
                    LedgerEntry(
                        member_id=membership.payer_id,
                        kind=LedgerKind.APPLIED,
                        amount=-applied,
                        currency=invoice.currency,
                        description="Moved to invoice",
                        invoice=invoice,
                    )
                )
            if invoice.total < 0:
                ledger.append(
                    LedgerEntry(
                        member_id=membership.payer_id,
                        kind=LedgerKind.CREDIT,
                        amount=invoice.total,
                        currency=invoice.currency,
                        description=f"Credit from {invoice.number}",
                        invoice=invoice,
                    )
                )
            if invoice.status == InvoiceStatus.OPEN:
                method = membership.payment_method or defaults.get(membership.payer_id)
                attempts.append(
                    attempt_build(
                        invoice,
                        method,
                        number=1,
                        trigger=AttemptTrigger.BILLING_RUN,
                        blocked=blocked,
                    )
                )
        InvoiceLine.objects.bulk_create(all_lines)
        LedgerEntry.objects.bulk_create(ledger)
        PaymentAttempt.objects.bulk_create(attempts)
        touched = {m.pk for m, _, _ in to_bill} | {m.pk for m in ended}
        bulk_update_rows(
            [m for m in memberships if m.pk in touched],
            [
                "plan",
                "pending_plan",
                "status",
                "ended_on",
                "coupon_periods_left",
                "current_period_start",
                "current_period_end",
                "next_billing_date",
            ],
        )
        membership_events_save(events)
        if ended:
            from .memberships import members_sync_status

            members_sync_status({m.member_id for m in ended})
        result.invoiced = len(invoices)
        result.ended = len(ended)
        result.attempt_ids = [a.pk for a in attempts if a.status == AttemptStatus.PENDING]
        result.failed_unsent = [a for a in attempts if a.status == AttemptStatus.FAILED]
        paid_now = [inv for inv in invoices if inv.status == InvoiceStatus.PAID]
        if paid_now:
            transaction.on_commit(lambda: invoices_after_paid(paid_now))
    return result


# Invoices a payment settles; money for any other is credited to the member.
COLLECTIBLE = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


def payments_record_bulk(attempts: list[PaymentAttempt]) -> None:
    """Record successful attempts as payments and settle their invoices, in a few queries.

    Runs inside the caller's transaction, with the attempts locked.
    """
    if not attempts:
        return
    invoices = {
        inv.pk: inv
        for inv in Invoice.objects.select_for_update().filter(
            pk__any=[a.invoice_id for a in attempts]
        )
    }
    now = clock.now()
    payments: list[Payment] = []
    credits: list[LedgerEntry] = []
    became_paid: list[Invoice] = []
    duplicates: list[tuple[Payment, int]] = []
    for attempt in attempts:
        invoice = invoices[attempt.invoice_id]
        payments.append(
            Payment(
                invoice=invoice,
                amount=attempt.amount,
                currency=attempt.currency,
                source=PaymentSource.CARD,
                attempt=attempt,
                reference=attempt.gateway_reference,
                received_at=now,
            )
        )
        # A void (or draft) invoice takes nothing: money for it is the member's credit.
        due = invoice.amount_due if invoice.status in COLLECTIBLE else 0
        applied = min(attempt.amount, due)
        invoice.amount_paid += applied
        if attempt.amount > applied:
            if invoice.status in COLLECTIBLE:  # paid twice (a void invoice's money is credit)
                duplicates.append((payments[-1], attempt.amount - applied))
            credits.append(
                LedgerEntry(
                    member_id=invoice.member_id,
                    kind=LedgerKind.CREDIT,
                    amount=-(attempt.amount - applied),
                    currency=invoice.currency,
                    description=f"Overpayment on {invoice.number}",
                    invoice=invoice,
                )
            )
        if invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE) and (
            invoice.amount_due == 0
        ):
            invoice.status = InvoiceStatus.PAID
            invoice.paid_at = now
            became_paid.append(invoice)
    bulk_insert_rows(payments)
    bulk_insert_rows(credits)
    bulk_update_rows(list(invoices.values()), ["amount_paid", "status", "paid_at"])
    if duplicates:  # a card charge for an invoice paid meanwhile: money arrived twice
        found = [(payment.pk, excess) for payment, excess in duplicates]
        transaction.on_commit(lambda: duplicates_refund_later(found))
    if became_paid:
        transaction.on_commit(lambda: invoices_after_paid(became_paid))


@dataclass
class LeverRequest:
    """One lever asked for on one membership; ``done`` or ``error`` once applied."""

    membership_id: int
    action: str
    options: dict[str, Any] = field(default_factory=dict)
    applied: bool = False
    done: bool = False
    error: DomainError | None = None


class MembershipLevers:
    """Dunning's levers (restrictions, suspension, cancellation for non-payment) for a batch.

    The set-based twin of ``membership_set_restrictions``, ``membership_suspend`` and
    ``membership_cancel_for_nonpayment``: levers are asked for one by one, then
    :meth:`apply` locks the memberships once, applies every request in the order asked
    with the same rules (a refused transition is the same domain error, kept on its
    request), and writes the memberships, their audit events and the members' status
    in a fixed number of queries.  Call it inside the caller's transaction.
    """

    def __init__(self) -> None:
        self.requests: list[LeverRequest] = []

    def set_restrictions(
        self,
        membership_id: int,
        *,
        access_warning: bool | None = None,
        bookings_blocked: bool | None = None,
        account_charges_blocked: bool | None = None,
    ) -> LeverRequest:
        return self._ask(
            membership_id,
            "restrict",
            levers={
                "access_warning": access_warning,
                "bookings_blocked": bookings_blocked,
                "account_charges_blocked": account_charges_blocked,
            },
        )

    def suspend(self, membership_id: int, *, reason: str = "payment_overdue") -> LeverRequest:
        return self._ask(membership_id, "suspend", reason=reason)

    def cancel_for_nonpayment(self, membership_id: int) -> LeverRequest:
        return self._ask(membership_id, "cancel_for_nonpayment")

    def _ask(self, membership_id: int, action: str, **options: Any) -> LeverRequest:
        request = LeverRequest(membership_id, action, options)
        self.requests.append(request)
        return request

    def apply(self) -> None:
        from .memberships import (
            LEVER_FIELDS,
            _cancel_for_nonpayment,
            _restrict,
            _suspend,
            members_sync_status,
        )

        pending = [request for request in self.requests if not request.applied]
        if not pending:
            return
        with transaction.atomic():
            memberships = {
                membership.pk: membership
                for membership in Membership.objects.select_for_update(of=("self",))
                .filter(pk__any=sorted({request.membership_id for request in pending}))
                .order_by("pk")
            }
            changed: dict[int, Membership] = {}
            events: list[MembershipEvent] = []
            for request in pending:
                request.applied = True
                membership = memberships.get(request.membership_id)
                if membership is None:
                    continue
                try:
                    if request.action == "restrict":
                        event = _restrict(membership, request.options["levers"])
                    elif request.action == "suspend":
                        event = _suspend(membership, request.options["reason"])
                    else:
                        event = _cancel_for_nonpayment(membership)
                except DomainError as exc:
                    request.error = exc
                    continue
                request.done = True
                if event is not None:
                    events.append(event)
                    changed[membership.pk] = membership
            if not changed:
                return
            now = clock.now()
            for membership in changed.values():
                membership.updated_at = now
            bulk_update_rows(list(changed.values()), LEVER_FIELDS)
            bulk_insert_rows(events)
            membership_events_audit(events)
            members_sync_status({membership.member_id for membership in changed.values()})
