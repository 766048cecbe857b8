"""Recovery: an invoice in dunning was paid, by any route, so its case ends at once.

Billing calls :func:`invoices_recovered` (through ``billing.hooks.invoices_paid``) after
it has recorded the payment and restored the membership (``memberships_settle``).
For each case this closes it as recovered (with the route, the message channel that led
to the payment, and the time it took), cancels its pending retries and messages, takes
the alert off the member's record, checks that billing restored the membership, and
thanks the member.  An installment paid moves its payment plan on; the last one
recovers the case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction

from billing.models import (
    MEMBER_CHANNELS,
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    Membership,
    MembershipStatus,
    Payment,
    PaymentSource,
)
from billing.services.memberships import memberships_settle
from config import clock
from config.db import bulk_insert_rows, bulk_update_rows
from members.services import alerts_resolve

from ..models import (
    CaseStatus,
    Channel,
    DunningCase,
    DunningEvent,
    DunningMessage,
    EventKind,
    MessageStatus,
    PaymentPlan,
    PaymentPlanInstallment,
    PlanStatus,
    RecoveryRoute,
    RetryReason,
)
from ..selectors import installments_by_case, owed_invoices
from .cases import case_alert_resolve
from .events import event_add, event_build
from .messages import message_plan, messages_cancel_many, messages_save
from .retries import retries_cancel, retries_cancel_many
from .schedule import cases_schedule

RESTORED = (MembershipStatus.ACTIVE, MembershipStatus.TRIALING)
# Cases a payment can still recover (a written-off debt paid late counts too).
RECOVERABLE = (
    CaseStatus.OPEN,
    CaseStatus.PAUSED,
    CaseStatus.PLAN,
    CaseStatus.COLLECTIONS,
    CaseStatus.WRITTEN_OFF,
)


def route_for(payment: Payment) -> str:
    """How the money came: an automatic retry, the member online, staff, or the desk."""
    if payment.attempt is None and _paid_by_member_promptpay(payment):
        return RecoveryRoute.MEMBER
    if payment.attempt is None:
        if payment.source in (
            PaymentSource.CASH,
            PaymentSource.PROMPTPAY,
            PaymentSource.BANK_TRANSFER,
        ):
            return RecoveryRoute.FRONT_DESK
        return RecoveryRoute.STAFF
    return {
        AttemptTrigger.RETRY: RecoveryRoute.RETRY,
        AttemptTrigger.CUSTOMER: RecoveryRoute.MEMBER,
        AttemptTrigger.STAFF: RecoveryRoute.STAFF,
        AttemptTrigger.BILLING_RUN: RecoveryRoute.BILLING_RUN,
    }.get(AttemptTrigger(payment.attempt.trigger), RecoveryRoute.STAFF)


def _paid_by_member_promptpay(payment: Payment) -> bool:
    """A PromptPay QR the member asked for themselves (the pay page, the portal)."""
    if payment.source != PaymentSource.PROMPTPAY:
        return False
    try:
        line = payment.promptpay_line
    except ObjectDoesNotExist:
        return False
    return line.request.channel in MEMBER_CHANNELS


def _recover(case: DunningCase, *, route: str, amount: int, now: dt.datetime) -> None:
    channel = _link_channels([case.pk]).get(case.pk, "") if route == RecoveryRoute.MEMBER else ""
    _close_recovered(case, route, amount, channel, now)
    case.save()
    _pending_close([case.pk], "recovered", now)
    case_alert_resolve(case)
    event_add(
        case,
        EventKind.RECOVERED,
        at=now,
        route=route,
        channel=channel,
        amount=amount,
        hours_to_recover=int((now - case.opened_at).total_seconds() // 3600),
    )
    bulk_insert_rows(_access_checked([case], now))
    _thank_all([case], now)
    transaction.on_commit(lambda: deliver_soon([case.pk]))


def case_recover(case_id: int, *, now: dt.datetime | None = None) -> DunningCase | None:
    """The case's invoice was paid (or credited): close the case accordingly."""
    cases_recover([case_id], now=now)
    return (
        DunningCase.objects.select_related("invoice", "membership", "member")
        .filter(pk=case_id)
        .first()
    )


# What closing a case (recovered or credited) writes on it.
CLOSING_FIELDS = [
    "status",
    "close_reason",
    "closed_at",
    "recovered_route",
    "recovered_channel",
    "recovered_amount",
    "time_to_recover",
    "amount_due",
    "next_action_at",
    "next_action",
]


