"""Collecting money: payment methods, payment attempts, reconciliation, refunds.

An attempt is written (with its idempotency key) and committed before the gateway is
called.  Charging locks the attempt rows (``FOR UPDATE SKIP LOCKED``) for the length of
the gateway call and records the outcome in the same transaction, so:

- two processes never charge the same attempt at once (the second skips it);
- a process that dies mid-call leaves the attempt ``pending`` and unlocked, and the
  next run re-sends it with the same key: the gateway answers with the original
  outcome and moves no money twice;
- a timed-out charge is ``unknown`` until :func:`attempts_reconcile` asks the gateway.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Max, Q

from config import clock
from config.db import bulk_insert_rows, bulk_update_rows
from members.models import Member

from .. import hooks
from ..declines import CUSTOMER_ACTION, HARD, LOW_FUNDS
from ..errors import PaymentNotAllowed
from ..gateways import get_gateway
from ..gateways.interface import (
    CardDetails,
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    GatewayError,
)
from ..gateways.redaction import looks_like_card_number, redact
from ..models import (
    AttemptStatus,
    AttemptTrigger,
    BillingReason,
    Invoice,
    InvoiceStatus,
    Membership,
    PaymentAttempt,
    PaymentMethod,
    PaymentMethodStatus,
)
from .invoices import payment_record

logger = logging.getLogger(__name__)

NO_PAYMENT_METHOD = "no_payment_method"
# A charge not sent, because its card had a hard decline (``hooks.cards_blocked``).
CARD_BLOCKED = "card_blocked"
# A charge not sent, because its card was just declined for low funds in the same run
# (a payer's other renewals on the card wait for its next retry; nothing reached the bank).
CARD_RESTING = "card_resting"
# Attempts that never reached a bank (the network caps do not count them).
NOT_SENT_CODES = (CARD_BLOCKED, CARD_RESTING)
UNSETTLED = (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)
# What a gateway may finally answer for a charge that waited for authentication.
FINAL_RESULTS = (ChargeStatus.SUCCEEDED, ChargeStatus.FAILED)


# --- Payment methods ------------------------------------------------------------------


@transaction.atomic
def payment_method_attach(
    member: Member, *, gateway: str, token: str, make_default: bool = True
) -> PaymentMethod:
    """Store a gateway token and its display details; the gateway is asked for them.

    A card number is refused before anything is sent anywhere, and a token stored for
    another member is never moved silently.
    """
    if looks_like_card_number(token):
        raise PaymentNotAllowed(reason="card_number_refused")
    owner = (
        PaymentMethod.objects.filter(gateway=gateway, token=token)
        .values_list("member_id", flat=True)
        .first()
    )
    if owner is not None and owner != member.pk:
        raise PaymentNotAllowed(reason="token_belongs_to_another_member")
    details = get_gateway(gateway).card_details(token)
    method, _ = PaymentMethod.objects.update_or_create(
        gateway=gateway,
        token=details.token,
        defaults={
            "member": member,
            "customer_reference": details.customer_reference,
            "brand": details.brand,
            "last4": details.last4,
            "exp_month": details.exp_month,
            "exp_year": details.exp_year,
            "fingerprint": details.fingerprint,
            "status": PaymentMethodStatus.ACTIVE,
        },
    )
    method.full_clean()
    if (
        make_default
        or not PaymentMethod.objects.filter(
            member=member, is_default=True, status=PaymentMethodStatus.ACTIVE
        )
        .exclude(pk=method.pk)
        .exists()
    ):
        _default_set(method)
    transaction.on_commit(lambda: _notify_method_updated(method))
    return method


def _notify_method_updated(method: PaymentMethod) -> None:
    for hook in hooks.payment_method_updated:
        hook(method)


@transaction.atomic
def payment_method_set_default(method: PaymentMethod) -> PaymentMethod:
    """Make ``method`` the payer's default; their memberships are charged on it from now.

    A new default is news for what waits on the member's card (dunning retries at once),
    as a new card is.
    """
    if method.status != PaymentMethodStatus.ACTIVE:
        raise PaymentNotAllowed(reason="method_detached")
    was_default = PaymentMethod.objects.filter(pk=method.pk, is_default=True).exists()
    _default_set(method)
    if not was_default:
        transaction.on_commit(lambda: _notify_method_updated(method))
    return method


def _default_set(method: PaymentMethod) -> None:
    PaymentMethod.objects.filter(member_id=method.member_id, is_default=True).exclude(
        pk=method.pk
    ).update(is_default=False)
    method.is_default = True
    method.save(update_fields=["is_default", "updated_at"])
    # A membership pinned to an older card follows the new default.
    Membership.objects.filter(payer_id=method.member_id).exclude(payment_method=None).exclude(
        payment_method=method
    ).update(payment_method=method)


@transaction.atomic
def payment_method_detach(method: PaymentMethod) -> PaymentMethod:
    """Remove a card; memberships that were pinned to it fall back to the default card."""
    method.status = PaymentMethodStatus.DETACHED
    method.is_default = False
    method.save(update_fields=["status", "is_default", "updated_at"])
    Membership.objects.filter(payment_method=method).update(payment_method=None)
    return method


def payment_method_card_updated(details: CardDetails, gateway: str) -> PaymentMethod | None:
    """A card-updater event: the same token now carries new details."""
    method = PaymentMethod.objects.filter(gateway=gateway, token=details.token).first()
    if method is None:
        return None
    method.brand, method.last4 = details.brand, details.last4
    method.exp_month, method.exp_year = details.exp_month, details.exp_year
    method.fingerprint = details.fingerprint or method.fingerprint
    method.save()
    transaction.on_commit(lambda: _notify_method_updated(method))
    return method


def default_payment_method(member_id: int) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(
        member_id=member_id, is_default=True, status=PaymentMethodStatus.ACTIVE
    ).first()


# --- Attempts -------------------------------------------------------------------------


def attempt_key(invoice_id: int, attempt_number: int) -> str:
    return f"inv{invoice_id}-a{attempt_number}"


def attempt_build(
    invoice: Invoice,
    method: PaymentMethod | None,
    *,
    number: int,
    trigger: str,
    blocked: Collection[str] = (),
) -> PaymentAttempt:
    """An unsaved attempt for the amount due.

    Without a method, or on a card in ``blocked`` (see ``hooks.cards_blocked``), it is a
    failure recorded here: nothing is sent to the gateway.
    """
    now = clock.now()
    attempt = PaymentAttempt(
        invoice=invoice,
        payment_method=method,
        attempt_number=number,
        trigger=trigger,
        gateway=method.gateway if method else "",
        amount=invoice.amount_due,
        currency=invoice.currency,
        idempotency_key=attempt_key(invoice.pk, number),
        card_fingerprint=method.fingerprint if method else "",
        card_brand=method.brand if method else "",
        created_at=now,
    )
    if method is None:
        attempt.status = AttemptStatus.FAILED
        attempt.decline_code = NO_PAYMENT_METHOD
        attempt.decline_category = CUSTOMER_ACTION
        attempt.message = "No payment method on file"
        attempt.completed_at = now
    elif method.fingerprint and method.fingerprint in blocked:
        attempt.status = AttemptStatus.FAILED
        attempt.decline_code = CARD_BLOCKED
        attempt.decline_category = HARD
        attempt.message = "Not sent: this card had a hard decline and is never charged again"
        attempt.completed_at = now
    return attempt


@dataclass(frozen=True)
class AttemptRequest:
    """One intent to charge an invoice: by whom, and on which card (``None``: the default)."""

    invoice_id: int
    trigger: str
    method: PaymentMethod | None = None


def attempts_create(
    requests: Sequence[AttemptRequest],
) -> list[PaymentAttempt | PaymentNotAllowed]:
    """Write the intents to charge several invoices at once, in a fixed number of queries.

    Each request gets its attempt, or the refusal :func:`attempt_create` would raise
    (nothing due, an attempt already in flight).  The attempts are committed before any
    gateway call; the caller sends them with :func:`attempts_process`.
    """
    if not requests:
        return []
    invoice_ids = sorted({request.invoice_id for request in requests})
    created: list[PaymentAttempt] = []
    results: list[PaymentAttempt | PaymentNotAllowed] = []
    with transaction.atomic():
        invoices = {
            invoice.pk: invoice
            for invoice in Invoice.objects.select_for_update()
            .filter(pk__any=invoice_ids)
            .order_by("pk")
        }
        in_flight: set[int] = set()
        waiting: list[PaymentAttempt] = []
        for attempt in PaymentAttempt.objects.filter(
            invoice_id__any=invoice_ids, status__in=[*UNSETTLED, AttemptStatus.REQUIRES_ACTION]
        ).only("pk", "invoice_id", "status", "gateway", "gateway_reference"):
            if attempt.status == AttemptStatus.REQUIRES_ACTION:
                waiting.append(attempt)
            else:
                in_flight.add(attempt.invoice_id)
        in_flight |= _waiting_stopped(waiting)
        numbers: dict[int, int] = dict(
            PaymentAttempt.objects.filter(invoice_id__any=invoice_ids)
            .values("invoice_id")
            .annotate(n=Max("attempt_number"))
            .values_list("invoice_id", "n")
        )
        need_default = {
            invoices[r.invoice_id].member_id
            for r in requests
            if r.method is None and r.invoice_id in invoices
        }
        defaults: dict[int, PaymentMethod] = {}
        if need_default:
            for method in PaymentMethod.objects.filter(
                member_id__any=need_default, is_default=True, status=PaymentMethodStatus.ACTIVE
            ).order_by("-pk"):
                defaults[method.member_id] = method
        blocked = hooks.cards_blocked(
            {
                method.fingerprint
                for method in [*defaults.values(), *(r.method for r in requests if r.method)]
            }
        )
        if waiting:  # a stopped charge may have gone through first: read what is due now
            invoices = {
                invoice.pk: invoice for invoice in Invoice.objects.filter(pk__any=invoice_ids)
            }
        for request in requests:
            invoice = invoices.get(request.invoice_id)
            if invoice is None or invoice.status != InvoiceStatus.OPEN or invoice.amount_due <= 0:
                results.append(PaymentNotAllowed(reason="nothing_due"))
                continue
            if invoice.pk in in_flight:
                results.append(PaymentNotAllowed(reason="attempt_in_flight"))
                continue
            number = numbers.get(invoice.pk, 0) + 1
            numbers[invoice.pk] = number
            chosen = request.method or defaults.get(invoice.member_id)
            if chosen is None and invoice.billing_reason == BillingReason.SIGNUP:
                # A first invoice with no card on file is paid at the desk: no card was
                # ever given, so no payment failed (no failed attempt, hence no dunning).
                results.append(PaymentNotAllowed(reason=NO_PAYMENT_METHOD))
                continue
            attempt = attempt_build(
                invoice, chosen, number=number, trigger=request.trigger, blocked=blocked
            )
            if attempt.status in UNSETTLED:
                in_flight.add(invoice.pk)
            created.append(attempt)
            results.append(attempt)
        bulk_insert_rows(created)
    failed = [attempt for attempt in created if attempt.status == AttemptStatus.FAILED]
    if failed:
        _after_failures(failed)
    return results


def _waiting_stopped(waiting: Sequence[PaymentAttempt]) -> set[int]:
    """Stop charges that wait for the cardholder's confirmation before their invoices are
    charged again, so the two can never both go through; record what each became (one
    the cardholder confirmed first is a payment).  Returns the invoices whose waiting
    charge could not be stopped: they stay in flight until it can.

    Called with the invoices locked: nobody else charges them meanwhile.
    """
    undecided: set[int] = set()
    for attempt in waiting:
        if not attempt.gateway_reference:
            continue  # nothing was created at the gateway: it cannot go through
        try:
            result = get_gateway(attempt.gateway).cancel_charge(attempt.gateway_reference)
        except GatewayError as exc:
            logger.warning("Could not stop %s: %s", attempt.pk, type(exc).__name__)
            undecided.add(attempt.invoice_id)
            continue
        if result.status in FINAL_RESULTS:
            attempt_record_external(attempt, result)
        else:
            undecided.add(attempt.invoice_id)
    return undecided


def attempt_create(
    invoice: Invoice, *, trigger: str, method: PaymentMethod | None = None
) -> PaymentAttempt:
    """Write the intent to charge ``invoice`` (committed before any gateway call)."""
    (result,) = attempts_create([AttemptRequest(invoice.pk, trigger, method)])
    if isinstance(result, PaymentNotAllowed):
        raise result
    return result


def invoice_charge(
    invoice: Invoice, *, trigger: str = AttemptTrigger.STAFF, method: PaymentMethod | None = None
) -> PaymentAttempt:
    """Charge what is due on ``invoice`` now, and return the settled attempt."""
    attempt = attempt_create(invoice, trigger=trigger, method=method)
    if attempt.status == AttemptStatus.PENDING:
        attempts_process([attempt.pk])
        attempt.refresh_from_db()
    return attempt


def _charge_request(attempt: PaymentAttempt) -> ChargeRequest:
    method = attempt.payment_method
    assert method is not None
    return ChargeRequest(
        amount=attempt.amount,
        currency=attempt.currency,
        payment_token=method.token,
        customer_reference=method.customer_reference,
        idempotency_key=attempt.idempotency_key,
        description=f"Invoice {attempt.invoice.number}",
        metadata={"invoice": attempt.invoice.number or "", "attempt": str(attempt.pk)},
        off_session=attempt.trigger in (AttemptTrigger.BILLING_RUN, AttemptTrigger.RETRY),
    )


def _call_gateway(attempt: PaymentAttempt) -> ChargeResult:
    try:
        return get_gateway(attempt.gateway).charge(_charge_request(attempt))
    except Exception as exc:
        logger.warning("Gateway call failed for %s: %s", attempt.idempotency_key, type(exc))
        return ChargeResult(status=ChargeStatus.UNKNOWN, message=type(exc).__name__)


def _lookup_gateway(attempt: PaymentAttempt) -> ChargeResult:
    try:
        found = get_gateway(attempt.gateway).lookup_charge(attempt.idempotency_key)
    except Exception as exc:
        return ChargeResult(status=ChargeStatus.UNKNOWN, message=type(exc).__name__)
    if found is None:
        # Nothing arrived at the gateway: sending again with the same key is safe.
        return _call_gateway(attempt)
    return found


def _apply_result(
    attempt: PaymentAttempt,
    result: ChargeResult,
    classify: Callable[[str, str, str], str] = hooks.classify_decline,
) -> None:
    attempt.status = {
        ChargeStatus.SUCCEEDED: AttemptStatus.SUCCEEDED,
        ChargeStatus.FAILED: AttemptStatus.FAILED,
        ChargeStatus.UNKNOWN: AttemptStatus.UNKNOWN,
        ChargeStatus.REQUIRES_ACTION: AttemptStatus.REQUIRES_ACTION,
    }[result.status]
    attempt.gateway_reference = result.gateway_reference[:120]
    attempt.decline_code = result.decline_code[:60]
    attempt.network_code = result.network_code[:10]
    attempt.advice_code = result.advice_code[:40]
    attempt.message = result.message[:300]
    attempt.raw_response = redact(result.raw)
    if attempt.status in (AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION):
        attempt.decline_category = classify(
            attempt.decline_code, attempt.network_code, attempt.advice_code
        )
    if attempt.status != AttemptStatus.UNKNOWN:
        attempt.completed_at = clock.now()


def _concurrency() -> int:
    return max(int(getattr(settings, "BILLING_CHARGE_CONCURRENCY", 32)), 1)


_charge_pools: dict[int, ThreadPoolExecutor] = {}
_charge_pools_lock = threading.Lock()
# A forked child (a prefork worker) has none of its parent's threads.
os.register_at_fork(after_in_child=_charge_pools.clear)


def _charge_pool(size: int) -> ThreadPoolExecutor:
    """The threads that call the gateways, kept for the life of the process, so each
    keeps its connections (an HTTP session, the sandbox's Redis) from batch to batch."""
    with _charge_pools_lock:
        pool = _charge_pools.get(size)
        if pool is None:
            pool = _charge_pools[size] = ThreadPoolExecutor(size, thread_name_prefix="gateway")
        return pool


def _card_key(fingerprint: str) -> int:
    return int.from_bytes(hashlib.sha256(fingerprint.encode()).digest()[:8], "big", signed=True)


def cards_lock(fingerprints: Iterable[str]) -> None:
    """Serialise every charge decision and every charge on these cards until the
    transaction ends: one PostgreSQL advisory lock per card fingerprint, taken in one
    statement in key order, so two processes locking overlapping sets never deadlock
    (level 5 of ``docs/locking.md``; dunning's network caps take the same locks)."""
    keys = sorted({_card_key(fp) for fp in fingerprints if fp})
    if not keys or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY 1) s",
            [keys],
        )


