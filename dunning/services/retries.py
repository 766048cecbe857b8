"""Retries: planned from the decline category, charged through billing, within network rules.

A retry is a ``ScheduledRetry`` row.  Executing one takes three short steps so billing's
guarantees hold (an attempt and its idempotency key are committed before the gateway
is called; a crash leaves a ``pending`` attempt that billing reconciles, never charges
twice):

1. lock the case and the retry; check the card (hard decline, waiting for a new card,
   network caps; :mod:`dunning.caps`) and write the attempt with ``attempt_create``;
2. commit, then ``attempts_process``: billing calls the gateway and, after its own
   commit, the ``payments_failed`` or ``invoices_paid`` hooks (:mod:`dunning.hooks`);
3. record the outcome on the retry.

Locks are always taken case first, then retries, then billing's rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from billing.errors import PaymentNotAllowed
from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    Membership,
    PaymentAttempt,
    PaymentMethod,
    PaymentMethodStatus,
)
from billing.services.online_pay import member_on_session
from billing.services.payments import (
    UNSETTLED,
    AttemptRequest,
    attempts_create,
    attempts_process,
    default_payment_method,
)
from config import clock
from config.db import bulk_insert_rows, bulk_update_rows

from .. import caps, conf
from ..models import (
    ACTIVE_CASE_STATUSES,
    WAIT_FOR_MEMBER,
    CaseStatus,
    DeclineCategory,
    DunningCase,
    DunningEvent,
    EventKind,
    LadderStep,
    RetryPolicy,
    RetryReason,
    RetryStatus,
    ScheduledRetry,
)
from ..paydays import PaydayRules, paydays_between
from ..selectors import (
    installments_by_case,
    ladder_for,
    ladders_for,
    owed_invoices,
    payday_rules,
    retry_policies_for,
    retry_policy_for,
)
from ..timing import MIN_GAP, retry_times
from .events import event_add, event_build
from .schedule import SCHEDULE_FIELDS, cases_schedule, step_due_at

# A retry that cannot run now because an attempt is still in flight waits this long.
IN_FLIGHT_WAIT = dt.timedelta(hours=1)


def window_end(
    case: DunningCase,
    policy: RetryPolicy | None = None,
    ladder: Sequence[LadderStep] | None = None,
) -> dt.datetime:
    """The end of the case's retry window (paused days extend it).

    By default (``until_cancellation``) the window runs until the ladder's cancellation
    step: an hour before it fires.  Otherwise, or on a ladder that never cancels, it is
    the policy's ``window_days`` after the first failure.
    """
    policy = policy or retry_policy_for(case.plan_id)
    if policy.until_cancellation:
        steps = ladder if ladder is not None else ladder_for(case.plan_id)
        cancel = next((step for step in steps if step.cancel_membership), None)
        if cancel is not None:
            return step_due_at(case, cancel) - MIN_GAP
    return case.opened_at + dt.timedelta(days=policy.window_days + case.paused_days)


@dataclass(frozen=True)
class RetryWindow:
    """The case's retry window and budget, as the desk reads them."""

    ends_at: dt.datetime
    until_cancellation: bool
    budget: int
    made: int
    planned: int


def retry_window(case: DunningCase) -> RetryWindow:
    """The window, the budget, the retries made and those planned (for the case page)."""
    policy = retry_policy_for(case.plan_id)
    ladder = ladder_for(case.plan_id)
    cancels = policy.until_cancellation and any(step.cancel_membership for step in ladder)
    return RetryWindow(
        ends_at=window_end(case, policy, ladder),
        until_cancellation=cancels,
        budget=policy.max_attempts,
        made=case.retries_made,
        planned=ScheduledRetry.objects.filter(
            case=case, status=RetryStatus.PENDING, reason=RetryReason.POLICY
        ).count(),
    )