def cases_recover(case_ids: Sequence[int], *, now: dt.datetime | None = None) -> list[int]:
    """:func:`case_recover` for several cases in a fixed number of queries.

    Returns the cases closed as recovered (they get a thank-you).
    """
    now = now or clock.now()
    with transaction.atomic():
        cases = list(
            DunningCase.objects.select_for_update(of=("self",))
            .select_related("invoice", "membership", "member")
            .filter(pk__any=list(case_ids), status__in=RECOVERABLE)
            .order_by("pk")
        )
        # Moved into a payment plan (a credit note): the plan decides.
        planned = set(PaymentPlan.objects.filter(case__in=cases).values_list("case_id", flat=True))
        cases = [
            case
            for case in cases
            if case.pk not in planned and case.invoice.status == InvoiceStatus.PAID
        ]
        if not cases:
            return []
        payments: dict[int, list[Payment]] = {}
        for payment in (
            Payment.objects.filter(invoice_id__any=[case.invoice_id for case in cases])
            .select_related("attempt", "promptpay_line__request")
            .order_by("-received_at", "-pk")
        ):
            payments.setdefault(payment.invoice_id, []).append(payment)
        credited: list[DunningCase] = []
        recovered: list[tuple[DunningCase, str, int]] = []
        for case in cases:
            received = [
                p for p in payments.get(case.invoice_id, []) if p.received_at >= case.opened_at
            ]
            if received:
                amount = sum(p.amount for p in received)
                recovered.append((case, route_for(received[0]), int(amount)))
            else:
                credited.append(case)
        events: list[DunningEvent] = []
        for case in credited:
            case.status, case.close_reason, case.closed_at = CaseStatus.CLOSED, "credited", now
            case.amount_due = 0
            case.next_action_at, case.next_action = None, ""
            events.append(event_build(case, EventKind.CLOSED, at=now, reason="credited"))
        channels = _link_channels(
            [case.pk for case, route, _ in recovered if route == RecoveryRoute.MEMBER]
        )
        for case, route, amount in recovered:
            _close_recovered(case, route, amount, channels.get(case.pk, ""), now)
            events.append(
                event_build(
                    case,
                    EventKind.RECOVERED,
                    at=now,
                    route=route,
                    channel=case.recovered_channel,
                    amount=amount,
                    hours_to_recover=int((now - case.opened_at).total_seconds() // 3600),
                )
            )
        closed = credited + [case for case, _, _ in recovered]
        bulk_update_rows(closed, CLOSING_FIELDS)
        _pending_close([c.pk for c in credited], "credited", now)
        _pending_close([c.pk for c, _, _ in recovered], "recovered", now)
        alerts_resolve(case.alert_note_id for case in closed if case.alert_note_id)
        thanked = [case for case, _, _ in recovered]
        events.extend(_access_checked(thanked, now))
        bulk_insert_rows(events)
        _thank_all(thanked, now)
        ids = [case.pk for case in thanked]
        if ids:
            transaction.on_commit(lambda: deliver_soon(ids))
    return ids


def _close_recovered(
    case: DunningCase, route: str, amount: int, channel: str, now: dt.datetime
) -> None:
    case.status = CaseStatus.RECOVERED
    case.closed_at = now
    case.recovered_route = route
    case.recovered_channel = channel
    case.recovered_amount = amount
    case.time_to_recover = now - case.opened_at
    case.amount_due = 0
    case.next_action_at, case.next_action = None, ""


def _link_channels(case_ids: Sequence[int]) -> dict[int, str]:
    """Per case, the channel of the last message whose link the member opened."""
    channels: dict[int, str] = {}
    if not case_ids:
        return channels
    for case_id, detail in (
        DunningEvent.objects.filter(case_id__any=list(case_ids), kind=EventKind.LINK_OPENED)
        .order_by("-at", "-pk")
        .values_list("case_id", "detail")
    ):
        channels.setdefault(case_id, str((detail or {}).get("channel", "")))
    return channels


def _pending_close(case_ids: Sequence[int], why: str, now: dt.datetime) -> None:
    """Cancel what the cases still had planned: retries, and messages not about closing."""
    retries_cancel_many(case_ids, why=why, now=now)
    messages_cancel_many(case_ids, why)


def _access_checked(cases: Sequence[DunningCase], now: dt.datetime) -> list[DunningEvent]:
    statuses = dict(
        Membership.objects.filter(
            pk__any=[case.membership_id for case in cases if case.membership_id]
        ).values_list("pk", "status")
    )
    events = []
    for case in cases:
        if case.membership is None:
            continue
        status = statuses.get(case.membership.pk, case.membership.status)
        case.membership.status = status
        kind = EventKind.ACCESS_RESTORED if status in RESTORED else EventKind.ACCESS_NOT_RESTORED
        events.append(event_build(case, kind, at=now, membership_status=status))
    return events


def _thank_all(cases: Sequence[DunningCase], now: dt.datetime) -> None:
    if not cases:
        return
    used_sms = set(
        DunningMessage.objects.filter(
            case_id__any=[case.pk for case in cases],
            channel=Channel.SMS,
            status__in=[MessageStatus.SENT, MessageStatus.DELIVERED],
        ).values_list("case_id", flat=True)
    )
    messages_save(
        [
            message_plan(case, template="thanks", channel=channel, now=now)
            for case in cases
            for channel in [Channel.EMAIL, *([Channel.SMS] if case.pk in used_sms else [])]
        ],
        now,
    )


def installment_paid(installment_id: int, *, now: dt.datetime | None = None) -> None:
    """An installment invoice was paid: move the plan on, and recover the case at the end."""
    now = now or clock.now()
    with transaction.atomic():
        installment = PaymentPlanInstallment.objects.select_related("plan").get(pk=installment_id)
        case = (
            DunningCase.objects.select_for_update(of=("self",))
            .select_related("invoice", "membership", "member")
            .filter(pk=installment.plan.case_id, status__in=RECOVERABLE)
            .first()
        )
        if case is None or installment.paid_at is not None:
            return
        installment.paid_at = now
        installment.save(update_fields=["paid_at"])
        event_add(case, EventKind.INSTALLMENT_PAID, at=now, installment=installment.number)
        plan = installment.plan
        installments = installments_by_case([case.pk])[case.pk]
        unpaid = [i for i in installments if i.invoice.status == InvoiceStatus.OPEN]
        if not unpaid:
            plan.status = PlanStatus.COMPLETED
            plan.save(update_fields=["status"])
            if case.membership_id:
                memberships_settle([case.membership_id])
            event_add(case, EventKind.PLAN_COMPLETED, at=now)
            paid = sum(i.invoice.amount_paid for i in installments)
            _recover(case, route=RecoveryRoute.PAYMENT_PLAN, amount=paid, now=now)
            return
        case.amount_due = sum(i.invoice.amount_due for i in unpaid)
        today = clock.today()
        if plan.status == PlanStatus.MISSED and not owed_invoices(case, installments, today):
            # Back on track: escalation pauses again while the plan is kept.
            plan.status = PlanStatus.ACTIVE
            plan.save(update_fields=["status"])
            if case.membership_id:
                memberships_settle([case.membership_id])
            case.status, case.paused_on = CaseStatus.PLAN, today
            retries_cancel(case, why="plan_back_on_track", now=now, reasons=[RetryReason.POLICY])
            event_add(case, EventKind.PAUSED, at=now, reason="payment_plan_back_on_track")
        cases_schedule([case])
        case.save()


def invoices_recovered(invoices: Sequence[Invoice]) -> None:
    """``billing.hooks.invoices_paid``: settle whatever dunning holds about these invoices."""
    ids = [invoice.pk for invoice in invoices]
    if not ids:
        return
    now = clock.now()
    case_ids = list(
        DunningCase.objects.filter(invoice_id__any=ids, status__in=RECOVERABLE).values_list(
            "pk", flat=True
        )
    )
    if case_ids:
        cases_recover(case_ids, now=now)
    for installment_id in PaymentPlanInstallment.objects.filter(
        invoice_id__any=ids, paid_at__isnull=True
    ).values_list("pk", flat=True):
        installment_paid(installment_id, now=now)
    for case in DunningCase.objects.filter(late_fee_invoice_id__any=ids):
        event_add(case, EventKind.LATE_FEE, at=now, paid=True)


def deliver_soon(case_ids: list[int]) -> None:
    """Ask a worker to send the cases' due messages now (inline when tasks run eagerly)."""
    from .followups import deliver_soon as followup

    followup(case_ids)