def _card_rounds(attempt_ids: Sequence[int]) -> list[list[int]]:
    """The unsettled attempts among ``attempt_ids`` in rounds: at most one per card in a
    round, a card's attempts in id order (a payer's renewals on one card one after the
    other).  Attempts without a card go in the first round."""
    per_card: dict[str, list[int]] = {}
    rounds: list[list[int]] = [[]]
    for pk, fingerprint in (
        PaymentAttempt.objects.filter(pk__any=list(attempt_ids), status__in=UNSETTLED)
        .order_by("pk")
        .values_list("pk", "card_fingerprint")
    ):
        if not fingerprint:
            rounds[0].append(pk)
            continue
        queue = per_card.setdefault(fingerprint, [])
        queue.append(pk)
        while len(rounds) < len(queue):
            rounds.append([])
        rounds[len(queue) - 1].append(pk)
    return [ids for ids in rounds if ids]


def attempts_process(attempt_ids: Sequence[int], *, lookup_first: bool = False) -> dict[str, int]:
    """Send the unsettled attempts among ``attempt_ids`` to their gateways and record results.

    One card, one charge at a time: a card's attempts go in rounds, one per round, each
    round committed before the next, and each under the cards' locks (:func:`cards_lock`)
    so no other process charges the card meanwhile.  After a decline that forbids the
    card (a hard decline, Mastercard advice 03/21: ``hooks.cards_blocked``) the card's
    remaining attempts are not sent: they fail as ``card_blocked``.  After a low-funds
    decline (``declines.LOW_FUNDS``) the card has no money now: its remaining attempts
    in this call are not sent either and fail as ``card_resting``, with the decline's
    category, so each is retried at the card's next planned retry (a payer's renewals on
    one card then reach the bank once per retry, not once per renewal, and stay clear of
    the networks' reattempt caps).

    Attempts another process is charging right now are skipped.  With ``lookup_first``
    the gateway is asked what became of each key before anything is sent.
    """
    outcome = {"succeeded": 0, "failed": 0, "unknown": 0, "skipped": 0, "blocked": 0, "resting": 0}
    if not attempt_ids:
        return outcome
    rounds = _card_rounds(attempt_ids)
    outcome["skipped"] = len(set(attempt_ids)) - sum(len(ids) for ids in rounds)
    resting: dict[str, str] = {}  # card -> the low-funds category it was declined with
    for ids in rounds:
        processed = _attempts_process_round(ids, lookup_first=lookup_first, resting=resting)
        for key, value in processed.items():
            outcome[key] += value
    return outcome


