"""Celery tasks: thin wrappers around billing services."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from config import clock

from .services import notifications, promptpay, refunds, run
from .services.memberships import memberships_apply_scheduled
from .services.payments import attempts_reconcile
from .services.snapshots import mrr_months_write


@shared_task(acks_late=True)
def bill_batch(membership_ids: list[int], day: str) -> dict[str, int]:
    return run.billing_run_batch(membership_ids, dt.date.fromisoformat(day))


@shared_task
def daily_billing() -> dict[str, int]:
    """The daily beat job: the calendar's turn, then the run, then reminders."""
    today = clock.today()
    memberships_apply_scheduled(today)
    report = run.billing_run(today)
    notifications.renewal_reminders_send(today)
    notifications.card_expiring_reminders_send(today)
    return {"due": report.due, "invoiced": report.invoiced, "succeeded": report.succeeded}


@shared_task
def reconcile_attempts() -> dict[str, int]:
    return attempts_reconcile(older_than_seconds=300)


@shared_task
def resend_pending_refunds() -> dict[str, int]:
    """Ask the gateway again about card refunds whose answer was lost (every 15 min)."""
    report = refunds.refunds_resend_pending()
    return {
        "asked": report.asked,
        "settled": report.settled,
        "refused": report.refused,
        "still_pending": report.still_pending,
    }


@shared_task
def send_receipts(invoice_ids: list[int]) -> int:
    notifications.notifications_settle_interrupted()  # one query when none was interrupted
    return notifications.receipts_send(invoice_ids)


@shared_task
def expire_promptpay_requests() -> dict[str, int]:
    """Every minute: expire PromptPay QRs whose time is up or whose invoices were paid
    another way, and ask the gateway about those it has not heard of."""
    report = promptpay.promptpay_requests_expire()
    return {
        "expired": report.expired,
        "paid": report.paid,
        "still_pending": report.still_pending,
        "checked": report.checked,
    }


@shared_task
def snapshot_mrr() -> dict[str, int]:
    """The daily beat job that writes each closed month's MRR once (a no-op mid-month)."""
    return {"months": len(mrr_months_write())}
