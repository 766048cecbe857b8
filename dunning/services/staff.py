"""What staff do with a case: retry now, pause for a promise, waive a fee, offer a plan,
hand to collections, write off.  Each is one function; each lands on the timeline with
the staff member who did it.  Refusals are ``DunningActionRefused`` with a reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from billing.models import Invoice, InvoiceStatus
from billing.services.invoices import invoice_mark_uncollectible
from config import clock
from config.errors import DomainError
from members.audit import audit_record

from .. import conf
from ..errors import DunningActionRefused
from ..models import (
    ACTIVE_CASE_STATUSES,
    CaseStatus,
    DunningCase,
    EventKind,
    PaymentPlan,
    RetryReason,
)
from ..selectors import installments_by_case, owed_invoices, principal_invoices
from . import plans
from .cases import case_alert_resolve
from .events import event_add
from .messages import messages_cancel
from .retries import retries_cancel, retry_execute, retry_method, retry_schedule_now
from .schedule import at_local, cases_schedule


def _locked(case: DunningCase, allowed: tuple[str, ...] = ACTIVE_CASE_STATUSES) -> DunningCase:
    locked = (
        DunningCase.objects.select_for_update(of=("self",))
        .select_related("invoice", "member", "membership", "late_fee_invoice")
        .get(pk=case.pk)
    )
    if locked.status not in allowed:
        raise DunningActionRefused(reason=f"case_{locked.status}")
    return locked


def retry_now(case: DunningCase, *, user: Any = None) -> str:
    """Charge the card on file now, within the same network rules as any retry.

    Returns the attempt's status (``succeeded``, ``failed``…); raises
    ``DunningActionRefused`` when the rules say no (the refusal is on the timeline too).
    """
    now = clock.now()
    with transaction.atomic():
        locked = _locked(case)
        owed = owed_invoices(
            locked, installments_by_case([locked.pk]).get(locked.pk), clock.today()
        )
        if not owed:
            raise DunningActionRefused(reason="nothing_due")
        retry = retry_schedule_now(locked, invoice=owed[0], reason=RetryReason.STAFF, now=now)
        event_add(locked, EventKind.ACTION_TAKEN, actor=user, at=now, action="retry_now")
        _audit(
            "dunning.retry_now",
            locked,
            user,
            after={"retry": retry.pk, "invoice": owed[0].number, "due_at": retry.due_at},
        )
    outcome = retry_execute(retry.pk, now)
    if outcome.partition(":")[0] in ("skipped", "cancelled", "deferred", "busy", "not_pending"):
        raise DunningActionRefused(reason=outcome.partition(":")[2] or outcome)
    return outcome


def pause(case: DunningCase, *, until: dt.date, reason: str = "", user: Any = None) -> DunningCase:
    """Hold escalation until the member's promised date; retry the card on that day."""
    today = clock.today()
    if not today < until <= today + dt.timedelta(days=conf.max_promise_days()):
        raise DunningActionRefused(reason="promise_date_out_of_range")
    now = clock.now()
    with transaction.atomic():
        locked = _locked(case, (CaseStatus.OPEN, CaseStatus.PAUSED))
        before = _case_state(locked)
        if locked.status == CaseStatus.OPEN:
            locked.paused_on = today
        locked.status, locked.paused_until, locked.pause_reason = (
            CaseStatus.PAUSED,
            until,
            reason[:200],
        )
        retries_cancel(locked, why="promise_to_pay", now=now)
        messages_cancel(locked, "promise_to_pay", now)
        owed = owed_invoices(locked, installments_by_case([locked.pk]).get(locked.pk), today)
        method = retry_method(locked, owed[0]) if owed else None
        if (
            owed
            and method is not None
            and not (locked.block_reason and method.fingerprint == locked.blocked_fingerprint)
        ):
            retry = retry_schedule_now(locked, invoice=owed[0], reason=RetryReason.PROMISE, now=now)
            retry.due_at = at_local(until, conf.retry_local_time())
            retry.save(update_fields=["due_at"])
        event_add(locked, EventKind.PAUSED, actor=user, at=now, until=until, reason=reason)
        cases_schedule([locked])
        locked.save()
        _audit("dunning.pause", locked, user, case_before=before, reason=reason)
    return locked