def _withheld(attempt: PaymentAttempt) -> ChargeResult | None:
    """An attempt on a card that may no longer be charged: never sent.  If a process that
    died had sent it already, the gateway's answer for its key is recorded; otherwise
    (``None``) it fails as ``card_blocked``."""
    try:
        return get_gateway(attempt.gateway).lookup_charge(attempt.idempotency_key)
    except Exception as exc:
        logger.warning("Could not ask about %s: %s", attempt.idempotency_key, type(exc))
        return ChargeResult(status=ChargeStatus.UNKNOWN, message=type(exc).__name__)


def _attempts_process_round(
    attempt_ids: Sequence[int], *, lookup_first: bool, resting: dict[str, str] | None = None
) -> dict[str, int]:
    """One round of :func:`attempts_process`.  ``resting``: cards declined for low funds
    earlier in the same call (their attempts are withheld); this round's low-funds
    declines are added to it."""
    resting = {} if resting is None else resting
    outcome = {"succeeded": 0, "failed": 0, "unknown": 0, "skipped": 0, "blocked": 0, "resting": 0}
    # A caller's own transaction may already hold rows below the cards (an invoice): it
    # cannot then wait for a card's lock without breaking the lock order.
    nested = connection.in_atomic_block
    with transaction.atomic():
        fingerprints = set(
            PaymentAttempt.objects.filter(pk__any=list(attempt_ids)).values_list(
                "card_fingerprint", flat=True
            )
        )
        # Level 5 before the attempts (7): the lock order of docs/locking.md.
        if not nested:
            cards_lock(fingerprints)
        attempts = list(
            PaymentAttempt.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__any=attempt_ids, status__in=UNSETTLED)
            .select_related("payment_method", "invoice")
        )
        outcome["skipped"] = len(set(attempt_ids)) - len(attempts)
        blocked = hooks.cards_blocked({a.card_fingerprint for a in attempts})
        held = blocked | {fp for fp in resting if fp}
        sending = [a for a in attempts if a.card_fingerprint not in held]
        withheld = [a for a in attempts if a.card_fingerprint in held]
        call = _lookup_gateway if lookup_first else _call_gateway
        if len(sending) == 1:
            results = [call(sending[0])]
        else:
            results = list(_charge_pool(_concurrency()).map(_threaded(call), sending))
        # A batch's declines share a handful of codes: each is classified once.
        classify = functools.lru_cache(maxsize=None)(hooks.classify_decline)
        for attempt, result in zip(sending, results, strict=True):
            _apply_result(attempt, result, classify)
        for attempt in withheld:
            found = _withheld(attempt)
            if found is not None:
                _apply_result(attempt, found, classify)
                continue
            now = clock.now()
            attempt.status = AttemptStatus.FAILED
            attempt.completed_at = now
            if attempt.card_fingerprint in blocked:
                attempt.decline_code = CARD_BLOCKED
                attempt.decline_category = HARD
                attempt.message = (
                    "Not sent: this card had a hard decline and is never charged again"
                )
                outcome["blocked"] += 1
            else:
                attempt.decline_code = CARD_RESTING
                attempt.decline_category = resting[attempt.card_fingerprint]
                attempt.message = (
                    "Not sent: this card was just declined for low funds; "
                    "retried at its next planned retry"
                )
                outcome["resting"] += 1
        for attempt in sending:
            if (
                attempt.status == AttemptStatus.FAILED
                and attempt.card_fingerprint
                and attempt.decline_category in LOW_FUNDS
            ):
                resting.setdefault(attempt.card_fingerprint, attempt.decline_category)
        bulk_update_rows(
            attempts,
            [
                "status",
                "gateway_reference",
                "decline_code",
                "network_code",
                "advice_code",
                "decline_category",
                "message",
                "raw_response",
                "completed_at",
            ],
        )
        succeeded = [a for a in attempts if a.status == AttemptStatus.SUCCEEDED]
        failed = [
            a for a in attempts if a.status in (AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION)
        ]
        _record_successes(succeeded)
        outcome["succeeded"] = len(succeeded)
        outcome["failed"] = len(failed)
        outcome["unknown"] = sum(a.status == AttemptStatus.UNKNOWN for a in attempts)
        if failed:
            transaction.on_commit(lambda: _after_failures(failed))
    return outcome


