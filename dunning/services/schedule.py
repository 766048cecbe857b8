"""When the run must next look at a case: ``next_action_at`` and what it will do then.

The run reads only ``next_action_at`` (indexed), so every write that changes what is
pending on a case ends by calling :func:`cases_schedule` and saving the two fields.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Min

from config import clock
from config.db import bulk_update_rows

from .. import conf
from ..models import (
    ACTIVE_CASE_STATUSES,
    CaseStatus,
    DunningCase,
    DunningMessage,
    LadderStep,
    MessageStatus,
    PaymentPlanInstallment,
    RetryStatus,
    ScheduledRetry,
    StepExecution,
)
from ..selectors import installments_by_case, ladders_for

# ``DunningCase.next_action`` codes (the admin and API translate them).
NEXT_RETRY = "retry"
NEXT_MESSAGE = "message"
NEXT_STEP = "step"
NEXT_RESUME = "resume"
NEXT_INSTALLMENT = "installment"


def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    """The instant ``time`` o'clock on the gym's local date ``day`` (in UTC)."""
    return dt.datetime.combine(day, time, tzinfo=clock.gym_tz()).astimezone(dt.UTC)


def step_due_at(case: DunningCase, step: LadderStep) -> dt.datetime:
    """When ``step`` becomes due for ``case``: day 0 at the failure, later days at midnight."""
    if step.days_since_failure == 0:
        return case.opened_at
    day = case.opened_on + dt.timedelta(days=step.days_since_failure + case.paused_days)
    return clock.local_midnight(day).astimezone(dt.UTC)


def step_date(case: DunningCase, step: LadderStep) -> dt.date:
    """The gym-local date ``step`` happens on (for messages: "access pauses on …")."""
    return case.opened_on + dt.timedelta(days=step.days_since_failure + case.paused_days)


def executed_steps(case_ids: Iterable[int]) -> dict[int, set[int]]:
    done: dict[int, set[int]] = defaultdict(set)
    for case_id, step_id in StepExecution.objects.filter(case_id__any=list(case_ids)).values_list(
        "case_id", "step_id"
    ):
        done[case_id].add(step_id)
    return done


def cases_schedule(
    cases: Sequence[DunningCase],
    *,
    ladders: dict[int | None, list[LadderStep]] | None = None,
    executed: dict[int, set[int]] | None = None,
    installments: dict[int, list[PaymentPlanInstallment]] | None = None,
) -> None:
    """Set ``next_action_at`` and ``next_action`` on each case (the caller saves them).

    A fixed number of queries for any number of cases; pass what the caller already
    loaded to save those.
    """
    if not cases:
        return
    ids = [case.pk for case in cases]
    retries = dict(
        ScheduledRetry.objects.filter(case_id__any=ids, status=RetryStatus.PENDING)
        .values("case_id")
        .annotate(first=Min("due_at"))
        .values_list("case_id", "first")
    )
    messages = dict(
        DunningMessage.objects.filter(case_id__any=ids, status=MessageStatus.PENDING)
        .values("case_id")
        .annotate(first=Min("scheduled_for"))
        .values_list("case_id", "first")
    )
    if ladders is None:
        ladders = ladders_for({case.plan_id for case in cases})
    if executed is None:
        executed = executed_steps(ids)
    if installments is None:
        plan_ids = [case.pk for case in cases if case.status == CaseStatus.PLAN]
        installments = installments_by_case(plan_ids) if plan_ids else {}
    retry_time = conf.retry_local_time()
    for case in cases:
        candidates: list[tuple[dt.datetime, str]] = []
        if case.pk in retries:
            candidates.append((retries[case.pk], NEXT_RETRY))
        if case.pk in messages:
            candidates.append((messages[case.pk], NEXT_MESSAGE))
        if case.status in (CaseStatus.OPEN, CaseStatus.COLLECTIONS):
            done = executed.get(case.pk, set())
            for step in ladders.get(case.plan_id, []):
                if step.pk in done:
                    continue
                due = step_due_at(case, step)
                if case.ladder_checked_at is not None and due <= case.ladder_checked_at:
                    continue  # looked at already; its other conditions did not hold
                candidates.append((due, f"{NEXT_STEP}:{step.name}"[:120]))
        elif case.status == CaseStatus.PAUSED and case.paused_until:
            resume = clock.local_midnight(case.paused_until + dt.timedelta(days=1))
            candidates.append((resume.astimezone(dt.UTC), NEXT_RESUME))
        elif case.status == CaseStatus.PLAN:
            for installment in installments.get(case.pk, []):
                if installment.charge_scheduled_at is None and installment.paid_at is None:
                    due = at_local(installment.due_on, retry_time)
                    candidates.append((due, f"{NEXT_INSTALLMENT}:{installment.number}"))
        if case.status not in (
            CaseStatus.OPEN,
            CaseStatus.PAUSED,
            CaseStatus.PLAN,
            CaseStatus.COLLECTIONS,
        ):
            candidates = []
        if candidates:
            case.next_action_at, case.next_action = min(candidates)
        else:
            case.next_action_at, case.next_action = None, ""


SCHEDULE_FIELDS = ["next_action_at", "next_action"]


def cases_reschedule(case_ids: Iterable[int]) -> set[int]:
    """Move ``next_action_at`` past what was just done, in a fixed number of queries.

    Cases another process holds keep theirs (that process schedules them).  Returns the
    cases rescheduled.
    """
    with transaction.atomic():
        cases = list(
            DunningCase.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__any=list(case_ids), status__in=ACTIVE_CASE_STATUSES)
            .order_by("pk")
        )
        cases_schedule(cases)
        bulk_update_rows(cases, SCHEDULE_FIELDS)
    return {case.pk for case in cases}