def retry_plan_times(
    case: DunningCase,
    category: str,
    *,
    after: dt.datetime,
    policy: RetryPolicy,
    until: dt.datetime,
    paydays: PaydayRules,
) -> list[dt.datetime]:
    """The policy's retries for a decline of ``category`` at ``after``: what is left of
    the budget, spread over what is left of the window by the decline-aware timing."""
    tz = clock.gym_tz()
    return retry_times(
        category,
        after=after,
        until=until,
        count=policy.max_attempts - case.retries_made,
        mode=policy.mode,
        fixed_interval_days=policy.fixed_interval_days,
        retry_time=conf.retry_local_time(),
        tz=tz,
        paydays=paydays_between(after.astimezone(tz).date(), until.astimezone(tz).date(), paydays),
    )


def retries_cancel(
    case: DunningCase,
    *,
    why: str,
    now: dt.datetime,
    reasons: Iterable[str] | None = None,
) -> int:
    """Cancel the case's pending retries (only those for ``reasons``, if given)."""
    return retries_cancel_many([case.pk], why=why, now=now, reasons=reasons)


def retries_cancel_many(
    case_ids: Sequence[int],
    *,
    why: str,
    now: dt.datetime,
    reasons: Iterable[str] | None = None,
) -> int:
    """:func:`retries_cancel` for several cases, in one statement."""
    if not case_ids:
        return 0
    pending = ScheduledRetry.objects.filter(case_id__any=list(case_ids), status=RetryStatus.PENDING)
    if reasons is not None:
        pending = pending.filter(reason__in=list(reasons))
    return pending.update(status=RetryStatus.CANCELLED, skip_reason=why[:60], done_at=now)


@dataclass(frozen=True)
class Replan:
    """A case (locked by the caller) whose retries follow a decline of ``category`` now."""

    case: DunningCase
    category: str
    invoice: Invoice


def retries_replan(
    case: DunningCase, *, category: str, invoice: Invoice, now: dt.datetime
) -> list[ScheduledRetry]:
    """Replace the case's pending policy retries with a plan for ``category`` from ``now``.

    The case must be locked by the caller.  Only an escalating case is retried by
    policy, and only within its window and attempt budget.  A plan already made for the
    same category is kept: its timing (hours then days, widening gaps) runs on.
    """
    return retries_replan_many([Replan(case, category, invoice)], now)[case.pk]


def retries_replan_many(
    plans: Sequence[Replan], now: dt.datetime
) -> dict[int, list[ScheduledRetry]]:
    """:func:`retries_replan` for several cases (one each) in a fixed number of queries."""
    if not plans:
        return {}
    pending: dict[int, list[ScheduledRetry]] = defaultdict(list)
    for retry in ScheduledRetry.objects.filter(
        case_id__any=[plan.case.pk for plan in plans],
        status=RetryStatus.PENDING,
        reason=RetryReason.POLICY,
    ):
        pending[retry.case_id].append(retry)
    result: dict[int, list[ScheduledRetry]] = {}
    replan: list[Replan] = []
    for plan in plans:
        rows = pending.get(plan.case.pk, [])
        if (
            plan.case.status == CaseStatus.OPEN
            and plan.category not in WAIT_FOR_MEMBER
            and rows
            and all(row.category == plan.category for row in rows)
        ):
            result[plan.case.pk] = rows
        else:
            replan.append(plan)
    if not replan:
        return result
    ScheduledRetry.objects.filter(
        case_id__any=[plan.case.pk for plan in replan],
        status=RetryStatus.PENDING,
        reason=RetryReason.POLICY,
    ).update(status=RetryStatus.CANCELLED, skip_reason="replanned", done_at=now)
    policies = retry_policies_for({plan.case.plan_id for plan in replan})
    ladders = ladders_for({plan.case.plan_id for plan in replan})
    calendar = payday_rules()
    planned: list[ScheduledRetry] = []
    events: list[DunningEvent] = []
    for plan in replan:
        case = plan.case
        result[case.pk] = []
        if case.status != CaseStatus.OPEN or plan.category in WAIT_FOR_MEMBER:
            continue
        policy = policies[case.plan_id]
        times = retry_plan_times(
            case,
            plan.category,
            after=now,
            policy=policy,
            until=window_end(case, policy, ladders[case.plan_id]),
            paydays=calendar,
        )
        rows = [
            ScheduledRetry(
                case=case,
                invoice=plan.invoice,
                due_at=at,
                reason=RetryReason.POLICY,
                category=plan.category,
                created_at=now,
            )
            for at in times
        ]
        result[case.pk] = rows
        planned.extend(rows)
        if rows:
            events.append(
                event_build(
                    case,
                    EventKind.RETRY_SCHEDULED,
                    at=now,
                    category=plan.category,
                    times=[retry.due_at for retry in rows],
                )
            )
    bulk_insert_rows(planned)
    bulk_insert_rows(events)
    return result


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
    dead = caps.credentials_dead(m.fingerprint for m in candidates if m is not None)
    return _first_usable(case, candidates, dead)


