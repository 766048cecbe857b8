"""Verified gateway events: payment outcomes, refunds, card-updater changes."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from config import clock
from members.audit import acting
from members.audit_models import ActorKind

from ..gateways import get_gateway
from ..gateways.interface import EventType, GatewayEvent
from ..models import GatewayWebhookEvent, PaymentAttempt
from .payments import attempt_record_external, payment_method_card_updated
from .promptpay import promptpay_gateway_event
from .refunds import refund_noted_by_gateway


def webhook_receive(gateway_name: str, payload: bytes, headers: dict[str, str]) -> str:
    """Verify, de-duplicate and apply one webhook delivery.  Returns what was done.

    Raises ``WebhookSignatureError`` when the payload is not the gateway's.
    """
    event = get_gateway(gateway_name).parse_webhook(payload, headers)
    # The event is recorded and applied in one transaction: if applying fails, nothing is
    # recorded, the gateway hears an error and delivers it again.  What it changes is the
    # gateway's doing in the audit trail (the request's id and address kept).
    with acting(ActorKind.WEBHOOK, f"{gateway_name} webhook"), transaction.atomic():
        try:
            with transaction.atomic():
                record = GatewayWebhookEvent.objects.create(
                    gateway=gateway_name,
                    event_id=event.event_id,
                    type=event.type,
                    raw_type=event.raw_type[:80],
                    received_at=clock.now(),
                )
        except IntegrityError:
            return "duplicate"
        outcome = gateway_event_apply(gateway_name, event)
        GatewayWebhookEvent.objects.filter(pk=record.pk).update(outcome=outcome[:80])
    return outcome


def gateway_event_apply(gateway_name: str, event: GatewayEvent) -> str:
    if event.type in (
        EventType.PAYMENT_SUCCEEDED,
        EventType.PAYMENT_FAILED,
        EventType.PAYMENT_CANCELED,
    ):
        attempt = _find_attempt(gateway_name, event)
        if attempt is None:
            # Not a card charge: a PromptPay payment, if it is one of ours.
            outcome = promptpay_gateway_event(gateway_name, event)
            if outcome:
                return outcome
        if attempt is None or event.charge is None:
            return "unknown_payment"
        return f"attempt_{attempt_record_external(attempt, event.charge)}"
    if event.type == EventType.CARD_UPDATED and event.card is not None:
        method = payment_method_card_updated(event.card, gateway_name)
        return "card_updated" if method else "unknown_card"
    if event.type == EventType.REFUND_SUCCEEDED:
        refund = event.refund
        noted = (
            refund_noted_by_gateway(refund.idempotency_key, refund.gateway_reference)
            if refund is not None
            else None
        )
        if noted is None:
            return "refund_noted"
        return "refund_settled" if noted.succeeded else f"refund_{noted.status}"
    return "ignored"


def _find_attempt(gateway_name: str, event: GatewayEvent) -> PaymentAttempt | None:
    attempts = PaymentAttempt.objects.filter(gateway=gateway_name)
    if event.idempotency_key:
        found = attempts.filter(idempotency_key=event.idempotency_key).first()
        if found:
            return found
    reference = event.charge.gateway_reference if event.charge else ""
    return attempts.filter(gateway_reference=reference).first() if reference else None
