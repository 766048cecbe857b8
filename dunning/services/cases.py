"""Cases: opened by the first failed payment of an invoice, updated by every later failure.

Billing calls :func:`cases_record_failures` (through ``billing.hooks.payments_failed``)
after its transaction commits, for any failed attempt: the billing run's, a retry's, a
member's on the hosted page, or staff's.  The case keeps the last decline, blocks the
card when the member must act, replans the retries for the new category, and asks the
run to look at it at once (the day-0 notice goes out then, quiet hours permitting).

The front desk sees an open alert on the member's record (``MemberNote``) for as long
as the case is open: members cannot import dunning, so dunning writes the alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext

from billing.models import Invoice, InvoiceStatus, PaymentAttempt
from billing.money import format_amount
from billing.services.payments import CARD_RESTING
from config import clock
from config.db import bulk_insert_rows, bulk_update_rows
from members.models import MemberNote
from members.services import alert_resolve, note_add

from ..caps import CURABLE_HARD_CODES
from ..declines import classify
from ..models import (
    ACTIVE_CASE_STATUSES,
    WAIT_FOR_MEMBER,
    CaseStatus,
    DeclineCategory,
    DunningCase,
    DunningEvent,
    EventKind,
    PaymentPlanInstallment,
    PlanStatus,
    RetryReason,
    RetryStatus,
    ScheduledRetry,
)
from ..selectors import amount_at_risk, installments_by_case, ladder_for, owed_invoices
from .events import event_add, event_build
from .schedule import SCHEDULE_FIELDS, cases_schedule, executed_steps


def _alert_text(invoice: Invoice) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return gettext("Payment overdue: %(number)s (%(amount)s). See the dunning case.") % {
            "number": invoice.number,
            "amount": format_amount(invoice.amount_due, invoice.currency),
        }


def case_open(invoice: Invoice, *, now: dt.datetime) -> DunningCase:
    """The invoice's case, opened now if it has none (one case per invoice, however called)."""
    existing = DunningCase.objects.filter(invoice=invoice).first()
    if existing is not None:
        return existing
    membership = invoice.membership
    try:
        with transaction.atomic():
            case = DunningCase.objects.create(
                member_id=invoice.member_id,
                invoice=invoice,
                membership=membership,
                plan_id=membership.plan_id if membership is not None else None,
                currency=invoice.currency,
                amount_due=invoice.amount_due,
                opened_at=now,
                opened_on=now.astimezone(clock.gym_tz()).date(),
                next_action_at=now,
            )
            case.alert_note = note_add(
                member=invoice.member, body=_alert_text(invoice), is_alert=True
            )
            case.save(update_fields=["alert_note"])
            event_add(
                case,
                EventKind.CASE_OPENED,
                at=now,
                invoice=invoice.number,
                amount=invoice.amount_due,
                currency=invoice.currency,
            )
    except IntegrityError:
        return DunningCase.objects.get(invoice=invoice)
    return case


def case_alert_resolve(case: DunningCase) -> None:
    """Take the front desk's overdue alert off the member's record."""
    if case.alert_note_id:
        note = MemberNote.objects.filter(pk=case.alert_note_id).first()
        if note is not None:
            alert_resolve(note)


def _category_of(attempt: PaymentAttempt) -> str:
    return attempt.decline_category or classify(
        attempt.decline_code, attempt.network_code, attempt.advice_code
    )


def _failure_applied(
    case: DunningCase, attempt: PaymentAttempt, invoice: Invoice, now: dt.datetime
) -> DunningEvent:
    """Note the decline on the case (unsaved) and return its timeline event (unsaved)."""
    category = _category_of(attempt)
    case.last_attempt = attempt
    case.last_decline_code = attempt.decline_code
    case.last_decline_category = category
    if category in WAIT_FOR_MEMBER:
        curable = category == DeclineCategory.HARD and attempt.decline_code in CURABLE_HARD_CODES
        case.block_reason = DeclineCategory.CUSTOMER_ACTION if curable else category
        case.blocked_fingerprint = attempt.card_fingerprint
    elif case.blocked_fingerprint != attempt.card_fingerprint:
        case.block_reason, case.blocked_fingerprint = "", ""
    return event_build(
        case,
        EventKind.PAYMENT_FAILED,
        attempt_id=attempt.pk,
        at=now,
        invoice=invoice.number,
        decline_code=attempt.decline_code,
        network_code=attempt.network_code,
        advice_code=attempt.advice_code,
        category=category,
        trigger=attempt.trigger,
        attempt_number=attempt.attempt_number,
        card_brand=attempt.card_brand,
    )


