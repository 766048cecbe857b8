"""Celery tasks: thin wrappers around POS services."""

from __future__ import annotations

from celery import shared_task

from billing.services.notifications import notifications_settle_interrupted

from .services.receipts import receipt_email_send


@shared_task(acks_late=True)
def send_receipt(sale_id: int) -> bool:
    # A receipt a killed worker was sending is settled first (one query when none was).
    notifications_settle_interrupted()
    return receipt_email_send(sale_id)
