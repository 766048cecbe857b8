"""Retries: planned from the decline category, charged through billing, within network rules.

A retry is a ``ScheduledRetry`` row.  Executing one takes three short steps so billing's
guarantees hold (an attempt and its idempotency key are committed before the gateway
is called; a crash leaves a ``pending`` attempt that billing reconciles, never charges
twice):

1. lock the case and the retry; check the card (hard decline, waiting for a new card,
   network caps; :mod:`dunning.caps`) and write the attempt with ``attempt_create``;
2. commit, then ``attempts_process``: billing calls the gateway and, after its own
   commit, the ``payment_failed`` or ``invoices_paid`` hooks (:mod:`dunning.hooks`);
3. record the outcome on the retry.

Locks are always taken case first, then retries, then billing's rows.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from django.db import transaction

from billing.errors import PaymentNotAllowed
from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    PaymentMethod,
    PaymentMethodStatus,
)
from billing.services.payments import (
    UNSETTLED,
    attempt_create,
    attempts_process,
    default_payment_method,
)
from config import clock

from .. import caps, conf
from ..models import (
    ACTIVE_CASE_STATUSES,
    WAIT_FOR_MEMBER,
    CaseStatus,
    DeclineCategory,
    DunningCase,
    EventKind,
    RetryReason,
    RetryStatus,
    ScheduledRetry,
)
from ..selectors import installments_by_case, owed_invoices, retry_policy_for
from ..timing import retry_times
from .events import event_add
from .schedule import SCHEDULE_FIELDS, cases_schedule

# While set, a card update comes from the member on the hosted page, which charges
# on-session itself; the automatic "retry at once" would only race it.
_member_on_page: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "dunning_member_on_page", default=False
)
# A retry that cannot run now because an attempt is still in flight waits this long.
IN_FLIGHT_WAIT = dt.timedelta(hours=1)


@contextlib.contextmanager
def member_paying_online() -> Iterator[None]:
    """Mark card updates in this block as the member's own, made while paying online."""
    token = _member_on_page.set(True)
    try:
        yield
    finally:
        _member_on_page.reset(token)


def window_end(case: DunningCase) -> dt.datetime:
    """The end of the case's retry window (paused days extend it)."""
    policy = retry_policy_for(case.plan_id)
    return case.opened_at + dt.timedelta(days=policy.window_days + case.paused_days)


def retries_cancel(
    case: DunningCase,
    *,
    why: str,
    now: dt.datetime,
    reasons: Iterable[str] | None = None,
) -> int:
    """Cancel the case's pending retries (only those for ``reasons``, if given)."""
    pending = ScheduledRetry.objects.filter(case=case, status=RetryStatus.PENDING)
    if reasons is not None:
        pending = pending.filter(reason__in=list(reasons))
    return pending.update(status=RetryStatus.CANCELLED, skip_reason=why[:60], done_at=now)


def retries_replan(
    case: DunningCase, *, category: str, invoice: Invoice, now: dt.datetime
) -> list[ScheduledRetry]:
    """Replace the case's pending policy retries with a plan for ``category`` from ``now``.

    The case must be locked by the caller.  Only an escalating case is retried by
    policy, and only within its window and attempt budget.  A plan already made for the
    same category is kept: its timing (hours then days, widening gaps) runs on.
    """
    pending = ScheduledRetry.objects.filter(
        case=case, status=RetryStatus.PENDING, reason=RetryReason.POLICY
    )
    if (
        case.status == CaseStatus.OPEN
        and category not in WAIT_FOR_MEMBER
        and pending.exists()
        and not pending.exclude(category=category).exists()
    ):
        return list(pending)
    retries_cancel(case, why="replanned", now=now, reasons=[RetryReason.POLICY])
    if case.status != CaseStatus.OPEN or category in WAIT_FOR_MEMBER:
        return []
    policy = retry_policy_for(case.plan_id)
    times = retry_times(
        category,
        after=now,
        until=window_end(case),
        count=policy.max_attempts - case.retries_made,
        mode=policy.mode,
        fixed_interval_days=policy.fixed_interval_days,
        retry_time=conf.retry_local_time(),
        tz=clock.gym_tz(),
    )
    planned = ScheduledRetry.objects.bulk_create(
        [
            ScheduledRetry(
                case=case,
                invoice=invoice,
                due_at=at,
                reason=RetryReason.POLICY,
                category=category,
                created_at=now,
            )
            for at in times
        ]
    )
    if planned:
        event_add(
            case,
            EventKind.RETRY_SCHEDULED,
            at=now,
            category=category,
            times=[retry.due_at for retry in planned],
        )
    return planned


def retry_schedule_now(
    case: DunningCase,
    *,
    invoice: Invoice,
    reason: str,
    now: dt.datetime,
    method: PaymentMethod | None = None,
) -> ScheduledRetry:
    """A retry due at once (a new card, staff, an installment): the run or caller runs it."""
    return ScheduledRetry.objects.create(
        case=case,
        invoice=invoice,
        payment_method=method,
        due_at=now,
        reason=reason,
        category=case.last_decline_category,
        created_at=now,
    )