def attempt_record_external(attempt: PaymentAttempt, result: ChargeResult) -> str:
    """Record an outcome the gateway reported on its own (a webhook, or its answer after
    the cardholder authenticated).  Idempotent.

    A charge that waited for the cardholder to authenticate (``requires_action``, already
    counted as a failure) may still end either way: money that moved after all is
    recorded as a payment, never lost; a final refusal is noted, and was counted.
    """
    with transaction.atomic():
        locked = (
            PaymentAttempt.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("invoice", "payment_method")
            .filter(pk=attempt.pk)
            .first()
        )
        if locked is None:
            return "in_flight"  # the process charging it records the outcome itself
        waited = locked.status == AttemptStatus.REQUIRES_ACTION
        if not (locked.status in UNSETTLED or (waited and result.status in FINAL_RESULTS)):
            return "already_settled"
        _apply_result(locked, result)
        locked.save()
        if locked.status == AttemptStatus.SUCCEEDED:
            _record_successes([locked])
        elif not waited and locked.status in (AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION):
            transaction.on_commit(lambda: _after_failures([locked]))
    return locked.status


def attempt_authenticated(attempt: PaymentAttempt) -> str:
    """The cardholder finished the bank's authentication for ``attempt``: ask the gateway
    what became of the charge and record it (:func:`attempt_record_external`).

    Returns the attempt's status afterwards (still ``requires_action`` if the gateway has
    no final answer yet: its webhook will bring it).
    """
    if attempt.status != AttemptStatus.REQUIRES_ACTION:
        return str(attempt.status)
    try:
        result = get_gateway(attempt.gateway).lookup_charge(attempt.idempotency_key)
    except GatewayError as exc:
        logger.warning("Could not ask about %s: %s", attempt.idempotency_key, type(exc))
        result = None
    if result is None or result.status not in FINAL_RESULTS:
        return str(attempt.status)
    recorded = attempt_record_external(attempt, result)
    if recorded in AttemptStatus.values:
        return recorded
    # Settled (or being settled) by someone else meanwhile, e.g. the gateway's webhook.
    return str(PaymentAttempt.objects.values_list("status", flat=True).get(pk=attempt.pk))


