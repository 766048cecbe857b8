"""PromptPay requests: a QR for what is owed, and the payment it brings, exactly once.

A request is written (amount, invoices, expiry, who asked, idempotency key) and committed
before anything is asked of a gateway.  Then, by route:

- **gateway**: the gateway creates the PromptPay payment with the request's key and
  hands back the QR; its webhook (:func:`promptpay_gateway_event`), the page's poll
  (:func:`promptpay_request_check`) or the expiry task learn the outcome;
- **own_id**: the QR pays the gym's own PromptPay ID with the amount fixed; nothing
  tells us the money came, so staff confirm the transfer with the bank's reference
  (:func:`promptpay_request_confirm_transfer`).

Whichever way it is learnt, :func:`promptpay_request_mark_paid` records the money once:
it locks the request, and a request already paid is left alone.  Each invoice gets a
``Payment`` by billing's own path (``payment_record``), so dunning ends and access comes
back at once through the ``invoices_paid`` hook, as for any payment.  Money that arrives
for an invoice settled meanwhile, or after the QR expired or was withdrawn, is never
lost: it becomes account credit.

Locks are taken request first, then invoices (``payment_record``).  Creating a request
locks its invoices but never another request's row, so the two orders cannot cross.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from config import clock
from members.models import GymProfile, Member

from .. import hooks
from ..errors import PaymentNotAllowed, PromptPayNotAllowed
from ..gateways import default_gateway_name, get_gateway
from ..gateways.interface import (
    ChargeResult,
    ChargeStatus,
    EventType,
    GatewayError,
    GatewayEvent,
    PromptPayChargeRequest,
)
from ..models import (
    AttemptStatus,
    Invoice,
    InvoiceStatus,
    LedgerKind,
    PaymentAttempt,
    PaymentSource,
    PromptPayChannel,
    PromptPayRequest,
    PromptPayRequestInvoice,
    PromptPayRoute,
    PromptPayStatus,
)
from ..promptpay import conf
from ..promptpay.payload import MAX_AMOUNT, build_payload
from .invoices import ledger_post, payment_record

logger = logging.getLogger(__name__)

CURRENCY = "THB"
# The page's poll asks the gateway at most this often per request (its webhook is the
# usual messenger; this only covers one that is late or lost).
CHECK_INTERVAL_SECONDS = 15
# The expiry task asks the gateway about requests it has not heard of for this long.
RECONCILE_AFTER_SECONDS = 60
MAX_REFERENCE = 120
_UNSETTLED_ATTEMPTS = (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)


def _clean_text(value: str, limit: int) -> str:
    """Plain text for a reference: no control characters, within ``limit``."""
    text = str(value or "").strip()
    if len(text) > limit or any(not ch.isprintable() for ch in text):
        raise PromptPayNotAllowed(reason="reference_invalid")
    return text


def _check_amount(amount: Any) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= MAX_AMOUNT:
        raise PromptPayNotAllowed(reason="amount_invalid")
    return amount


# --- creating a request ---------------------------------------------------------------


@dataclass(frozen=True)
class _Asked:
    """What a request is for: whose money, how much, and per invoice."""

    member: Member | None
    amount: int
    lines: list[tuple[Invoice, int]]


def _asked_for_invoices(invoices: Sequence[Invoice], member: Member | None) -> _Asked:
    """Lock the invoices and read what is owed on them now (called inside a transaction)."""
    ids = sorted({invoice.pk for invoice in invoices})
    locked = list(Invoice.objects.select_for_update().filter(pk__in=ids).select_related("member"))
    if len(locked) != len(ids):
        raise PromptPayNotAllowed(reason="invoice_not_payable")
    members = {invoice.member_id for invoice in locked}
    if len(members) != 1 or (member is not None and member.pk not in members):
        raise PromptPayNotAllowed(reason="invoices_of_several_members")
    if any(invoice.currency != CURRENCY for invoice in locked):
        raise PromptPayNotAllowed(reason="currency_not_supported")
    if any(invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID) for invoice in locked):
        raise PromptPayNotAllowed(reason="invoice_not_payable")
    owing = [(inv, inv.amount_due) for inv in locked if inv.status == InvoiceStatus.OPEN]
    lines = [(invoice, due) for invoice, due in owing if due > 0]
    if not lines:
        raise PromptPayNotAllowed(reason="nothing_due")
    if PaymentAttempt.objects.filter(
        invoice_id__in=[invoice.pk for invoice, _ in lines], status__in=_UNSETTLED_ATTEMPTS
    ).exists():
        # Its outcome is not known yet: a QR now could take the same money twice.
        raise PromptPayNotAllowed(reason="attempt_in_flight")
    total = _check_amount(sum(due for _, due in lines))
    return _Asked(member=lines[0][0].member, amount=total, lines=lines)


def _reusable(asked: _Asked, route: str) -> PromptPayRequest | None:
    """A pending request for exactly the same invoices and amounts, still payable: the
    page reloaded or the button was pressed twice, so the member keeps the same QR."""
    if asked.member is None or not asked.lines:
        return None
    wanted = {(invoice.pk, amount) for invoice, amount in asked.lines}
    candidates = (
        PromptPayRequest.objects.filter(
            member=asked.member,
            route=route,
            status=PromptPayStatus.PENDING,
            amount=asked.amount,
            expires_at__gt=clock.now() + conf.expiry() / 3,
            lines__invoice_id__in=[invoice_id for invoice_id, _ in wanted],
        )
        .distinct()
        .prefetch_related("lines")
        .order_by("-created_at")
    )
    for candidate in candidates:
        if {(line.invoice_id, line.amount) for line in candidate.lines.all()} == wanted:
            return candidate
    return None


def promptpay_request_create(
    *,
    invoices: Sequence[Invoice] = (),
    amount: int | None = None,
    member: Member | None = None,
    channel: str,
    user: Any = None,
    reference: str = "",
    idempotency_key: str = "",
) -> PromptPayRequest:
    """A PromptPay QR for what is owed on ``invoices`` (one member's), or for ``amount``.

    With invoices the amount is what they owe now; without, ``amount`` is paid into the
    member's account as a deposit, or (no member) is a tender for the app named by
    ``reference``.  Asking again for the same invoices while a QR for them is still
    payable returns that request.  ``idempotency_key`` (an API client's) returns the
    request made with it.  Raises ``PromptPayNotAllowed``.
    """
    route = conf.route()
    if route == conf.OFF:
        raise PromptPayNotAllowed(reason="promptpay_unavailable")
    if channel not in PromptPayChannel.values:
        raise ValueError(f"Unknown PromptPay channel {channel!r}")
    reference = _clean_text(reference, 80)
    key = _clean_text(idempotency_key, 80)
    if key:
        existing = PromptPayRequest.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _same_request(existing, invoices, amount, member)
    with transaction.atomic():
        reused = None
        if invoices:
            asked = _asked_for_invoices(invoices, member)
            reused = _reusable(asked, route)
        else:
            if member is None and not reference:
                raise PromptPayNotAllowed(reason="member_or_reference_required")
            asked = _Asked(member=member, amount=_check_amount(amount), lines=[])
        request = reused or _request_write(asked, route, channel, user, reference, key)
    if route == PromptPayRoute.GATEWAY and not request.qr_data:
        # Also for a request another caller made a moment ago and is still asking the
        # gateway about: the same idempotency key gets the same payment and QR.
        _gateway_payment_create(request)
    if reused is None and asked.lines:
        _older_withdrawn(request)
    return request


def _older_withdrawn(request: PromptPayRequest) -> None:
    """Withdraw older QRs still offered for any of the same invoices (the amounts changed,
    or one was about to lapse): one payable QR per invoice, so one payment."""
    older = (
        PromptPayRequest.objects.filter(
            status=PromptPayStatus.PENDING,
            lines__invoice_id__in=request.lines.values("invoice_id"),
            member_reported_at__isnull=True,
        )
        .exclude(pk=request.pk)
        .distinct()
    )
    for stale in older:
        promptpay_request_expire(stale, why="superseded")


def _same_request(
    existing: PromptPayRequest,
    invoices: Sequence[Invoice],
    amount: int | None,
    member: Member | None,
) -> PromptPayRequest:
    asked_for = set(existing.lines.values_list("invoice", flat=True))
    same = (
        {invoice.pk for invoice in invoices} == asked_for
        and (member is None or member.pk == existing.member_id)
        and (invoices or amount == existing.amount)
    )
    if not same:
        raise PromptPayNotAllowed(reason="idempotency_key_reused")
    return existing


def _request_write(
    asked: _Asked, route: str, channel: str, user: Any, reference: str, key: str
) -> PromptPayRequest:
    now = clock.now()
    request = PromptPayRequest(
        member=asked.member,
        route=route,
        gateway=default_gateway_name() if route == PromptPayRoute.GATEWAY else "",
        channel=channel,
        amount=asked.amount,
        currency=CURRENCY,
        idempotency_key=key or f"pp-{uuid.uuid4().hex}",
        reference=reference,
        expires_at=now + conf.expiry(),
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        created_at=now,
    )
    if route == PromptPayRoute.OWN_ID:
        target = conf.own_target()
        if target is None:
            raise PromptPayNotAllowed(reason="promptpay_unavailable")
        request.qr_data = build_payload(target, asked.amount)
        request.payee = target.masked
    request.save()
    PromptPayRequestInvoice.objects.bulk_create(
        [
            PromptPayRequestInvoice(request=request, invoice=invoice, amount=amount)
            for invoice, amount in asked.lines
        ]
    )
    return request


def _payer_email(member: Member | None) -> str:
    """Where the gateway sends refund instructions: the member, else the gym."""
    if member is not None and member.email:
        return member.email
    gym = GymProfile.objects.only("email").first()
    if gym is not None and gym.email:
        return gym.email
    return str(settings.DEFAULT_FROM_EMAIL).rpartition("<")[2].rstrip(">").strip()


def _gateway_payment_create(request: PromptPayRequest) -> None:
    """Ask the gateway for the payment and its QR (after the request is committed).

    A gateway that refuses or cannot be heard leaves no QR anyone could pay: the
    request is closed and the caller hears ``gateway_unavailable``.
    """
    gateway = get_gateway(request.gateway)
    member = request.member
    charge_request = PromptPayChargeRequest(
        amount=request.amount,
        currency=request.currency,
        idempotency_key=request.idempotency_key,
        payer_email=_payer_email(member),
        payer_name=f"{member.first_name} {member.last_name}".strip() if member else "",
        description=f"PromptPay request {request.pk}",
        metadata={"promptpay_request": str(request.pk)},
    )
    try:
        created = gateway.promptpay_charge(charge_request)
        if created.charge.status == ChargeStatus.UNKNOWN:
            created = gateway.promptpay_charge(charge_request)  # same key: never twice
    except GatewayError as exc:
        logger.warning("PromptPay request %s refused by the gateway: %s", request.pk, exc)
        _close(request, PromptPayStatus.CANCELLED, message=str(exc)[:300])
        raise PromptPayNotAllowed(reason="gateway_unavailable") from exc
    charge = created.charge
    if charge.status == ChargeStatus.UNKNOWN or (
        charge.status == ChargeStatus.REQUIRES_ACTION and not created.qr_data
    ):
        _close(request, PromptPayStatus.CANCELLED, message=charge.message[:300])
        raise PromptPayNotAllowed(reason="gateway_unavailable")
    PromptPayRequest.objects.filter(pk=request.pk).update(
        gateway_reference=charge.gateway_reference[:120],
        qr_data=created.qr_data[:512],
        message=charge.message[:300],
        checked_at=clock.now(),
    )
    request.gateway_reference = charge.gateway_reference[:120]
    request.qr_data = created.qr_data[:512]
    if charge.status != ChargeStatus.REQUIRES_ACTION:
        promptpay_request_apply_result(request, charge)
    request.refresh_from_db()


# --- the outcome ----------------------------------------------------------------------


def promptpay_request_mark_paid(
    request: PromptPayRequest, *, amount: int, bank_reference: str = "", user: Any = None
) -> bool:
    """Record that ``amount`` arrived for ``request``; ``True`` if this call recorded it.

    Exactly once: the request's row is locked, and one already paid is left as it is.
    Each invoice gets a PromptPay ``Payment`` (in order, up to what it was asked for; any
    surplus goes with the last), through ``payment_record``; an invoice that can no
    longer take it (paid or voided meanwhile) turns its share into account credit.
    Without invoices the money is a deposit to the member's account (if there is a
    member).  ``hooks.promptpay_paid`` run after commit.
    """
    amount = _check_amount(amount)
    with transaction.atomic():
        locked = PromptPayRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status == PromptPayStatus.PAID:
            return False
        now = clock.now()
        locked.status = PromptPayStatus.PAID
        locked.paid_amount = amount
        locked.paid_at = now
        locked.closed_at = locked.closed_at or now
        locked.bank_reference = bank_reference[:120]
        locked.confirmed_by = user if getattr(user, "is_authenticated", False) else None
        locked.save()
        _money_record(locked, amount, user)
        transaction.on_commit(lambda: _after_paid(locked))
    request.refresh_from_db()
    return True


def _money_record(request: PromptPayRequest, amount: int, user: Any) -> None:
    lines = list(request.lines.select_related("invoice").order_by("pk"))
    payment_reference = (request.bank_reference or request.gateway_reference)[:120]
    if not lines:
        if request.member is not None:
            ledger_post(
                request.member,
                kind=LedgerKind.DEPOSIT,
                amount=amount,
                currency=request.currency,
                description=f"PromptPay {payment_reference}".strip()[:200],
                reference=f"promptpay:{request.pk}",
                user=user,
            )
        return
    remaining = amount
    for position, line in enumerate(lines):
        last = position == len(lines) - 1
        share = remaining if last else min(remaining, line.amount)
        if share <= 0:
            break
        remaining -= share
        try:
            line.payment = payment_record(
                line.invoice,
                amount=share,
                source=PaymentSource.PROMPTPAY,
                reference=payment_reference,
                user=user,
            )
        except PaymentNotAllowed:
            # Settled or voided meanwhile: the money is the member's, as credit.
            ledger_post(
                line.invoice.member,
                kind=LedgerKind.CREDIT,
                amount=share,
                currency=request.currency,
                description=f"PromptPay for {line.invoice.number} (already settled)"[:200],
                reference=f"promptpay:{request.pk}:{line.invoice_id}",
                user=user,
            )
            line.credited = share
            line.save(update_fields=["credited"])
            continue
        line.save(update_fields=["payment"])


def _after_paid(request: PromptPayRequest) -> None:
    for hook in hooks.promptpay_paid:
        hook(request)


def _close(request: PromptPayRequest, status: str, *, message: str = "") -> bool:
    """Close a pending request (expired or cancelled); ``False`` if it was not pending."""
    now = clock.now()
    fields: dict[str, Any] = {"status": status, "closed_at": now, "checked_at": now}
    if message:
        fields["message"] = message[:300]
    closed = PromptPayRequest.objects.filter(pk=request.pk, status=PromptPayStatus.PENDING).update(
        **fields
    )
    request.refresh_from_db()
    return bool(closed)


def promptpay_request_apply_result(request: PromptPayRequest, result: ChargeResult) -> str:
    """What the gateway says became of the payment, recorded: ``paid``, ``already_paid``,
    ``expired``, ``cancelled``, ``not_pending`` or ``waiting``."""
    if result.status == ChargeStatus.SUCCEEDED:
        paid = promptpay_request_mark_paid(
            request,
            amount=result.amount or request.amount,
            bank_reference=result.gateway_reference or request.gateway_reference,
        )
        return "paid" if paid else "already_paid"
    if result.status == ChargeStatus.FAILED:
        status = (
            PromptPayStatus.CANCELLED
            if result.decline_code == "canceled"
            else PromptPayStatus.EXPIRED
        )
        return str(status) if _close(request, status, message=result.message) else "not_pending"
    PromptPayRequest.objects.filter(pk=request.pk).update(checked_at=clock.now())
    return "waiting"


def promptpay_gateway_event(gateway_name: str, event: GatewayEvent) -> str:
    """A verified gateway event about a payment, if it is a PromptPay request's.

    Returns ``""`` when no request matches (the event is someone else's), else the
    outcome (``promptpay_paid``, ``promptpay_already_paid``, ``promptpay_expired`` ...).
    A cancellation event closes the request as cancelled whatever its decline code.
    """
    charge = event.charge
    if charge is None:
        return ""
    key = event.idempotency_key
    requests = PromptPayRequest.objects.filter(gateway=gateway_name)
    request = requests.filter(idempotency_key=key).first() if key else None
    if request is None and charge.gateway_reference:
        request = requests.filter(gateway_reference=charge.gateway_reference).first()
    if request is None:
        return ""
    if event.type == EventType.PAYMENT_CANCELED and charge.status == ChargeStatus.FAILED:
        charge = ChargeResult(
            status=ChargeStatus.FAILED,
            gateway_reference=charge.gateway_reference,
            amount=charge.amount,
            currency=charge.currency,
            decline_code="canceled",
            message=charge.message,
        )
    return f"promptpay_{promptpay_request_apply_result(request, charge)}"


def promptpay_request_check(request: PromptPayRequest, *, force: bool = False) -> str:
    """Ask the gateway about a pending request (its webhook may be late or lost), at most
    every ``CHECK_INTERVAL_SECONDS`` unless ``force``.  Returns the outcome, or
    ``"not_asked"``."""
    if request.status != PromptPayStatus.PENDING or request.route != PromptPayRoute.GATEWAY:
        return "not_asked"
    if not request.gateway_reference:
        return "not_asked"
    now = clock.now()
    if not force:
        cutoff = now - dt.timedelta(seconds=CHECK_INTERVAL_SECONDS)
        claimed = PromptPayRequest.objects.filter(
            Q(checked_at__isnull=True) | Q(checked_at__lte=cutoff),
            pk=request.pk,
            status=PromptPayStatus.PENDING,
        ).update(checked_at=now)
        if not claimed:
            return "not_asked"
    try:
        result = get_gateway(request.gateway).promptpay_status(request.gateway_reference)
    except GatewayError as exc:
        logger.warning("Could not ask about PromptPay request %s: %s", request.pk, exc)
        return "not_asked"
    return promptpay_request_apply_result(request, result)


# --- staff and member actions ---------------------------------------------------------


def promptpay_request_confirm_transfer(
    request: PromptPayRequest, *, amount: int, bank_reference: str, user: Any
) -> PromptPayRequest:
    """Staff saw the transfer to the gym's own PromptPay ID in the bank: record it.

    ``amount`` is what arrived (at most what was asked; a surplus is a separate deposit)
    and ``bank_reference`` the bank's reference for the transfer.  Works on an expired
    request too (the QR still pays after our expiry); a paid one is refused.
    """
    if request.route != PromptPayRoute.OWN_ID:
        raise PromptPayNotAllowed(reason="confirmed_by_gateway")
    reference = _clean_text(bank_reference, MAX_REFERENCE)
    if not reference:
        raise PromptPayNotAllowed(reason="reference_invalid")
    amount = _check_amount(amount)
    if amount > request.amount:
        raise PromptPayNotAllowed(reason="amount_exceeds_request")
    if not promptpay_request_mark_paid(request, amount=amount, bank_reference=reference, user=user):
        raise PromptPayNotAllowed(reason="already_paid")
    return request


def promptpay_request_report_paid(request: PromptPayRequest) -> PromptPayRequest:
    """The member says they paid a QR to the gym's own ID: the desk is to check the bank.

    The request then waits for staff and is not expired automatically."""
    if request.route != PromptPayRoute.OWN_ID:
        raise PromptPayNotAllowed(reason="confirmed_by_gateway")
    PromptPayRequest.objects.filter(
        pk=request.pk,
        status__in=[PromptPayStatus.PENDING, PromptPayStatus.EXPIRED],
        member_reported_at__isnull=True,
    ).update(member_reported_at=clock.now())
    request.refresh_from_db()
    if request.status == PromptPayStatus.PAID:
        raise PromptPayNotAllowed(reason="already_paid")
    return request


def _withdraw(request: PromptPayRequest, status: str, why: str) -> str:
    """Close a pending request, withdrawing its gateway payment first so its QR can no
    longer be paid.  One the payer paid first is recorded as paid."""
    if request.status != PromptPayStatus.PENDING:
        return "not_pending"
    if request.route == PromptPayRoute.GATEWAY and request.gateway_reference:
        try:
            result = get_gateway(request.gateway).cancel_charge(request.gateway_reference)
        except GatewayError as exc:
            logger.warning("Could not withdraw PromptPay request %s: %s", request.pk, exc)
            return "gateway_unavailable"
        if result.status == ChargeStatus.SUCCEEDED:
            return promptpay_request_apply_result(request, result)
        if result.status != ChargeStatus.FAILED:
            return "gateway_unavailable"
    return str(status) if _close(request, status, message=why) else "not_pending"


def promptpay_request_cancel(request: PromptPayRequest, *, why: str = "") -> PromptPayRequest:
    """Withdraw a pending request (staff, or the member choosing another way to pay).

    Raises ``PromptPayNotAllowed`` (``already_paid``: the payer was quicker;
    ``not_pending``; ``gateway_unavailable``: try again)."""
    outcome = _withdraw(request, PromptPayStatus.CANCELLED, why or "cancelled")
    request.refresh_from_db()
    if outcome in ("paid", "already_paid"):
        raise PromptPayNotAllowed(reason="already_paid")
    if outcome == "gateway_unavailable":
        raise PromptPayNotAllowed(reason="gateway_unavailable")
    if outcome != PromptPayStatus.CANCELLED:
        raise PromptPayNotAllowed(reason="not_pending")
    return request


def promptpay_request_expire(request: PromptPayRequest, *, why: str = "expired") -> str:
    """Expire one pending request (its time is up, or what it pays was settled another
    way); returns the outcome (``expired``, ``paid``, ``gateway_unavailable`` ...)."""
    return _withdraw(request, PromptPayStatus.EXPIRED, why)


@dataclass
class ExpiryReport:
    expired: int = 0
    paid: int = 0
    still_pending: int = 0
    checked: int = 0


def promptpay_requests_expire(*, batch: int = 200) -> ExpiryReport:
    """The beat task's work: expire requests whose time is up (unless the member says
    they paid and staff are to check) or whose invoices were settled another way, and
    ask the gateway about pending ones it has not heard of for a while."""
    report = ExpiryReport()
    now = clock.now()
    pending = PromptPayRequest.objects.filter(status=PromptPayStatus.PENDING)
    due = list(
        pending.filter(expires_at__lte=now, member_reported_at__isnull=True).order_by("pk")[:batch]
    )
    settled = list(
        pending.filter(lines__isnull=False)
        .exclude(lines__invoice__status=InvoiceStatus.OPEN)
        .exclude(pk__in=[request.pk for request in due])
        .distinct()
        .order_by("pk")[:batch]
    )
    for request, why in [(r, "expired") for r in due] + [(r, "settled_elsewhere") for r in settled]:
        outcome = promptpay_request_expire(request, why=why)
        if outcome in ("paid", "already_paid"):
            report.paid += 1
        elif outcome == PromptPayStatus.EXPIRED:
            report.expired += 1
        else:
            report.still_pending += 1
    stale = now - dt.timedelta(seconds=RECONCILE_AFTER_SECONDS)
    for request in (
        pending.filter(
            Q(checked_at__isnull=True) | Q(checked_at__lte=stale),
            route=PromptPayRoute.GATEWAY,
            status=PromptPayStatus.PENDING,
        )
        .exclude(gateway_reference="")
        .order_by("pk")[:batch]
    ):
        report.checked += 1
        outcome = promptpay_request_check(request, force=True)
        if outcome in ("paid",):
            report.paid += 1
    return report


__all__ = [
    "ExpiryReport",
    "promptpay_gateway_event",
    "promptpay_request_apply_result",
    "promptpay_request_cancel",
    "promptpay_request_check",
    "promptpay_request_confirm_transfer",
    "promptpay_request_create",
    "promptpay_request_expire",
    "promptpay_request_mark_paid",
    "promptpay_request_report_paid",
    "promptpay_requests_expire",
]
