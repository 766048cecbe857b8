"""Reads of dunning that its services, views, admin and API use."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Exists, Min, OuterRef, Q, QuerySet, Subquery

from billing.models import Invoice, InvoiceStatus, PaymentAttempt

from .models import (
    ACTIVE_CASE_STATUSES,
    WAIT_FOR_MEMBER,
    DunningCase,
    DunningEvent,
    LadderStep,
    PaydayCalendar,
    PaymentPlanInstallment,
    RetryPolicy,
)
from .paydays import THAI_DEFAULT, PaydayRules, parse_days_of_month


def retry_policies_for(plan_ids: Iterable[int | None]) -> dict[int | None, RetryPolicy]:
    """Each plan's retry policy: its own, else the global one, else the built-in 8 in 14 days."""
    wanted = set(plan_ids)
    policies = {
        policy.plan_id: policy
        for policy in RetryPolicy.objects.filter(
            Q(plan__isnull=True) | Q(plan_id__in=[p for p in wanted if p is not None])
        )
    }
    fallback = policies.get(None) or RetryPolicy(name="Built-in default")
    return {plan_id: policies.get(plan_id) or fallback for plan_id in wanted}


def retry_policy_for(plan_id: int | None) -> RetryPolicy:
    """The plan's own retry policy, else the global one, else the built-in 8 in 14 days."""
    return retry_policies_for([plan_id])[plan_id]


def payday_rules() -> PaydayRules:
    """The gym's payday calendar (the first one kept), else the Thai default."""
    row = PaydayCalendar.objects.order_by("pk").first()
    return THAI_DEFAULT if row is None else payday_rules_of(row)


def payday_rules_of(row: PaydayCalendar) -> PaydayRules:
    """A kept calendar as :class:`PaydayRules` (values it cannot read are left out)."""
    extra = []
    for value in row.extra_dates if isinstance(row.extra_dates, list) else []:
        try:
            extra.append(dt.date.fromisoformat(str(value)))
        except ValueError:
            continue
    return PaydayRules(
        last_working_day=row.last_working_day,
        days_of_month=parse_days_of_month(
            row.days_of_month if isinstance(row.days_of_month, list) else []
        ),
        civil_service=row.civil_service,
        first_working_day=row.first_working_day,
        extra_dates=tuple(sorted(extra)),
        country=(row.country or THAI_DEFAULT.country).upper(),
    )


def ladders_for(plan_ids: Iterable[int | None]) -> dict[int | None, list[LadderStep]]:
    """Each plan's ladder (active steps in order): its own steps, else the global ladder."""
    wanted = set(plan_ids)
    own: dict[int | None, list[LadderStep]] = defaultdict(list)
    global_steps: list[LadderStep] = []
    steps = LadderStep.objects.filter(is_active=True).filter(
        Q(plan__isnull=True) | Q(plan_id__in=[p for p in wanted if p is not None])
    )
    for step in steps.order_by("position", "pk"):
        (global_steps if step.plan_id is None else own[step.plan_id]).append(step)
    return {plan_id: own.get(plan_id) or global_steps for plan_id in wanted}


def ladder_for(plan_id: int | None) -> list[LadderStep]:
    return ladders_for([plan_id])[plan_id]


def installments_by_case(case_ids: Iterable[int]) -> dict[int, list[PaymentPlanInstallment]]:
    """The installments (with their invoices) of each case's payment plan, in order."""
    grouped: dict[int, list[PaymentPlanInstallment]] = defaultdict(list)
    rows = (
        PaymentPlanInstallment.objects.filter(plan__case_id__any=list(case_ids))
        .select_related("invoice", "plan")
        .order_by("number")
    )
    for installment in rows:
        grouped[installment.plan.case_id].append(installment)
    return grouped


def principal_invoices(
    case: DunningCase, installments: list[PaymentPlanInstallment] | None
) -> list[Invoice]:
    """The invoices the case is about: the failed invoice, or its plan's installments."""
    if installments:
        return [i.invoice for i in installments]
    return [case.invoice]


def owed_invoices(
    case: DunningCase, installments: list[PaymentPlanInstallment] | None, today: dt.date
) -> list[Invoice]:
    """Principal invoices that are open and due by ``today``: what a retry charges, in order."""
    return [
        invoice
        for invoice in principal_invoices(case, installments)
        if invoice.status == InvoiceStatus.OPEN
        and invoice.amount_due > 0
        and (invoice.due_on is None or invoice.due_on <= today)
    ]


