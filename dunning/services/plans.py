"""Payment plans and late fees, both made of ordinary billing invoices.

Billing charges an invoice's whole amount due and nothing less, so a plan cannot be a
series of partial charges against the overdue invoice.  Instead the overdue amount is
credited on the original invoice (a credit note, reason "moved to payment plan") and
billed again as 2–4 installment invoices, each due on its own date, each carrying the
original's tax rates in proportion.  Billing then treats each installment like any
invoice: charged on its day by the run, receipted when paid, past due when not.

Crediting the original invoice settles it, so billing restores the membership when the
plan starts.  While the plan is kept the case's escalation is paused.  A failed
installment makes the membership past due again (``membership_payment_failed``), resumes
the ladder where it stopped and puts back the access levers it had pulled; paying what
is overdue restores the membership again (``memberships_settle``).

A late fee (a ladder step's ``late_fee``) is its own invoice with a fee line, not tied
to the membership, so an unpaid fee never keeps access suspended.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import transaction

from billing.models import BillingReason, Invoice, InvoiceStatus, LineKind
from billing.money import format_amount, prorate
from billing.services.invoices import LineSpec, credit_note_issue, invoice_create, invoice_issue
from config import clock

from ..errors import DunningActionRefused
from ..models import (
    CaseStatus,
    Channel,
    DunningCase,
    EventKind,
    PaymentPlan,
    PaymentPlanInstallment,
    RetryReason,
)
from .events import event_add
from .messages import message_plan, messages_cancel, messages_save
from .retries import retries_cancel
from .schedule import cases_schedule

MIN_INSTALLMENTS, MAX_INSTALLMENTS = 2, 4
MAX_FIRST_DUE_DAYS = 30


def split_evenly(amount: int, parts: int) -> list[int]:
    """``amount`` in ``parts`` whole minor units, the larger shares first; sums exactly."""
    base, extra = divmod(amount, parts)
    return [base + (1 if n < extra else 0) for n in range(parts)]


def tax_shares(invoice: Invoice, amount: int) -> list[tuple[int, int]]:
    """``amount`` over the invoice's tax rates as ``[(rate_bp, gross)]``; sums exactly."""
    gross_by_rate: dict[int, int] = defaultdict(int)
    for line in invoice.lines.all():
        gross_by_rate[line.tax_rate_bp] += line.net_amount + line.tax_amount
    positive = {rate: gross for rate, gross in gross_by_rate.items() if gross > 0}
    if not positive:
        return [(0, amount)]
    total = sum(positive.values())
    rates = sorted(positive, key=lambda rate: -positive[rate])
    shares = [(rate, prorate(amount, positive[rate], total)) for rate in rates[1:]]
    return [(rates[0], amount - sum(share for _, share in shares)), *shares]


def _installment_specs(
    invoice: Invoice, shares: list[tuple[int, int]], number: int, count: int
) -> list[LineSpec]:
    return [
        LineSpec(
            LineKind.OTHER,
            f"Payment plan {number}/{count} for invoice {invoice.number}",
            gross,
            tax_rate_bp=rate,
            inclusive=True,
        )
        for rate, gross in shares
        if gross > 0
    ]