def _first_usable(
    case: DunningCase, candidates: Sequence[PaymentMethod | None], dead: set[str]
) -> PaymentMethod | None:
    found = [method for method in candidates if method is not None]
    for method in found:
        if case.block_reason and method.fingerprint == case.blocked_fingerprint:
            continue
        if method.fingerprint in dead:
            continue
        return method
    return found[0] if found else None


# Case fields a claim may change; whoever saves the claimed cases writes these.
CLAIM_CASE_FIELDS = ["block_reason", "blocked_fingerprint", "retries_made"]
RETRY_FIELDS = ["status", "skip_reason", "done_at", "due_at", "attempt"]


@dataclass
class RetryClaims:
    """What claiming due retries decided: an outcome for each, an attempt for those sent."""

    outcomes: dict[int, str] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)  # retry id -> attempt id
    charged_cases: set[int] = field(default_factory=set)

    def counts(self) -> Counter[str]:
        return Counter(outcome.partition(":")[0] for outcome in self.outcomes.values())


@dataclass
class _ClaimContext:
    now: dt.datetime
    invoices: dict[int, Invoice]
    in_flight: set[int]
    methods: dict[int, PaymentMethod]
    defaults: dict[int, PaymentMethod]
    dead: set[str]
    history: dict[str, list[dt.datetime]]
    policies: dict[int | None, RetryPolicy]
    ladders: dict[int | None, list[LadderStep]]
    membership_cards: dict[int, int | None]  # membership id -> its card (payment method id)
    changed: list[ScheduledRetry] = field(default_factory=list)
    events: list[DunningEvent] = field(default_factory=list)

    def finish(self, retry: ScheduledRetry, status: str, reason: str) -> str:
        retry.status, retry.skip_reason, retry.done_at = status, reason[:60], self.now
        self._note(retry, EventKind.RETRY_SKIPPED, reason=reason, status=status)
        return f"{status}:{reason}"

    def defer(self, retry: ScheduledRetry, until: dt.datetime, reason: str) -> str:
        retry.due_at = until
        self._note(retry, EventKind.RETRY_DEFERRED, reason=reason, until=until)
        return f"deferred:{reason}"

    def _note(self, retry: ScheduledRetry, kind: str, **detail: Any) -> None:
        """The retry changed: write it and put the change on the case's timeline."""
        self.changed.append(retry)
        self.events.append(event_build(retry.case, kind, retry=retry, at=self.now, **detail))

    def method_for(
        self, case: DunningCase, invoice: Invoice, retry: ScheduledRetry
    ) -> PaymentMethod | None:
        """:func:`retry_method` on what the claim has read."""
        candidates: list[PaymentMethod | None] = []
        for method_id in (
            retry.payment_method_id,
            self.membership_cards.get(case.membership_id) if case.membership_id else None,
        ):
            method = self.methods.get(method_id) if method_id else None
            candidates.append(method if method and method.member_id == invoice.member_id else None)
        candidates.append(self.defaults.get(invoice.member_id))
        return _first_usable(case, candidates, self.dead)