def amount_at_risk(case: DunningCase, installments: list[PaymentPlanInstallment] | None) -> int:
    """What is still unpaid on the case's principal invoices, due or not yet due."""
    return sum(
        invoice.amount_due
        for invoice in principal_invoices(case, installments)
        if invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
    )


def same_card_invoices(case: DunningCase, today: dt.date) -> list[Invoice]:
    """The member's other open invoices, due by ``today``, last charged to the card the
    case waits to have replaced (a payer's renewals on one card that was hard declined),
    oldest first: those already in a case waiting on that card, and those still being
    charged in the same run (withheld, they will wait on it too).  Invoices on a payment
    plan, or in a case that no longer waits on that card, are left out."""
    if not case.blocked_fingerprint or case.block_reason not in WAIT_FOR_MEMBER:
        return []
    last_card = (
        PaymentAttempt.objects.filter(invoice_id=OuterRef("pk"))
        .order_by("-pk")
        .values("card_fingerprint")[:1]
    )
    waiting_elsewhere = DunningCase.objects.filter(invoice_id=OuterRef("pk")).exclude(
        status__in=ACTIVE_CASE_STATUSES,
        blocked_fingerprint=case.blocked_fingerprint,
        block_reason__in=WAIT_FOR_MEMBER,
        payment_plan__isnull=True,
    )
    found = (
        Invoice.objects.filter(member_id=case.member_id, status=InvoiceStatus.OPEN)
        .filter(Q(due_on__isnull=True) | Q(due_on__lte=today))
        .exclude(pk=case.invoice_id)
        .annotate(last_card=Subquery(last_card))
        .filter(last_card=case.blocked_fingerprint)
        .exclude(Exists(waiting_elsewhere))
        .order_by("pk")
    )
    return [invoice for invoice in found if invoice.amount_due > 0]


def pay_page_invoices(
    case: DunningCase, installments: list[PaymentPlanInstallment] | None, today: dt.date
) -> list[Invoice]:
    """What the case's pay page collects, in order: the case's own invoices due by
    ``today``, its open late fee, then (a payer asked once for a new card for every
    renewal on it) the other invoices waiting on the same card (:func:`same_card_invoices`).
    The page and the message that links to it both show this."""
    owed = owed_invoices(case, installments, today)
    fee = case.late_fee_invoice
    if fee is not None and fee.status == InvoiceStatus.OPEN and fee.amount_due > 0:
        owed.append(fee)
    owed += [invoice for invoice in same_card_invoices(case, today) if invoice not in owed]
    return owed


def ask_leads(cases: Iterable[DunningCase]) -> dict[tuple[int, str], int]:
    """For each (member, blocked card) among ``cases``: the open case that asks the member
    for a new card (the oldest); the others stay silent about it.  One query."""
    waiting = [
        case for case in cases if case.blocked_fingerprint and case.block_reason in WAIT_FOR_MEMBER
    ]
    if not waiting:
        return {}
    rows = (
        DunningCase.objects.filter(
            member_id__in={case.member_id for case in waiting},
            blocked_fingerprint__in={case.blocked_fingerprint for case in waiting},
            block_reason__in=WAIT_FOR_MEMBER,
            status__in=ACTIVE_CASE_STATUSES,
        )
        .values("member_id", "blocked_fingerprint")
        .annotate(lead=Min("pk"))
        .values_list("member_id", "blocked_fingerprint", "lead")
    )
    return {(member_id, fingerprint): lead for member_id, fingerprint, lead in rows}


def case_queue() -> QuerySet[DunningCase]:
    """Cases still in dunning, the most urgent first (the desk's queue)."""
    return (
        DunningCase.objects.filter(status__in=ACTIVE_CASE_STATUSES)
        .select_related("member", "invoice")
        .order_by("next_action_at", "pk")
    )


def member_timeline(member_id: int) -> QuerySet[DunningEvent]:
    """Every dunning event for the member, newest first: the evidence."""
    return (
        DunningEvent.objects.filter(member_id=member_id)
        .select_related("case__invoice", "actor", "message")
        .order_by("-at", "-pk")
    )


def open_case_for_invoice(invoice_id: int) -> DunningCase | None:
    return DunningCase.objects.filter(
        Q(invoice_id=invoice_id)
        | Q(late_fee_invoice_id=invoice_id)
        | Q(payment_plan__installments__invoice_id=invoice_id)
    ).first()