def _threaded(call: Any) -> Any:
    """``call`` for a gateway thread: on the caller's clock (moved by ``--date``), and
    leaving no database connection open."""
    on_callers_clock = clock.carried(call)

    def run(attempt: PaymentAttempt) -> ChargeResult:
        try:
            return on_callers_clock(attempt)
        finally:
            connections.close_all()  # the thread lives on; it keeps no database connection

    return run


def _record_successes(attempts: Iterable[PaymentAttempt]) -> None:
    from .bulk import payments_record_bulk

    payments_record_bulk(list(attempts))


def _after_failures(attempts: Iterable[PaymentAttempt]) -> None:
    """Failed charges: their memberships become past due, then the hooks hear of them."""
    from .memberships import memberships_mark_past_due

    failed = list(attempts)
    if not failed:
        return
    first: dict[int, PaymentAttempt] = {}
    for attempt in failed:
        if attempt.invoice.membership_id:
            first.setdefault(attempt.invoice.membership_id, attempt)
    memberships_mark_past_due(first)
    for batch_hook in hooks.payments_failed:
        batch_hook(failed)
    for attempt in failed:
        for hook in hooks.payment_failed:
            hook(attempt)


def attempts_reconcile(*, older_than_seconds: int = 0) -> dict[str, int]:
    """Settle attempts left pending (a crashed run) or unknown (a timeout), never charging twice."""
    cutoff = clock.now() - __import__("datetime").timedelta(seconds=older_than_seconds)
    ids = list(
        PaymentAttempt.objects.filter(status__in=UNSETTLED, created_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    totals = {"succeeded": 0, "failed": 0, "unknown": 0, "skipped": 0, "blocked": 0, "resting": 0}
    for start in range(0, len(ids), 500):
        for key, value in attempts_process(ids[start : start + 500], lookup_first=True).items():
            totals[key] += value
    return totals


# --- Refunds --------------------------------------------------------------------------


def invoice_unsettled_attempts(invoice: Invoice) -> list[PaymentAttempt]:
    return list(invoice.attempts.filter(Q(status__in=UNSETTLED)))


__all__ = [
    "AttemptRequest",
    "attempt_create",
    "attempts_create",
    "attempts_process",
    "attempts_reconcile",
    "default_payment_method",
    "invoice_charge",
    "payment_method_attach",
    "payment_method_card_updated",
    "payment_method_detach",
    "payment_method_set_default",
    "payment_record",
]
