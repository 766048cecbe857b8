"""What dunning holds about a member, for the privacy registry (``members.privacy``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from members.privacy.registry import ModelPolicy, RowsFor, register

from .models import (
    DunningCase,
    DunningEvent,
    DunningMessage,
    PayLinkMessage,
    PaymentPlan,
    PaymentPlanInstallment,
    ScheduledRetry,
    StepExecution,
)

CASE_KEPT = gettext_lazy(
    "The recovery of an unpaid invoice (dates, amounts, steps taken): kept with the "
    "invoices it concerns; it holds no contact details."
)


def register_dunning() -> None:
    register(
        ModelPolicy(
            "dunning.DunningCase",
            rows=lambda m: DunningCase.objects.filter(member=m),
            erase=lambda m, now: DunningCase.objects.filter(member=m).update(
                blocked_fingerprint="", pause_reason=""
            ),
        )
    )
    entries1: list[tuple[str, RowsFor]] = [
        ("dunning.ScheduledRetry", lambda m: ScheduledRetry.objects.filter(case__member=m)),
        ("dunning.StepExecution", lambda m: StepExecution.objects.filter(case__member=m)),
        ("dunning.DunningEvent", lambda m: DunningEvent.objects.filter(member=m)),
        ("dunning.PaymentPlan", lambda m: PaymentPlan.objects.filter(case__member=m)),
        (
            "dunning.PaymentPlanInstallment",
            lambda m: PaymentPlanInstallment.objects.filter(plan__case__member=m),
        ),
    ]
    for label, rows in entries1:
        register(ModelPolicy(label, rows=rows, retained=CASE_KEPT))
    # That a message went (once) stays; to whom and what it said goes.
    register(
        ModelPolicy(
            "dunning.DunningMessage",
            rows=lambda m: DunningMessage.objects.filter(member=m),
            erase=lambda m, now: DunningMessage.objects.filter(member=m).update(
                recipient="", subject="", body="", error=""
            ),
        )
    )
    register(
        ModelPolicy(
            "dunning.PayLinkMessage",
            rows=lambda m: PayLinkMessage.objects.filter(member=m),
            erase=lambda m, now: PayLinkMessage.objects.filter(member=m).update(
                recipient="", subject="", body="", error=""
            ),
        )
    )