def _claim_context(
    retries: Sequence[ScheduledRetry], cases: Mapping[int, DunningCase], now: dt.datetime
) -> _ClaimContext:
    invoices = {
        invoice.pk: invoice
        for invoice in Invoice.objects.filter(pk__any={retry.invoice_id for retry in retries})
    }
    in_flight = set(
        PaymentAttempt.objects.filter(invoice_id__any=list(invoices), status__in=UNSETTLED)
        .values_list("invoice_id", flat=True)
        .distinct()
    )
    methods = {
        method.pk: method
        for method in PaymentMethod.objects.filter(
            member_id__any={invoice.member_id for invoice in invoices.values()},
            status=PaymentMethodStatus.ACTIVE,
        ).order_by("pk")
    }
    fingerprints = {method.fingerprint for method in methods.values()}
    # Serialise with every other charge decision on these cards before reading their history.
    caps.credentials_lock(fingerprints)
    return _ClaimContext(
        now=now,
        invoices=invoices,
        in_flight=in_flight,
        methods=methods,
        defaults={m.member_id: m for m in methods.values() if m.is_default},
        dead=caps.credentials_dead(fingerprints),
        history=caps.credentials_history(fingerprints, now),
        policies=retry_policies_for({case.plan_id for case in cases.values()}),
        ladders=ladders_for({case.plan_id for case in cases.values()}),
        membership_cards=dict(
            Membership.objects.filter(
                pk__any={
                    case.membership_id
                    for case in (cases[retry.case_id] for retry in retries)
                    if case.membership_id
                }
            ).values_list("pk", "payment_method_id")
        ),
    )


def retries_claim(
    retry_ids: Sequence[int], cases: Mapping[int, DunningCase], now: dt.datetime
) -> RetryClaims:
    """Step 1 for several due retries at once: the checks and the attempt intents.

    Runs inside the caller's transaction, which holds the locks of ``cases`` (the
    retries' cases); retries of other cases are left alone.
    A fixed number of queries whatever the number of retries.  The caller then saves
    ``CLAIM_CASE_FIELDS`` of the cases, reschedules them, commits, and calls
    :func:`retries_charge`.
    """
    claims = RetryClaims()
    retries = list(
        ScheduledRetry.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            pk__any=list(retry_ids),
            case_id__any=list(cases),
            status=RetryStatus.PENDING,
            due_at__lte=now,
        )
        .order_by("pk")
    )
    for retry_id in set(retry_ids) - {retry.pk for retry in retries}:
        claims.outcomes[retry_id] = "not_pending"
    if not retries:
        return claims
    context = _claim_context(retries, cases, now)
    requests: list[tuple[ScheduledRetry, PaymentMethod, AttemptRequest]] = []
    for retry in retries:
        retry.case = case = cases[retry.case_id]
        decided = _claim_checks(retry, case, context)
        if isinstance(decided, str):
            claims.outcomes[retry.pk] = decided
            continue
        trigger = (
            AttemptTrigger.STAFF if retry.reason == RetryReason.STAFF else AttemptTrigger.RETRY
        )
        requests.append((retry, decided, AttemptRequest(retry.invoice_id, trigger, decided)))
        if decided.fingerprint:
            context.history[decided.fingerprint].append(now)
    results = attempts_create([request for _, _, request in requests])
    for (retry, method, _), result in zip(requests, results, strict=True):
        case = cases[retry.case_id]
        if isinstance(result, PaymentNotAllowed):
            claims.outcomes[retry.pk] = context.finish(
                retry, RetryStatus.CANCELLED, result.reason or "not_allowed"
            )
            continue
        retry.attempt = result
        retry.status = RetryStatus.SUBMITTED
        context.changed.append(retry)
        if retry.reason == RetryReason.POLICY:
            case.retries_made += 1
        context.events.append(
            event_build(
                case,
                EventKind.RETRY_SUBMITTED,
                retry=retry,
                attempt_id=result.pk,
                at=now,
                reason=retry.reason,
                invoice=context.invoices[retry.invoice_id].number,
                attempt_number=result.attempt_number,
                card=f"{method.brand} {method.last4}",
            )
        )
        claims.outcomes[retry.pk] = "submitted"
        claims.attempts[retry.pk] = result.pk
        claims.charged_cases.add(case.pk)
    bulk_update_rows(list({retry.pk: retry for retry in context.changed}.values()), RETRY_FIELDS)
    bulk_insert_rows(context.events)
    return claims