def retry_method(
    case: DunningCase, invoice: Invoice, chosen: PaymentMethod | None = None
) -> PaymentMethod | None:
    """The card a retry charges: the one ``chosen`` for it, else the membership's own card,
    else the member's default.  A card the case waits to see replaced, or one the
    networks forbid charging again, is passed over while another is on file."""
    usable = PaymentMethod.objects.filter(
        status=PaymentMethodStatus.ACTIVE, member_id=invoice.member_id
    )
    candidates: list[PaymentMethod | None] = []
    if chosen is not None:
        candidates.append(usable.filter(pk=chosen.pk).first())
    membership = case.membership
    if membership is not None and membership.payment_method_id:
        candidates.append(usable.filter(pk=membership.payment_method_id).first())
    candidates.append(default_payment_method(invoice.member_id))
    found = [method for method in candidates if method is not None]
    for method in found:
        if case.block_reason and method.fingerprint == case.blocked_fingerprint:
            continue
        if caps.credential_dead(method.fingerprint):
            continue
        return method
    return found[0] if found else None


def _finish(retry: ScheduledRetry, status: str, reason: str, now: dt.datetime) -> str:
    retry.status, retry.skip_reason, retry.done_at = status, reason[:60], now
    retry.save(update_fields=["status", "skip_reason", "done_at"])
    kind = EventKind.RETRY_SKIPPED
    event_add(retry.case, kind, retry=retry, at=now, reason=reason, status=status)
    return f"{status}:{reason}"


def _defer(retry: ScheduledRetry, until: dt.datetime, reason: str, now: dt.datetime) -> str:
    retry.due_at = until
    retry.save(update_fields=["due_at"])
    event_add(retry.case, EventKind.RETRY_DEFERRED, retry=retry, at=now, reason=reason, until=until)
    case = retry.case
    cases_schedule([case])
    case.save(update_fields=SCHEDULE_FIELDS)
    return f"deferred:{reason}"


def _reconcile_first(invoice_id: int) -> None:
    """``processing``: settle in-flight attempts by their idempotency key before any retry."""
    unsettled = list(
        Invoice.objects.get(pk=invoice_id)
        .attempts.filter(status__in=UNSETTLED)
        .values_list("pk", flat=True)
    )
    if unsettled:
        attempts_process(unsettled, lookup_first=True)


def _claim(retry_id: int, now: dt.datetime) -> tuple[str, int | None]:
    """Step 1: checks and the attempt intent, in one transaction.  ``(outcome, attempt id)``."""
    with transaction.atomic():
        case_id = (
            ScheduledRetry.objects.filter(pk=retry_id).values_list("case_id", flat=True).first()
        )
        if case_id is None:
            return "not_pending", None
        case = (
            DunningCase.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("membership", "member")
            .filter(pk=case_id)
            .first()
        )
        if case is None:
            return "busy", None
        retry = (
            ScheduledRetry.objects.select_for_update(skip_locked=True)
            .filter(pk=retry_id, status=RetryStatus.PENDING, due_at__lte=now)
            .first()
        )
        if retry is None:
            return "not_pending", None
        retry.case = case
        invoice = Invoice.objects.get(pk=retry.invoice_id)
        if case.status not in ACTIVE_CASE_STATUSES:
            return _finish(retry, RetryStatus.CANCELLED, "case_closed", now), None
        if invoice.status != InvoiceStatus.OPEN or invoice.amount_due <= 0:
            return _finish(retry, RetryStatus.CANCELLED, "nothing_due", now), None
        if invoice.attempts.filter(status__in=UNSETTLED).exists():
            return _defer(retry, now + IN_FLIGHT_WAIT, "attempt_in_flight", now), None
        method = retry_method(case, invoice, retry.payment_method)
        if method is None:
            case.block_reason = case.block_reason or DeclineCategory.CUSTOMER_ACTION
            case.save(update_fields=["block_reason"])
            return _finish(retry, RetryStatus.SKIPPED, "no_payment_method", now), None
        if case.block_reason and method.fingerprint == case.blocked_fingerprint:
            return _finish(retry, RetryStatus.SKIPPED, "awaiting_new_payment_method", now), None
        verdict = caps.credential_check(method.fingerprint, method.brand, now)
        if not verdict.allowed and verdict.reason == "hard_decline":
            case.block_reason, case.blocked_fingerprint = DeclineCategory.HARD, method.fingerprint
            case.save(update_fields=["block_reason", "blocked_fingerprint"])
        if not verdict.allowed:
            if (
                verdict.retry_after is not None
                and retry.reason == RetryReason.POLICY
                and verdict.retry_after <= window_end(case)
            ):
                return _defer(retry, verdict.retry_after, verdict.reason, now), None
            return _finish(retry, RetryStatus.SKIPPED, f"network_rule_{verdict.reason}", now), None
        trigger = (
            AttemptTrigger.STAFF if retry.reason == RetryReason.STAFF else AttemptTrigger.RETRY
        )
        try:
            attempt = attempt_create(invoice, trigger=trigger, method=method)
        except PaymentNotAllowed as exc:
            return _finish(retry, RetryStatus.CANCELLED, exc.reason or "not_allowed", now), None
        retry.attempt = attempt
        retry.status = RetryStatus.SUBMITTED
        retry.save(update_fields=["attempt", "status"])
        if retry.reason == RetryReason.POLICY:
            case.retries_made += 1
            case.save(update_fields=["retries_made"])
        event_add(
            case,
            EventKind.RETRY_SUBMITTED,
            retry=retry,
            attempt_id=attempt.pk,
            at=now,
            reason=retry.reason,
            invoice=invoice.number,
            attempt_number=attempt.attempt_number,
            card=f"{method.brand} {method.last4}",
        )
        return "submitted", attempt.pk


