"""``run_dunning``: look at every case whose ``next_action_at`` has come, and act.

One pass finds due cases by the partial index on ``next_action_at`` and advances them
in batches.  For a batch, one transaction locks the cases (``FOR UPDATE SKIP
LOCKED``: a concurrent run skips them), reads what it needs in a fixed number of
queries, fires ladder steps (unique per case and step), plans messages (unique per
case, step and channel), claims the retries that are due (billing's attempt intents,
written in bulk) and moves ``next_action_at`` on, writing each case once.  After the
commit it hands the batch's due messages to one delivery task, charges the claimed
attempts together through billing, and does what billing's hooks asked for (see
:mod:`.followups`) once for the batch.  Two runs at once therefore act on each case
once and send each message once.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import queue
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from billing.models import InvoiceStatus
from billing.selectors import overdue_summary
from billing.services.bulk import MembershipLevers
from config import clock
from config.db import bulk_insert_rows, bulk_update_rows

from .. import conf
from ..models import (
    ACTIVE_CASE_STATUSES,
    CaseStatus,
    DunningCase,
    DunningEvent,
    DunningMessage,
    EventKind,
    MessageStatus,
    RetryReason,
    RetryStatus,
    ScheduledRetry,
    StepExecution,
)
from ..selectors import amount_at_risk, installments_by_case, ladders_for, owed_invoices
from . import followups
from .events import event_build
from .ladder import LadderOutcome, ladder_evaluate
from .messages import (
    messages_deliver_soon,
    messages_one_ask_per_card,
    messages_save,
    messages_settle_interrupted,
)
from .paylinks import pay_links_settle_interrupted
from .plans import installments_due
from .recovery import cases_recover
from .retries import (
    CLAIM_CASE_FIELDS,
    RetryClaims,
    attempts_reconcile_for,
    retries_charge,
    retries_claim,
    retries_replan,
    retries_settle_submitted,
)
from .schedule import cases_schedule, executed_steps

CASE_FIELDS = [
    "status",
    "stage",
    "stage_position",
    "amount_due",
    "paused_days",
    "paused_on",
    "paused_until",
    "ladder_checked_at",
    "late_fee_invoice",
    "collections_at",
    "closed_at",
    "close_reason",
    "next_action_at",
    "next_action",
    *CLAIM_CASE_FIELDS,
]


@dataclass
class RunReport:
    at: dt.datetime
    due: int = 0
    advanced: int = 0
    steps: int = 0
    messages_sent: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    recovered_late: int = 0

    def add(self, other: RunReport) -> None:
        self.advanced += other.advanced
        self.steps += other.steps
        self.messages_sent += other.messages_sent
        self.retries.update(other.retries)
        self.recovered_late += other.recovered_late


def due_case_ids(now: dt.datetime) -> list[int]:
    """Cases whose next action has come (the ``dunning_case_due`` index)."""
    return list(
        DunningCase.objects.filter(status__in=ACTIVE_CASE_STATUSES, next_action_at__lte=now)
        .order_by("next_action_at", "pk")
        .values_list("pk", flat=True)
    )


def _resume_if_promise_passed(
    case: DunningCase, today: dt.date, now: dt.datetime, events: list[DunningEvent]
) -> bool:
    if case.status != CaseStatus.PAUSED or case.paused_until is None or today <= case.paused_until:
        return False
    if case.paused_on is not None:
        case.paused_days += max((today - case.paused_on).days, 0)
    case.status, case.paused_on, case.paused_until = CaseStatus.OPEN, None, None
    case.ladder_checked_at = None
    events.append(event_build(case, EventKind.RESUMED, at=now, paused_days=case.paused_days))
    return True


def _due_retries(case_ids: Sequence[int], now: dt.datetime) -> list[int]:
    """One due retry per case, the earliest.  Older policy retries that came due while no
    run ran are cancelled: a card is never charged several times in a row to catch up."""
    chosen: dict[int, int] = {}
    missed: list[int] = []
    due = (
        ScheduledRetry.objects.filter(
            case_id__any=case_ids, status=RetryStatus.PENDING, due_at__lte=now
        )
        .order_by("due_at", "pk")
        .values_list("pk", "case_id", "reason")
    )
    for retry_id, case_id, reason in due:
        if case_id not in chosen:
            chosen[case_id] = retry_id
        elif reason == RetryReason.POLICY:
            missed.append(retry_id)
    if missed:
        ScheduledRetry.objects.filter(pk__any=missed).update(
            status=RetryStatus.CANCELLED, skip_reason="missed_catching_up", done_at=now
        )
    return sorted(chosen.values())


@dataclass
class _Advanced:
    """What one locked pass over a batch did, for the steps after its commit."""

    report: RunReport
    ids: list[int] = field(default_factory=list)
    claims: RetryClaims = field(default_factory=RetryClaims)
    paid_without_hook: list[int] = field(default_factory=list)


def cases_advance(case_ids: Sequence[int], now: dt.datetime | None = None) -> RunReport:
    """Advance these cases as of ``now``; cases another process holds are skipped.

    A fixed number of queries per batch: one locked pass (ladder, messages planned,
    retries claimed), the batch's due messages handed to delivery, the claimed charges
    sent through billing together, then one more locked pass over the cases those
    charges changed (billing's hooks ask for it; the run does it itself, once).
    """
    now = now or clock.now()
    attempts_reconcile_for(
        ScheduledRetry.objects.filter(
            case_id__any=list(case_ids), status=RetryStatus.PENDING, due_at__lte=now
        )
    )
    with followups.collected() as asked:
        done = _advance_locked(case_ids, now, charge=True)
        report = done.report
        if not done.ids:
            return report
        report.messages_sent += messages_deliver_soon(done.ids)
        outcomes = retries_charge(done.claims)
        report.retries = Counter(outcome.partition(":")[0] for outcome in outcomes.values())
        if done.paid_without_hook:
            cases_recover(done.paid_without_hook, now=now)
            report.recovered_late = len(done.paid_without_hook)
    # The charged cases changed (a decline replans them, a payment closes them): look at
    # them once more, with whatever else billing's hooks asked to advance.
    again = sorted(asked.advance | done.claims.charged_cases)
    if again:
        with followups.collected() as more:
            _advance_locked(again, now, charge=False)
        asked.deliver |= more.deliver
        for_later = more.advance - set(again)
        if for_later:
            followups.advance_soon(sorted(for_later))
    deliver = sorted(asked.deliver | set(again))
    if deliver:
        report.messages_sent += messages_deliver_soon(deliver)
    return report


def _advance_locked(case_ids: Sequence[int], now: dt.datetime, *, charge: bool) -> _Advanced:
    today = now.astimezone(clock.gym_tz()).date()
    done = _Advanced(RunReport(at=now))
    with transaction.atomic():
        cases = list(
            DunningCase.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__any=list(case_ids), status__in=ACTIVE_CASE_STATUSES)
            .select_related("invoice", "member")
            .order_by("pk")
        )
        if not cases:
            return done
        ids = done.ids = [case.pk for case in cases]
        retries_settle_submitted(ids)
        ladders = ladders_for({case.plan_id for case in cases})
        executed = executed_steps(ids)
        installments = installments_by_case(ids)
        summary = overdue_summary({case.member_id for case in cases}, today)
        executions: list[StepExecution] = []
        messages = []
        events: list[DunningEvent] = []
        levers = MembershipLevers()
        fired: list[LadderOutcome] = []
        for case in cases:
            plan_rows = installments.get(case.pk)
            if not plan_rows and case.invoice.status == InvoiceStatus.PAID:
                done.paid_without_hook.append(case.pk)  # billing's hook did not reach us
                continue
            case.amount_due = amount_at_risk(case, plan_rows)
            if _resume_if_promise_passed(case, today, now, events):
                owed = owed_invoices(case, plan_rows, today)
                if owed:
                    retries_replan(
                        case, category=case.last_decline_category, invoice=owed[0], now=now
                    )
            if case.status == CaseStatus.PLAN and plan_rows:
                installments_due(case, plan_rows, now)
            if case.status in (CaseStatus.OPEN, CaseStatus.COLLECTIONS):
                count, owed_amount = summary.get(case.member_id, {}).get(case.currency, (0, 0))
                outcome = ladder_evaluate(
                    case,
                    ladders.get(case.plan_id, []),
                    executed.setdefault(case.pk, set()),
                    now=now,
                    today=today,
                    overdue=(count, owed_amount),
                    levers=levers,
                )
                messages.extend(outcome.messages)
                if outcome.fired:
                    fired.append(outcome)
        # The steps' membership levers, through billing, once for the batch.
        levers.apply()
        for outcome in fired:
            outcome.finish(now)
            executions.extend(outcome.executions)
            events.extend(outcome.events)
        bulk_insert_rows(executions)
        messages_one_ask_per_card(messages)
        messages_save(messages, now)
        bulk_insert_rows(events)
        live = [case for case in cases if case.pk not in done.paid_without_hook]
        if charge:
            due = _due_retries([case.pk for case in live], now)
            if due:
                done.claims = retries_claim(due, {case.pk: case for case in live}, now)
        cases_schedule(live, ladders=ladders, executed=executed, installments=installments)
        bulk_update_rows(live, CASE_FIELDS)
        done.report.advanced = len(live)
        done.report.steps = len(executions)
    return done


def _batches_advanced(batches: list[list[int]], now: dt.datetime) -> Iterator[RunReport]:
    """:func:`cases_advance` for each batch, reported in order.

    With ``DUNNING_RUN_WORKERS`` above 1 the batches are advanced that many at a time,
    each in a worker thread with its own database connection, as Celery workers would
    take them: batches hold disjoint cases and every batch locks its rows ``SKIP
    LOCKED``, exactly as concurrent runs do.  Inside a transaction (or on SQLite) the
    batches go one after the other, since other connections could not see its rows.

    A worker keeps its connection (and its cache client) from one batch to the next and
    closes it when the queue is empty: a fresh PostgreSQL backend per batch would pay
    for the connection and for cold catalogue caches every time.  Each worker runs in a
    copy of the caller's context, so it sees the caller's clock (``--date``) and active
    language, and the statement hooks installed on the caller's connection
    (``execute_wrapper``: query logs, timings) are installed on the workers' too.  If
    the caller stops early (an error in a batch), the batches not yet started are
    dropped and the workers finish what they hold.
    """
    caller = connections[DEFAULT_DB_ALIAS]
    workers = min(conf.run_workers(), len(batches))
    if workers <= 1 or caller.vendor != "postgresql" or caller.in_atomic_block:
        for batch in batches:
            yield cases_advance(batch, now)
        return
    hooks = list(caller.execute_wrappers)
    work: queue.SimpleQueue[tuple[Future[RunReport], list[int]]] = queue.SimpleQueue()
    results: list[Future[RunReport]] = []
    for batch in batches:
        results.append(Future())
        work.put((results[-1], batch))

    def drain_queue() -> None:
        connections[DEFAULT_DB_ALIAS].execute_wrappers = list(hooks)
        try:
            while True:
                try:
                    result, batch = work.get_nowait()
                except queue.Empty:
                    return
                if not result.set_running_or_notify_cancel():
                    continue
                try:
                    result.set_result(cases_advance(batch, now))
                except BaseException as exc:  # handed to the caller, raised there
                    result.set_exception(exc)
        finally:
            connections.close_all()  # this worker thread's own connections

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dunning-run") as pool:
        running = [pool.submit(contextvars.copy_context().run, drain_queue) for _ in range(workers)]
        try:
            for result in results:
                yield result.result()
        finally:
            for result in results:
                result.cancel()
            for worker in running:
                worker.result()


def dunning_run(
    now: dt.datetime | None = None, *, progress: Callable[[int], None] | None = None
) -> RunReport:
    """One pass: advance every due case, then send any other message that has come due.

    Each batch's messages go to delivery (``deliver_messages``) as the batch finishes;
    the other due messages (of cases not due themselves) follow in batches at the end.
    """
    now = now or clock.now()
    report = RunReport(at=now)
    # What a sender that died left behind (one query each when there is nothing).
    messages_settle_interrupted(now=now)
    pay_links_settle_interrupted(now)
    ids = due_case_ids(now)
    report.due = len(ids)
    size = conf.batch_size()
    batches = [ids[start : start + size] for start in range(0, len(ids), size)]
    for batch, advanced in zip(batches, _batches_advanced(batches, now), strict=True):
        report.add(advanced)
        if progress:
            progress(len(batch))
    handed = set(ids)
    others = sorted(
        set(
            DunningMessage.objects.filter(status=MessageStatus.PENDING, scheduled_for__lte=now)
            .values_list("case_id", flat=True)
            .distinct()
        )
        - handed
    )
    for start in range(0, len(others), size):
        report.messages_sent += messages_deliver_soon(others[start : start + size])
    return report