def _claim_checks(
    retry: ScheduledRetry, case: DunningCase, context: _ClaimContext
) -> str | PaymentMethod:
    """The card to charge for ``retry`` now, or the outcome that stops it."""
    invoice = context.invoices[retry.invoice_id]
    if case.status not in ACTIVE_CASE_STATUSES:
        return context.finish(retry, RetryStatus.CANCELLED, "case_closed")
    if invoice.status != InvoiceStatus.OPEN or invoice.amount_due <= 0:
        return context.finish(retry, RetryStatus.CANCELLED, "nothing_due")
    if invoice.pk in context.in_flight:
        return context.defer(retry, context.now + IN_FLIGHT_WAIT, "attempt_in_flight")
    method = context.method_for(case, invoice, retry)
    if method is None:
        case.block_reason = case.block_reason or DeclineCategory.CUSTOMER_ACTION
        return context.finish(retry, RetryStatus.SKIPPED, "no_payment_method")
    if case.block_reason and method.fingerprint == case.blocked_fingerprint:
        return context.finish(retry, RetryStatus.SKIPPED, "awaiting_new_payment_method")
    verdict = caps.credential_verdict(
        method.fingerprint, method.brand, context.now, dead=context.dead, history=context.history
    )
    if not verdict.allowed and verdict.reason == "hard_decline":
        case.block_reason, case.blocked_fingerprint = DeclineCategory.HARD, method.fingerprint
    if not verdict.allowed:
        if (
            verdict.retry_after is not None
            and retry.reason == RetryReason.POLICY
            and verdict.retry_after
            <= window_end(case, context.policies[case.plan_id], context.ladders[case.plan_id])
        ):
            return context.defer(retry, verdict.retry_after, verdict.reason)
        return context.finish(retry, RetryStatus.SKIPPED, f"network_rule_{verdict.reason}")
    return method


_FINAL = {
    AttemptStatus.SUCCEEDED: RetryStatus.SUCCEEDED,
    AttemptStatus.FAILED: RetryStatus.FAILED,
    AttemptStatus.REQUIRES_ACTION: RetryStatus.FAILED,
}


def retries_charge(claims: RetryClaims) -> dict[int, str]:
    """Steps 2 and 3, after the claim committed: charge the attempts through billing's
    set-based pipeline, then record each outcome on its retry.  ``{retry id: outcome}``."""
    outcomes = dict(claims.outcomes)
    if not claims.attempts:
        return outcomes
    attempts_process(list(claims.attempts.values()))
    statuses = dict(
        PaymentAttempt.objects.filter(pk__any=list(claims.attempts.values())).values_list(
            "pk", "status"
        )
    )
    settled: dict[RetryStatus, list[int]] = defaultdict(list)
    for retry_id, attempt_id in claims.attempts.items():
        status = statuses[attempt_id]
        outcomes[retry_id] = str(status)
        final = _FINAL.get(AttemptStatus(status))
        if final is not None:
            settled[final].append(retry_id)
    for final_status, retry_ids in settled.items():
        ScheduledRetry.objects.filter(pk__any=retry_ids, status=RetryStatus.SUBMITTED).update(
            status=final_status, done_at=clock.now()
        )
    return outcomes


