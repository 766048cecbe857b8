"""Refunds: money given back on a payment, never twice, never lost.

A refund is written first (``pending``, with its one idempotency key) under the payment's
lock, holding its amount so that refunds together never exceed the payment.  Cash, bank
transfers and the like are settled at once.  A card refund is then asked of the gateway:

- it succeeds: the refund is settled (the payment's refunded total grows and a credit
  note is issued), once, however many times the answer arrives;
- the gateway refuses it: the refund is ``failed`` and releases its amount;
- no answer (a timeout, the process died): it stays ``pending``.
  :func:`refunds_resend_pending`, run by Celery beat, asks again with the same key, which
  the gateway answers with the refund it already made; the gateway's refund webhook
  settles it too.  Gateways forget idempotency keys after a day (Stripe: 24 hours), so a
  refund still pending after :data:`KEY_LIFETIME` is never sent again: it goes to
  ``review``, as does a refused refund the gateway later reports as made, and staff
  resolve it (:func:`refund_resolve`) after checking the gateway.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Sum

from config import clock
from config.errors import DomainError
from members.audit import audit_record

from ..errors import RefundNotAllowed
from ..gateways import get_gateway
from ..gateways.interface import GatewayError, RefundRequest
from ..models import (
    OPEN_REFUND_STATUSES,
    Invoice,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentSource,
    Refund,
    RefundStatus,
)
from .invoices import credit_note_issue

logger = logging.getLogger(__name__)

# A pending card refund is asked again when it has been quiet this long ...
RESEND_AFTER = dt.timedelta(minutes=5)
# ... and never once the gateway may have forgotten its idempotency key.
KEY_LIFETIME = dt.timedelta(hours=23)


def payment_refund(payment: Payment, *, amount: int, reason: str, user: Any = None) -> Refund:
    """Refund (part of) a payment: by the gateway for cards; always with a credit note.

    Returns the refund, ``succeeded`` or, when the gateway's answer was lost,
    ``pending`` (it is asked again later).  Raises ``RefundNotAllowed`` for a refusal.
    """
    if amount <= 0:
        raise RefundNotAllowed(reason="amount_not_positive")
    with transaction.atomic():
        locked = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("attempt", "invoice")
            .get(pk=payment.pk)
        )
        held = _held(Refund.objects.filter(payment=locked))
        if amount > locked.amount - locked.amount_refunded - held:
            raise RefundNotAllowed(reason="exceeds_payment")
        # The credit note must fit too: a correction may already have credited the invoice.
        invoice = Invoice.objects.select_for_update().get(pk=locked.invoice_id)
        creditable = invoice.total - invoice.amount_credited
        if amount > creditable - _held(Refund.objects.filter(payment__invoice=invoice)):
            raise RefundNotAllowed(reason="exceeds_invoice_credit")
        number = locked.refunds.count() + 1
        refund = Refund.objects.create(
            payment=locked,
            amount=amount,
            currency=locked.currency,
            idempotency_key=f"pay{locked.pk}-r{number}",
            reason=reason[:200],
            created_at=clock.now(),
        )
        audit_record(
            "payment.refund",
            refund,
            member=invoice.member_id,
            before={"amount_refunded": locked.amount_refunded},
            after={"amount": amount, "currency": locked.currency, "payment": locked.pk},
            reason=reason,
            actor=user,
        )
        if not _by_card(locked):
            return refund_settle(refund, "", user=user)
    return refund_send(refund, user=user)


def _held(refunds: Any) -> int:
    """What the open refunds among ``refunds`` hold."""
    return int(
        refunds.filter(status__in=OPEN_REFUND_STATUSES).aggregate(total=Sum("amount"))["total"] or 0
    )


def _by_card(payment: Payment) -> bool:
    return payment.source == PaymentSource.CARD and payment.attempt is not None


def refund_send(refund: Refund, *, user: Any = None) -> Refund:
    """Ask the gateway for a pending card refund, with its one idempotency key."""
    payment = Payment.objects.select_related("attempt").get(pk=refund.payment_id)
    attempt = payment.attempt
    if not _by_card(payment) or attempt is None:
        raise RefundNotAllowed(reason="not_a_card_payment")
    now = clock.now()
    try:
        result = get_gateway(attempt.gateway).refund(
            RefundRequest(
                gateway_reference=attempt.gateway_reference,
                amount=refund.amount,
                currency=refund.currency,
                idempotency_key=refund.idempotency_key,
                reason=refund.reason,
            )
        )
    except GatewayError as exc:
        logger.warning("Refund %s: no answer from the gateway; asked again later", refund.pk)
        Refund.objects.filter(pk=refund.pk, status=RefundStatus.PENDING).update(
            tries=F("tries") + 1, last_tried_at=now, message=str(exc)[:300]
        )
        refund.refresh_from_db()
        return refund
    if not result.succeeded:
        Refund.objects.filter(pk=refund.pk, status=RefundStatus.PENDING).update(
            status=RefundStatus.FAILED,
            tries=F("tries") + 1,
            last_tried_at=now,
            message=result.message[:300],
        )
        refund.refresh_from_db()
        raise RefundNotAllowed(reason="gateway_refused", message=result.message)
    return refund_settle(refund, result.gateway_reference, user=user)


@transaction.atomic
def refund_settle(refund: Refund, gateway_reference: str, *, user: Any = None) -> Refund:
    """The money went back: count it on the payment and issue the credit note, once.

    Only an open refund settles.  A refused one the gateway later reports as made goes to
    review instead: its amount was released and may have been refunded again since.
    """
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    if locked.status == RefundStatus.SUCCEEDED:
        return locked
    if locked.status not in OPEN_REFUND_STATUSES:
        return _to_review(locked, "The gateway reports this refused refund as made.")
    _settle_locked(locked, gateway_reference, user=user)
    refund.status, refund.gateway_reference = locked.status, locked.gateway_reference
    return locked


def _settle_locked(locked: Refund, gateway_reference: str, *, user: Any) -> None:
    payment = Payment.objects.select_for_update(of=("self",)).get(pk=locked.payment_id)
    if payment.amount_refunded + locked.amount > payment.amount:  # pragma: no cover - held
        raise RefundNotAllowed(reason="exceeds_payment")
    locked.status = RefundStatus.SUCCEEDED
    locked.gateway_reference = gateway_reference or locked.gateway_reference
    locked.message = ""
    locked.last_tried_at = clock.now()
    locked.save(update_fields=["status", "gateway_reference", "message", "last_tried_at"])
    Payment.objects.filter(pk=payment.pk).update(
        amount_refunded=F("amount_refunded") + locked.amount
    )
    credit_note_issue(
        Invoice.objects.get(pk=payment.invoice_id),
        amount=locked.amount,
        reason=locked.reason,
        user=user,
        refund=locked,
    )


def _to_review(locked: Refund, message: str) -> Refund:
    logger.error("Refund %s needs review: %s", locked.pk, message)
    locked.status, locked.message = RefundStatus.REVIEW, message[:300]
    locked.save(update_fields=["status", "message"])
    return locked


@transaction.atomic
def refund_resolve(refund: Refund, *, refunded: bool, user: Any = None, note: str = "") -> Refund:
    """Staff close a refund the system could not, after checking the gateway: it was
    made (settled, with its credit note) or it was not (refused, its amount released)."""
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    if locked.status not in OPEN_REFUND_STATUSES:
        raise RefundNotAllowed(reason="refund_not_open")
    if refunded:
        _settle_locked(locked, "", user=user)
    else:
        locked.status = RefundStatus.FAILED
        locked.message = (note or "Not refunded, as checked by staff.")[:300]
        locked.save(update_fields=["status", "message"])
    return locked


@dataclass
class ResendReport:
    asked: int = 0
    settled: int = 0
    refused: int = 0
    still_pending: int = 0
    errors: int = 0
    to_review: int = 0


def refunds_resend_pending(now: dt.datetime | None = None) -> ResendReport:
    """Ask the gateway again about every card refund left pending (beat, every 15 min).

    One refund's error never stops the others.  A refund older than the gateway's
    memory of its key goes to review instead of being sent again.
    """
    now = now or clock.now()
    quiet_since, forgotten = now - RESEND_AFTER, now - KEY_LIFETIME
    report = ResendReport()
    with transaction.atomic():
        stale = list(
            Refund.objects.select_for_update(skip_locked=True).filter(
                status=RefundStatus.PENDING, created_at__lt=forgotten
            )
        )
        for refund in stale:
            _to_review(refund, "No answer from the gateway within a day: check its dashboard.")
        report.to_review = len(stale)
    pending = (
        Refund.objects.filter(
            status=RefundStatus.PENDING,
            created_at__lte=quiet_since,
            created_at__gte=forgotten,
            payment__source=PaymentSource.CARD,
            payment__attempt__isnull=False,
        )
        .exclude(last_tried_at__gt=quiet_since)
        .order_by("created_at", "pk")
    )
    for refund in pending.iterator(chunk_size=200):
        report.asked += 1
        try:
            sent = refund_send(refund)
        except RefundNotAllowed:
            report.refused += 1
            continue
        except Exception as exc:  # one refund's error must not stop the others
            logger.exception("Refund %s could not be settled: %s", refund.pk, exc)
            report.errors += 1
            continue
        if sent.status == RefundStatus.SUCCEEDED:
            report.settled += 1
        else:
            report.still_pending += 1
    return report


def refund_noted_by_gateway(idempotency_key: str, gateway_reference: str) -> Refund | None:
    """A verified refund webhook: settle the pending refund it names, if it is ours."""
    refunds = Refund.objects.all()
    found = None
    if idempotency_key:
        found = refunds.filter(idempotency_key=idempotency_key).first()
    if found is None and gateway_reference:
        found = refunds.filter(gateway_reference=gateway_reference).first()
    if found is None:
        return None
    return refund_settle(found, gateway_reference)


DUPLICATE_REASON = "Paid twice: refunded automatically"


def duplicate_payments_refund(duplicates: Sequence[tuple[int, int]]) -> list[Refund]:
    """Money that arrived twice for an invoice (``(payment id, excess)``): refund the
    excess through the payment's own route (the card back to the card, cash back at the
    desk, a transfer back to the bank), with its credit note, and take back the account
    credit the excess had become.  Kept as credit only when the member chose so
    (``Member.overpayment_as_credit``).  A refund that cannot be made now is logged and
    shows under Refunds (pending or failed) for staff; it never undoes the payment."""
    made: list[Refund] = []
    for payment_id, excess in duplicates:
        payment = Payment.objects.select_related("invoice__member").get(pk=payment_id)
        member = payment.invoice.member
        if excess <= 0 or member.overpayment_as_credit:
            continue
        already = _held(Refund.objects.filter(payment=payment, reason=DUPLICATE_REASON))
        if (
            already
            or Refund.objects.filter(
                payment=payment, reason=DUPLICATE_REASON, status=RefundStatus.SUCCEEDED
            ).exists()
        ):
            continue
        try:
            refund = payment_refund(payment, amount=excess, reason=DUPLICATE_REASON)
        except DomainError as exc:  # e.g. the invoice was credited meanwhile: staff decide
            logger.error("Duplicate payment %s not refunded: %s", payment_id, exc.reason)
            continue
        if refund.status != RefundStatus.FAILED:
            # The excess was account credit; it is on its way back instead.
            LedgerEntry.objects.create(
                member=member,
                kind=LedgerKind.ACCOUNT_CHARGE,
                amount=excess,
                currency=payment.currency,
                description=f"Paid twice on {payment.invoice.number}: refunded",
                invoice=payment.invoice,
            )
        made.append(refund)
    return made