_FINAL = {
    AttemptStatus.SUCCEEDED: RetryStatus.SUCCEEDED,
    AttemptStatus.FAILED: RetryStatus.FAILED,
    AttemptStatus.REQUIRES_ACTION: RetryStatus.FAILED,
}


def retry_execute(retry_id: int, now: dt.datetime | None = None) -> str:
    """Run one due retry now; returns what happened (``succeeded``, ``failed``, ``skipped:…``)."""
    now = now or clock.now()
    invoice_id = (
        ScheduledRetry.objects.filter(pk=retry_id, status=RetryStatus.PENDING)
        .values_list("invoice_id", flat=True)
        .first()
    )
    if invoice_id is None:
        return "not_pending"
    _reconcile_first(invoice_id)
    outcome, attempt_id = _claim(retry_id, now)
    if attempt_id is None:
        return outcome
    attempts_process([attempt_id])
    status = (
        ScheduledRetry.objects.filter(pk=retry_id).values_list("attempt__status", flat=True).get()
    )
    final = _FINAL.get(AttemptStatus(status)) if status else None
    if final is not None:
        ScheduledRetry.objects.filter(pk=retry_id, status=RetryStatus.SUBMITTED).update(
            status=final, done_at=clock.now()
        )
    return str(status)


def retries_execute(retry_ids: Sequence[int], now: dt.datetime | None = None) -> Counter[str]:
    """Run due retries one after another; count the outcomes."""
    outcomes: Counter[str] = Counter()
    for retry_id in retry_ids:
        outcomes[retry_execute(retry_id, now).partition(":")[0]] += 1
    return outcomes


def retries_settle_submitted(case_ids: Sequence[int]) -> int:
    """Copy settled attempt outcomes onto retries still marked submitted (after a crash)."""
    settled = 0
    for attempt_status, retry_status in _FINAL.items():
        settled += ScheduledRetry.objects.filter(
            case_id__in=list(case_ids),
            status=RetryStatus.SUBMITTED,
            attempt__status=attempt_status,
        ).update(status=retry_status, done_at=clock.now())
    return settled


def retry_after_method_update(method: PaymentMethod) -> list[int]:
    """The member added or updated a card: unblock their cases and retry at once.

    A card that had a hard decline stays blocked if the update kept it the same card
    (same fingerprint).  Returns the cases that got an immediate retry.
    """
    now = clock.now()
    retried: list[int] = []
    case_ids = list(
        DunningCase.objects.filter(
            member_id=method.member_id, status__in=ACTIVE_CASE_STATUSES
        ).values_list("pk", flat=True)
    )
    for case_id in case_ids:
        with transaction.atomic():
            case = (
                DunningCase.objects.select_for_update()
                .select_related("invoice")
                .filter(pk=case_id, status__in=ACTIVE_CASE_STATUSES)
                .first()
            )
            if case is None:
                continue
            same_hard_card = (
                case.block_reason == DeclineCategory.HARD
                and method.fingerprint == case.blocked_fingerprint
            )
            event_add(
                case,
                EventKind.METHOD_UPDATED,
                at=now,
                card=f"{method.brand} {method.last4}",
                retried=not same_hard_card and not _member_on_page.get(),
                still_blocked=same_hard_card,
            )
            if same_hard_card:
                continue
            case.block_reason, case.blocked_fingerprint = "", ""
            case.ladder_checked_at = None
            installments = installments_by_case([case.pk]).get(case.pk)
            owed = owed_invoices(case, installments, clock.today())
            if owed and not _member_on_page.get():
                retry_schedule_now(
                    case,
                    invoice=owed[0],
                    reason=RetryReason.METHOD_UPDATED,
                    now=now,
                    method=method,
                )
                retried.append(case.pk)
            cases_schedule([case])
            case.save(
                update_fields=[
                    "block_reason",
                    "blocked_fingerprint",
                    "ladder_checked_at",
                    *SCHEDULE_FIELDS,
                ]
            )
    return retried