def waive_fee(case: DunningCase, *, reason: str = "", user: Any = None) -> Invoice:
    """Credit the case's unpaid late fee in full."""
    with transaction.atomic():
        locked = _locked(case, tuple(CaseStatus.values))
        fee = locked.late_fee_invoice
        before = {"late_fee_invoice": fee.number, "status": fee.status} if fee else {}
        waived = plans.late_fee_waive(locked, reason=reason, user=user)
        after = {"late_fee_invoice": waived.number, "status": waived.status}
        _audit("dunning.waive_fee", locked, user, before=before, after=after, reason=reason)
        return waived


def offer_plan(
    case: DunningCase,
    *,
    installments: int,
    interval_days: int = 14,
    first_due_on: dt.date | None = None,
    user: Any = None,
) -> PaymentPlan:
    """Split the overdue balance into 2–4 installments (see ``dunning.services.plans``)."""
    with transaction.atomic():
        plan = plans.plan_offer(
            case,
            installments=installments,
            interval_days=interval_days,
            first_due_on=first_due_on,
            user=user,
        )
        after = {
            "payment_plan": plan.pk,
            "installments": installments,
            "interval_days": interval_days,
            "first_due_on": first_due_on,
        }
        _audit("dunning.offer_plan", case, user, after=after)
    return plan


def send_to_collections(case: DunningCase, *, user: Any = None) -> DunningCase:
    """Hand the account to collections: no more automatic retries or reminders."""
    now = clock.now()
    with transaction.atomic():
        locked = _locked(case, (CaseStatus.OPEN, CaseStatus.PAUSED))
        before = _case_state(locked)
        locked.status, locked.collections_at = CaseStatus.COLLECTIONS, now
        retries_cancel(locked, why="with_collections", now=now)
        messages_cancel(locked, "with_collections", now)
        event_add(locked, EventKind.COLLECTIONS, actor=user, at=now)
        cases_schedule([locked])
        locked.save()
        _audit("dunning.send_to_collections", locked, user, case_before=before)
    return locked


def write_off(case: DunningCase, *, reason: str = "", user: Any = None) -> DunningCase:
    """Write the debt off: its invoices become uncollectible and the case closes.

    A later payment still recovers the case (billing accepts payment of an
    uncollectible invoice).
    """
    now = clock.now()
    with transaction.atomic():
        locked = _locked(case)
        before = _case_state(locked)
        installments = installments_by_case([locked.pk]).get(locked.pk)
        invoices = [*principal_invoices(locked, installments)]
        if locked.late_fee_invoice is not None:
            invoices.append(locked.late_fee_invoice)
        marked = []
        for invoice in invoices:
            if invoice.status == InvoiceStatus.OPEN:
                try:
                    invoice_mark_uncollectible(invoice)
                except DomainError as exc:
                    raise DunningActionRefused(reason=exc.reason or exc.code) from exc
                marked.append(invoice.number)
        locked.status, locked.closed_at, locked.close_reason = (
            CaseStatus.WRITTEN_OFF,
            now,
            "written_off",
        )
        retries_cancel(locked, why="written_off", now=now)
        messages_cancel(locked, "written_off", now)
        case_alert_resolve(locked)
        event_add(locked, EventKind.WRITTEN_OFF, actor=user, at=now, invoices=marked, reason=reason)
        locked.next_action_at, locked.next_action = None, ""
        locked.save()
        _audit(
            "dunning.write_off", locked, user, case_before=before, reason=reason, invoices=marked
        )
    return locked


# What the audit trail keeps of a case before and after a staff action.
_CASE_FIELDS = ("status", "paused_until", "pause_reason", "collections_at", "close_reason")


def _case_state(case: DunningCase) -> dict[str, Any]:
    return {name: getattr(case, name) for name in _CASE_FIELDS}


def _audit(
    action: str,
    case: DunningCase,
    user: Any,
    *,
    case_before: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    **more: Any,
) -> None:
    """A staff action on a case, in the audit trail (the timeline keeps it for the case
    page): the case's fields that changed (``case_before`` against the case now), and
    what else the action changed."""
    old, new = dict(before or {}), dict(after or {})
    if case_before is not None:
        now = _case_state(case)
        for name in [name for name in now if case_before.get(name) != now[name]]:
            old[name], new[name] = case_before.get(name), now[name]
    audit_record(
        action,
        case,
        member=case.member_id,
        before=old,
        after={**new, **more},
        reason=reason,
        actor=user,
    )
