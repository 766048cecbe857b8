"""The overdue ladder, evaluated: which steps fire for a case now, and what they do.

A step fires once per case (``StepExecution`` is unique per case and step) when every
condition holds: its day has come (days since the first failure, not counting paused
days), the member owes at least its amount and has at least its number of overdue
invoices, and the last decline is one of its categories (if it names any).

Effects go through billing's services only (billing owns the membership status).  An
effect billing refuses (say, suspending a membership that is already cancelled) is
recorded as skipped with billing's reason; it never stops the other effects.  The
membership levers of a whole batch are asked of billing's ``MembershipLevers`` and
applied together: the steps' executions and timeline events are built once their
outcomes are known (:meth:`LadderOutcome.finish`).

When several steps fire at once (the run was down for days), their effects all apply
but only the latest step's messages go out; the earlier ones are kept as "superseded".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from billing.models import InvoiceStatus
from billing.services.bulk import LeverRequest, MembershipLevers
from billing.services.invoices import invoice_mark_uncollectible
from config.errors import DomainError

from ..models import (
    CaseStatus,
    DunningCase,
    DunningEvent,
    DunningMessage,
    EventKind,
    LadderStep,
    StepExecution,
)
from ..selectors import installments_by_case, principal_invoices
from .events import event_build
from .messages import message_plan
from .retries import retries_cancel

# An effect whose outcome billing decides when the batch's levers are applied.
PENDING = "pending"


@dataclass
class _Fired:
    case: DunningCase
    step: LadderStep
    day: int
    effects: dict[str, str]
    levers: dict[str, LeverRequest]


@dataclass
class LadderOutcome:
    """What the ladder did for a case: executions, messages and events, unsaved.

    Executions and events wait for :meth:`finish` (after the batch's levers are applied).
    """

    executions: list[StepExecution] = field(default_factory=list)
    messages: list[DunningMessage] = field(default_factory=list)
    events: list[DunningEvent] = field(default_factory=list)
    fired: list[_Fired] = field(default_factory=list)

    def finish(self, now: dt.datetime) -> None:
        for fired in self.fired:
            effects = effects_settle(fired.effects, fired.levers)
            self.executions.append(
                StepExecution(
                    case=fired.case,
                    step=fired.step,
                    executed_at=now,
                    ladder_day=fired.day,
                    outcome=effects,
                )
            )
            self.events.append(
                event_build(
                    fired.case,
                    EventKind.STEP_FIRED,
                    at=now,
                    step=fired.step.name,
                    day=fired.day,
                    effects=effects,
                )
            )
            self.events.extend(effect_events(fired.case, effects, now))
        self.fired = []


def effects_settle(effects: dict[str, str], levers: dict[str, LeverRequest]) -> dict[str, str]:
    """Fill in the outcome of each lever billing has applied (``done`` or why it refused)."""
    for name, request in levers.items():
        if request.done:
            effects[name] = "done"
        elif request.error is not None:
            effects[name] = f"skipped:{request.error.reason or request.error.code}"
        else:
            effects[name] = "skipped:no_membership"
    return effects


def effect_events(
    case: DunningCase, effects: dict[str, str], now: dt.datetime, **detail: Any
) -> list[DunningEvent]:
    return [
        event_build(
            case,
            EventKind.ACTION_TAKEN if value == "done" else EventKind.ACTION_SKIPPED,
            at=now,
            action=name,
            result=value,
            **detail,
        )
        for name, value in effects.items()
    ]


def step_applies(
    step: LadderStep, case: DunningCase, *, day: int, overdue: tuple[int, int]
) -> bool:
    """Whether all of ``step``'s conditions hold (``overdue``: count and amount owed)."""
    count, amount = overdue
    if step.days_since_failure > day:
        return False
    if step.min_amount_owed and amount < step.min_amount_owed:
        return False
    if step.min_unpaid_invoices and count < step.min_unpaid_invoices:
        return False
    return not step.decline_categories or case.last_decline_category in step.decline_categories


def step_effects_apply(
    case: DunningCase,
    step: LadderStep,
    now: dt.datetime,
    levers: MembershipLevers,
    asked: dict[str, LeverRequest],
    *,
    restrictions_only: bool = False,
) -> dict[str, str]:
    """Apply the step's effects through billing; ``{effect: "done" | "skipped:<why>"}``.

    The membership levers are asked of ``levers`` (recorded in ``asked``, ``pending``
    in the result until ``levers`` is applied).  ``restrictions_only`` re-applies just
    the access levers (after a broken payment plan).
    """
    outcome: dict[str, str] = {}
    membership_id = case.membership_id

    def ask(name: str, call: Callable[[int], LeverRequest]) -> None:
        if membership_id is None:
            outcome[name] = "skipped:no_membership"
            return
        asked[name] = call(membership_id)
        outcome[name] = PENDING

    restrictions = {
        "access_warning": True if step.warn_at_gate else None,
        "bookings_blocked": True if step.block_bookings else None,
        "account_charges_blocked": True if step.block_account_charges else None,
    }
    if any(value is not None for value in restrictions.values()):
        ask("restrictions", lambda pk: levers.set_restrictions(pk, **restrictions))
    if step.suspend_access:
        ask("suspend_access", lambda pk: levers.suspend(pk, reason="payment_overdue"))
    if restrictions_only:
        return outcome
    if step.cancel_membership:
        ask("cancel_membership", levers.cancel_for_nonpayment)
    if step.mark_uncollectible:
        outcome["mark_uncollectible"] = _mark_uncollectible(case)
    if step.late_fee:
        from .plans import late_fee_add

        outcome["late_fee"] = late_fee_add(case, step.late_fee, now)
    if step.flag_collections:
        outcome["flag_collections"] = _flag_collections(case, now)
    return outcome


def _mark_uncollectible(case: DunningCase) -> str:
    """Write off what the case is about: the invoice, or its payment plan's open installments."""
    installments = installments_by_case([case.pk]).get(case.pk)
    open_invoices = [
        invoice
        for invoice in principal_invoices(case, installments)
        if invoice.status == InvoiceStatus.OPEN
    ]
    if not open_invoices:
        return f"skipped:invoice_{case.invoice.status}"
    try:
        for invoice in open_invoices:
            marked = invoice_mark_uncollectible(invoice)
            if marked.pk == case.invoice_id:
                case.invoice = marked
    except DomainError as exc:
        return f"skipped:{exc.reason or exc.code}"
    return "done"


def _flag_collections(case: DunningCase, now: dt.datetime) -> str:
    if case.status == CaseStatus.COLLECTIONS:
        return "skipped:already_with_collections"
    case.status = CaseStatus.COLLECTIONS
    case.collections_at = now
    retries_cancel(case, why="with_collections", now=now)
    return "done"


def ladder_evaluate(
    case: DunningCase,
    ladder: list[LadderStep],
    done: set[int],
    *,
    now: dt.datetime,
    today: dt.date,
    overdue: tuple[int, int],
    levers: MembershipLevers | None = None,
) -> LadderOutcome:
    """Fire the steps of ``ladder`` that are due for the locked ``case`` and not yet done.

    Membership levers are asked of ``levers`` for the caller to apply with the batch's,
    then to call :meth:`LadderOutcome.finish`; without ``levers`` they are applied and
    the outcome finished here.  Messages (and, once finished, executions and events)
    come back unsaved for the caller to store in bulk.  ``done`` gains the fired steps.
    """
    result = LadderOutcome()
    day = case.ladder_day(today)
    firing = [
        step
        for step in ladder
        if step.pk not in done and step_applies(step, case, day=day, overdue=overdue)
    ]
    case.ladder_checked_at = now
    if not firing:
        return result
    batch = levers if levers is not None else MembershipLevers()
    speaking = [step for step in firing if step.channels]
    voice = speaking[-1] if speaking else None
    for step in firing:
        for channel in step.channels:
            result.messages.append(
                message_plan(
                    case,
                    template=step.template,
                    channel=channel,
                    now=now,
                    step=step,
                    skip_reason="" if step is voice else "superseded",
                )
            )
        asked: dict[str, LeverRequest] = {}
        effects = step_effects_apply(case, step, now, batch, asked)
        result.fired.append(_Fired(case, step, day, effects, asked))
        case.stage, case.stage_position = step.name, step.position
        done.add(step.pk)
    if levers is None:
        batch.apply()
        result.finish(now)
    return result


def restrictions_reapply(
    case: DunningCase, ladder: list[LadderStep], done: set[int], now: dt.datetime
) -> None:
    """Put back the access levers of the steps already fired (a payment plan was broken)."""
    levers = MembershipLevers()
    asked_by_step = []
    for step in ladder:
        if step.pk not in done:
            continue
        asked: dict[str, LeverRequest] = {}
        effects = step_effects_apply(case, step, now, levers, asked, restrictions_only=True)
        asked_by_step.append((effects, asked))
    levers.apply()
    events = []
    for effects, asked in asked_by_step:
        effects_settle(effects, asked)
        events.extend(effect_events(case, effects, now, reapplied=True))
    for event in events:
        event.save()