def _plan_broken(
    case: DunningCase,
    installment: PaymentPlanInstallment,
    attempt: PaymentAttempt,
    now: dt.datetime,
) -> None:
    """An installment failed: the plan is missed and the ladder resumes where it paused."""
    from billing.services.memberships import membership_payment_failed

    from .ladder import restrictions_reapply

    plan = installment.plan
    if case.membership_id:
        # Installments are not tied to the membership, so billing did not mark it.
        membership_payment_failed(case.membership_id, attempt)
    if plan.status == PlanStatus.ACTIVE:
        plan.status = PlanStatus.MISSED
        plan.save(update_fields=["status"])
    if case.status == CaseStatus.PLAN:
        today = now.astimezone(clock.gym_tz()).date()
        if case.paused_on is not None:
            case.paused_days += max((today - case.paused_on).days, 0)
        case.paused_on = None
        case.status = CaseStatus.OPEN
        event_add(case, EventKind.PLAN_MISSED, at=now, installment=installment.number)
        event_add(case, EventKind.RESUMED, at=now, paused_days=case.paused_days)
        ladder = ladder_for(case.plan_id)
        restrictions_reapply(case, ladder, executed_steps([case.pk]).get(case.pk, set()), now)


def case_record_failure(attempt: PaymentAttempt) -> None:
    """A payment attempt failed: open or update the invoice's case, then let the run act.

    A failed installment breaks the case's payment plan; failures of a case's late-fee
    invoice are noted on the case and change nothing else.
    """
    now = clock.now()
    invoice = Invoice.objects.select_related("membership", "member").get(pk=attempt.invoice_id)
    installment = (
        PaymentPlanInstallment.objects.select_related("plan").filter(invoice_id=invoice.pk).first()
    )
    if installment is not None:
        case_id = installment.plan.case_id
    else:
        fee_case = DunningCase.objects.filter(late_fee_invoice_id=invoice.pk).first()
        if fee_case is not None:
            event_add(
                fee_case,
                EventKind.PAYMENT_FAILED,
                attempt_id=attempt.pk,
                at=now,
                invoice=invoice.number,
                late_fee=True,
                decline_code=attempt.decline_code,
            )
            return
        if invoice.status != InvoiceStatus.OPEN:
            return
        case_id = case_open(invoice, now=now).pk
    _failures_record({case_id: _Failure(attempt, invoice, installment)})


def cases_record_failures(attempts: Sequence[PaymentAttempt]) -> None:
    """:func:`case_record_failure` for a batch of failed attempts (a run's retries).

    Failures on invoices that already have a case are recorded together in a fixed
    number of queries; the rest (a first failure, an installment, a late fee, a second
    failure of one invoice in the batch) go one by one.
    """
    invoice_ids = {attempt.invoice_id for attempt in attempts}
    special = set(
        PaymentPlanInstallment.objects.filter(invoice_id__any=invoice_ids).values_list(
            "invoice_id", flat=True
        )
    ) | set(
        DunningCase.objects.filter(late_fee_invoice_id__any=invoice_ids).values_list(
            "late_fee_invoice_id", flat=True
        )
    )
    case_of = dict(
        DunningCase.objects.filter(invoice_id__any=invoice_ids - special).values_list(
            "invoice_id", "pk"
        )
    )
    together: dict[int, _Failure] = {}
    one_by_one: list[PaymentAttempt] = []
    for attempt in attempts:
        if attempt.invoice_id in case_of and case_of[attempt.invoice_id] not in together:
            together[case_of[attempt.invoice_id]] = _Failure(attempt)
        else:
            one_by_one.append(attempt)
    if together:
        _failures_record(together)
    for attempt in one_by_one:
        case_record_failure(attempt)


