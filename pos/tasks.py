"""Celery tasks: thin wrappers around POS services."""

from __future__ import annotations

from celery import shared_task

from .services.receipts import receipt_email_send


@shared_task(acks_late=True)
def send_receipt(sale_id: int) -> bool:
    return receipt_email_send(sale_id)
