"""Celery tasks: thin wrappers around dunning services."""

from __future__ import annotations

from celery import shared_task

from .services.messages import messages_deliver
from .services.run import cases_advance, dunning_run


@shared_task
def run_dunning() -> dict[str, int]:
    """The hourly beat job: one pass over the due cases."""
    report = dunning_run()
    return {
        "due": report.due,
        "advanced": report.advanced,
        "steps": report.steps,
        "messages_sent": report.messages_sent,
        "retries": sum(report.retries.values()),
    }


@shared_task(acks_late=True)
def advance_cases(case_ids: list[int]) -> int:
    """Advance these cases now (after a failure, a new card, a payment plan)."""
    return cases_advance(case_ids).advanced


@shared_task(acks_late=True)
def deliver_messages(case_ids: list[int]) -> int:
    """Send the cases' due messages now (a thank-you after recovery)."""
    return messages_deliver(case_ids=case_ids)


@shared_task(
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=None,
)
def recover_invoices(invoice_ids: list[int]) -> int:
    """A payment's hook that failed, again: close the paid invoices' cases (retried until
    it succeeds; see ``dunning.hooks.on_invoices_paid``)."""
    from billing.models import Invoice

    from .services.messages import retried_on_conflict
    from .services.recovery import invoices_recovered

    invoices = list(Invoice.objects.filter(pk__in=invoice_ids))
    retried_on_conflict(lambda: invoices_recovered(invoices))
    return len(invoices)