def attempts_reconcile_for(retries: QuerySet[ScheduledRetry]) -> None:
    """``processing``: settle in-flight attempts on these retries' invoices by their
    idempotency key before any of them is retried."""
    unsettled = list(
        PaymentAttempt.objects.filter(
            status__in=UNSETTLED, invoice_id__in=retries.values("invoice_id")
        ).values_list("pk", flat=True)
    )
    if unsettled:
        attempts_process(unsettled, lookup_first=True)


def retries_execute_outcomes(retry_ids: Sequence[int], now: dt.datetime) -> dict[int, str]:
    """Run these due retries now: claim them (locking their cases), charge, record."""
    attempts_reconcile_for(
        ScheduledRetry.objects.filter(pk__any=list(retry_ids), status=RetryStatus.PENDING)
    )
    outcomes: dict[int, str] = {}
    with transaction.atomic():
        case_of = dict(
            ScheduledRetry.objects.filter(pk__any=list(retry_ids)).values_list("pk", "case_id")
        )
        cases = {
            case.pk: case
            for case in DunningCase.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("membership", "member")
            .filter(pk__any=set(case_of.values()))
            .order_by("pk")
        }
        for retry_id, case_id in case_of.items():
            if case_id not in cases:
                outcomes[retry_id] = "busy"
        claims = retries_claim([r for r in retry_ids if r not in outcomes], cases, now)
        claimed_case_ids = {
            case_of[retry_id]
            for retry_id, outcome in claims.outcomes.items()
            if outcome != "not_pending" and retry_id in case_of
        }
        claimed = [cases[case_id] for case_id in sorted(claimed_case_ids)]
        cases_schedule(claimed)
        bulk_update_rows(claimed, [*CLAIM_CASE_FIELDS, *SCHEDULE_FIELDS])
    outcomes.update(retries_charge(claims))
    for retry_id in retry_ids:
        outcomes.setdefault(retry_id, "not_pending")
    return outcomes


def retry_execute(retry_id: int, now: dt.datetime | None = None) -> str:
    """Run one due retry now; returns what happened (``succeeded``, ``failed``, ``skipped:…``)."""
    return retries_execute_outcomes([retry_id], now or clock.now())[retry_id]


def retries_execute(retry_ids: Sequence[int], now: dt.datetime | None = None) -> Counter[str]:
    """Run due retries together; count the outcomes."""
    outcomes = retries_execute_outcomes(retry_ids, now or clock.now())
    return Counter(outcome.partition(":")[0] for outcome in outcomes.values())


def retries_settle_submitted(case_ids: Sequence[int]) -> int:
    """Copy settled attempt outcomes onto retries still marked submitted (after a crash)."""
    settled: dict[RetryStatus, list[int]] = defaultdict(list)
    for retry_id, attempt_status in ScheduledRetry.objects.filter(
        case_id__any=list(case_ids), status=RetryStatus.SUBMITTED
    ).values_list("pk", "attempt__status"):
        final = _FINAL.get(AttemptStatus(attempt_status)) if attempt_status else None
        if final is not None:
            settled[final].append(retry_id)
    for final_status, retry_ids in settled.items():
        ScheduledRetry.objects.filter(pk__any=retry_ids).update(
            status=final_status, done_at=clock.now()
        )
    return sum(len(ids) for ids in settled.values())


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
                retried=not same_hard_card and not member_on_session(),
                still_blocked=same_hard_card,
            )
            if same_hard_card:
                continue
            case.block_reason, case.blocked_fingerprint = "", ""
            case.ladder_checked_at = None
            installments = installments_by_case([case.pk]).get(case.pk)
            owed = owed_invoices(case, installments, clock.today())
            if owed and not member_on_session():
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