def plan_offer(
    case: DunningCase,
    *,
    installments: int,
    interval_days: int = 14,
    first_due_on: dt.date | None = None,
    user: Any = None,
) -> PaymentPlan:
    """Split the case's overdue balance into ``installments`` invoices (2–4).

    The first is due on ``first_due_on`` (today by default, then charged at once), the
    rest every ``interval_days``.  Escalation pauses while the plan is kept.
    """
    today = clock.today()
    first_due_on = first_due_on or today
    if not MIN_INSTALLMENTS <= installments <= MAX_INSTALLMENTS:
        raise DunningActionRefused(reason="installments_out_of_range")
    if not 1 <= interval_days <= 31:
        raise DunningActionRefused(reason="interval_out_of_range")
    if not today <= first_due_on <= today + dt.timedelta(days=MAX_FIRST_DUE_DAYS):
        raise DunningActionRefused(reason="first_due_out_of_range")
    now = clock.now()
    with transaction.atomic():
        case = (
            DunningCase.objects.select_for_update(of=("self",))
            .select_related("invoice", "member", "membership")
            .get(pk=case.pk)
        )
        if case.status not in (CaseStatus.OPEN, CaseStatus.PAUSED, CaseStatus.COLLECTIONS):
            raise DunningActionRefused(reason=f"case_{case.status}")
        if PaymentPlan.objects.filter(case=case).exists():
            raise DunningActionRefused(reason="plan_exists")
        original = Invoice.objects.select_for_update().get(pk=case.invoice_id)
        amount = original.amount_due
        if original.status != InvoiceStatus.OPEN or amount < installments:
            raise DunningActionRefused(reason="nothing_to_split")
        shares = tax_shares(original, amount)
        plan = PaymentPlan.objects.create(
            case=case,
            installments_count=installments,
            interval_days=interval_days,
            total=amount,
            credit_note_number="",
            created_at=now,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        note = credit_note_issue(
            original, amount=amount, reason=f"Moved to payment plan #{plan.pk}", user=user
        )
        plan.credit_note_number = note.number
        plan.save(update_fields=["credit_note_number"])
        per_rate = [(rate, split_evenly(gross, installments)) for rate, gross in shares]
        rows = []
        for n in range(installments):
            draft = invoice_create(
                member=case.member,
                currency=original.currency,
                reason=BillingReason.MANUAL,
                specs=_installment_specs(
                    original, [(rate, parts[n]) for rate, parts in per_rate], n + 1, installments
                ),
                # Not tied to the membership: billing restores a membership only when it has
                # no open invoice at all, and later installments are open from the start.
                # Dunning moves the membership itself, through billing, as the plan goes.
                membership_id=None,
                apply_account=False,
                issue=False,
            )
            due_on = first_due_on + dt.timedelta(days=interval_days * n)
            draft.due_on = due_on
            issued = invoice_issue(draft)
            rows.append(
                PaymentPlanInstallment(plan=plan, number=n + 1, invoice=issued, due_on=due_on)
            )
        PaymentPlanInstallment.objects.bulk_create(rows)
        if case.status == CaseStatus.PAUSED and case.paused_on is not None:
            case.paused_days += max((today - case.paused_on).days, 0)
        case.status, case.paused_on, case.paused_until = CaseStatus.PLAN, today, None
        retries_cancel(case, why="payment_plan", now=now)
        messages_cancel(case, "payment_plan", now)
        event_add(
            case,
            EventKind.PLAN_OFFERED,
            actor=user,
            at=now,
            installments=installments,
            total=format_amount(amount, original.currency),
            credit_note=note.number,
            schedule=[f"{r.invoice.number} {r.due_on}" for r in rows],
        )
        messages_save(
            [message_plan(case, template="payment_plan", channel=Channel.EMAIL, now=now)], now
        )
        case.amount_due = amount
        cases_schedule([case])
        case.save()
        from .cases import advance_soon

        case_pk = case.pk
        transaction.on_commit(lambda: advance_soon([case_pk]))
    return plan


def installments_due(
    case: DunningCase, installments: list[PaymentPlanInstallment], now: dt.datetime
) -> list[int]:
    """Schedule today's charge for each installment that has come due (case locked)."""
    from .retries import retry_schedule_now

    today = now.astimezone(clock.gym_tz()).date()
    scheduled = []
    for installment in installments:
        invoice = installment.invoice
        if (
            installment.charge_scheduled_at is None
            and installment.due_on <= today
            and invoice.status == InvoiceStatus.OPEN
        ):
            retry = retry_schedule_now(
                case, invoice=invoice, reason=RetryReason.INSTALLMENT, now=now
            )
            installment.charge_scheduled_at = now
            installment.save(update_fields=["charge_scheduled_at"])
            scheduled.append(retry.pk)
    return scheduled


def late_fee_add(case: DunningCase, amount: int, now: dt.datetime) -> str:
    """Bill a late fee for the case once (the ladder's ``late_fee`` effect)."""
    if case.late_fee_invoice_id:
        return "skipped:already_charged"
    plan = case.plan
    fee = invoice_create(
        member=case.member,
        currency=case.currency,
        reason=BillingReason.FEE,
        specs=[
            LineSpec(
                LineKind.FEE,
                f"Late fee for invoice {case.invoice.number}",
                amount,
                tax_rate_bp=plan.tax_rate_bp if plan is not None else 0,
                inclusive=plan.prices_include_tax if plan is not None else True,
            )
        ],
        apply_account=False,
    )
    case.late_fee_invoice = fee
    event_add(case, EventKind.LATE_FEE, at=now, invoice=fee.number, amount=fee.total)
    return "done"


def late_fee_waive(case: DunningCase, *, reason: str, user: Any = None) -> Invoice:
    """Waive the case's unpaid late fee with a credit note."""
    fee = case.late_fee_invoice
    if fee is None:
        raise DunningActionRefused(reason="no_late_fee")
    fee.refresh_from_db()
    if fee.status != InvoiceStatus.OPEN or fee.amount_due <= 0:
        raise DunningActionRefused(reason="late_fee_not_open")
    note = credit_note_issue(
        fee, amount=fee.amount_due, reason=reason or "Late fee waived", user=user
    )
    event_add(case, EventKind.FEE_WAIVED, actor=user, invoice=fee.number, credit_note=note.number)
    fee.refresh_from_db()
    return fee