@dataclass(frozen=True)
class _Failure:
    """A declined attempt on a case: on its own invoice, or on one of its installments."""

    attempt: PaymentAttempt
    invoice: Invoice | None = None  # the attempt's invoice; None: the case's own
    installment: PaymentPlanInstallment | None = None


def _failures_record(failures: Mapping[int, _Failure]) -> None:
    """Note each case's decline, break a payment plan it missed, and replan its retries."""
    from .retries import Replan, retries_replan_many

    now = clock.now()
    today = clock.today()
    with transaction.atomic():
        cases = [
            case
            for case in DunningCase.objects.select_for_update(of=("self",))
            .select_related("invoice")
            .filter(pk__any=list(failures))
            .order_by("pk")
            if case.status in ACTIVE_CASE_STATUSES
        ]
        if not cases:
            return
        ids = [case.pk for case in cases]
        fields = FAILURE_FIELDS
        if _budget_returned(cases, failures, now):
            fields = [*fields, "retries_made"]
        ScheduledRetry.objects.filter(
            attempt_id__any=[failures[pk].attempt.pk for pk in ids], status=RetryStatus.SUBMITTED
        ).update(status=RetryStatus.FAILED, done_at=now)
        bulk_insert_rows(
            [
                _failure_applied(
                    case, failures[case.pk].attempt, failures[case.pk].invoice or case.invoice, now
                )
                for case in cases
            ]
        )
        for case in cases:
            failure = failures[case.pk]
            if failure.installment is not None:
                _plan_broken(case, failure.installment, failure.attempt, now)
                fields = [*FAILURE_FIELDS, *PLAN_BROKEN_FIELDS]
        installments = installments_by_case(ids)
        plans = []
        for case in cases:
            owed = owed_invoices(case, installments.get(case.pk), today)
            invoice = owed[0] if owed else (failures[case.pk].invoice or case.invoice)
            plans.append(Replan(case, case.last_decline_category, invoice))
        retries_replan_many(plans, now)
        for case in cases:
            case.amount_due = amount_at_risk(case, installments.get(case.pk))
            case.ladder_checked_at = None
        cases_schedule(cases, installments=installments)
        bulk_update_rows(cases, fields)
        transaction.on_commit(lambda: advance_soon(ids))


def _budget_returned(
    cases: Sequence[DunningCase], failures: Mapping[int, _Failure], now: dt.datetime
) -> bool:
    """Retries billing did not send because their card had just been declined for low
    funds in the same run (``card_resting``): nothing reached the bank, so the retry is
    skipped rather than failed and a policy retry gives its place in the budget back.
    Whether any case's ``retries_made`` changed."""
    resting = {
        failures[case.pk].attempt.pk: case
        for case in cases
        if failures[case.pk].attempt.decline_code == CARD_RESTING
    }
    if not resting:
        return False
    retries = list(
        ScheduledRetry.objects.filter(
            attempt_id__any=list(resting), status=RetryStatus.SUBMITTED
        ).values_list("pk", "attempt_id", "reason")
    )
    ScheduledRetry.objects.filter(pk__any=[pk for pk, _, _ in retries]).update(
        status=RetryStatus.SKIPPED, skip_reason=CARD_RESTING, done_at=now
    )
    returned = False
    for _pk, attempt_id, reason in retries:
        case = resting[attempt_id]
        if reason == RetryReason.POLICY and case.retries_made > 0:
            case.retries_made -= 1
            returned = True
    return returned


# What recording a failure changes on a case.
FAILURE_FIELDS = [
    "last_attempt",
    "last_decline_code",
    "last_decline_category",
    "block_reason",
    "blocked_fingerprint",
    "amount_due",
    "ladder_checked_at",
    *SCHEDULE_FIELDS,
]
# What a broken payment plan changes on its case, besides.
PLAN_BROKEN_FIELDS = ["status", "paused_on", "paused_days"]


def advance_soon(case_ids: list[int]) -> None:
    """Ask a worker to advance these cases now (inline when tasks run eagerly)."""
    from .followups import advance_soon as followup

    followup(case_ids)


def case_save_schedule(case: DunningCase) -> None:
    cases_schedule([case])
    case.save(update_fields=SCHEDULE_FIELDS)
