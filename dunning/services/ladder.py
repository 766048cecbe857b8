"""The overdue ladder, evaluated: which steps fire for a case now, and what they do.

A step fires once per case (``StepExecution`` is unique per case and step) when every
condition holds: its day has come (days since the first failure, not counting paused
days), the member owes at least its amount and has at least its number of overdue
invoices, and the last decline is one of its categories (if it names any).

Effects go through billing's services only (billing owns the membership status).  An
effect billing refuses (say, suspending a membership that is already cancelled) is
recorded as skipped with billing's reason; it never stops the other effects.

When several steps fire at once (the run was down for days), their effects all apply
but only the latest step's messages go out; the earlier ones are kept as "superseded".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from billing.models import InvoiceStatus
from billing.services.invoices import invoice_mark_uncollectible
from billing.services.memberships import (
    membership_cancel_for_nonpayment,
    membership_set_restrictions,
    membership_suspend,
)
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


@dataclass
class LadderOutcome:
    executions: list[StepExecution] = field(default_factory=list)
    messages: list[DunningMessage] = field(default_factory=list)
    events: list[DunningEvent] = field(default_factory=list)


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


def _membership_action(case: DunningCase, call: Callable[[], object]) -> str:
    if case.membership is None:
        return "skipped:no_membership"
    try:
        call()
    except DomainError as exc:
        return f"skipped:{exc.reason or exc.code}"
    return "done"


def step_effects_apply(
    case: DunningCase, step: LadderStep, now: dt.datetime, *, restrictions_only: bool = False
) -> dict[str, str]:
    """Apply the step's effects through billing; ``{effect: "done" | "skipped:<why>"}``.

    ``restrictions_only`` re-applies just the access levers (after a broken payment plan).
    """
    outcome: dict[str, str] = {}
    membership = case.membership
    levers = {
        "access_warning": True if step.warn_at_gate else None,
        "bookings_blocked": True if step.block_bookings else None,
        "account_charges_blocked": True if step.block_account_charges else None,
    }
    if any(value is not None for value in levers.values()):
        outcome["restrictions"] = _membership_action(
            case,
            lambda: membership_set_restrictions(membership, **levers),  # type: ignore[arg-type]
        )
    if step.suspend_access:
        outcome["suspend_access"] = _membership_action(
            case,
            lambda: membership_suspend(membership, reason="payment_overdue"),  # type: ignore[arg-type]
        )
    if restrictions_only:
        return outcome
    if step.cancel_membership:
        outcome["cancel_membership"] = _membership_action(
            case,
            lambda: membership_cancel_for_nonpayment(membership),  # type: ignore[arg-type]
        )
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
) -> LadderOutcome:
    """Fire the steps of ``ladder`` that are due for the locked ``case`` and not yet done.

    Effects are applied at once; executions, messages and events come back unsaved for
    the caller to store in bulk.  ``done`` gains the fired steps.
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
        effects = step_effects_apply(case, step, now)
        result.executions.append(
            StepExecution(case=case, step=step, executed_at=now, ladder_day=day, outcome=effects)
        )
        result.events.append(
            event_build(
                case,
                EventKind.STEP_FIRED,
                at=now,
                step=step.name,
                day=day,
                effects=effects,
            )
        )
        for name, value in effects.items():
            kind = EventKind.ACTION_TAKEN if value == "done" else EventKind.ACTION_SKIPPED
            result.events.append(event_build(case, kind, at=now, action=name, result=value))
        case.stage, case.stage_position = step.name, step.position
        done.add(step.pk)
    return result


def restrictions_reapply(
    case: DunningCase, ladder: list[LadderStep], done: set[int], now: dt.datetime
) -> None:
    """Put back the access levers of the steps already fired (a payment plan was broken)."""
    for step in ladder:
        if step.pk not in done:
            continue
        effects = step_effects_apply(case, step, now, restrictions_only=True)
        for name, value in effects.items():
            kind = EventKind.ACTION_TAKEN if value == "done" else EventKind.ACTION_SKIPPED
            event_build(case, kind, at=now, action=name, result=value, reapplied=True).save()
