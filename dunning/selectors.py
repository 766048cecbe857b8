"""Reads of dunning that its services, views, admin and API use."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from billing.models import Invoice, InvoiceStatus

from .models import (
    ACTIVE_CASE_STATUSES,
    DunningCase,
    DunningEvent,
    LadderStep,
    PaymentPlanInstallment,
    RetryPolicy,
)


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
