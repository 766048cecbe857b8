"""Recovery by any route, partial payments, payment plans, promises and late fees."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from billing.models import Invoice, InvoiceStatus, LineKind, MembershipStatus, PaymentSource
from billing.services.invoices import payment_record_manual
from dunning.errors import DunningActionRefused
from dunning.models import (
    CaseStatus,
    DunningMessage,
    EventKind,
    LadderStep,
    MessageStatus,
    PaymentPlan,
    PlanStatus,
    RecoveryRoute,
    RetryReason,
    RetryStatus,
)
from dunning.services import staff
from members.models import MemberNote
from tests.billing.factories import card
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_at, run_until

pytestmark = pytest.mark.django_db(transaction=True)


def open_alerts(member) -> int:
    return MemberNote.objects.filter(member=member, is_alert=True, resolved_at__isnull=True).count()


def test_cash_at_the_desk_ends_dunning_at_once(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 4, 15, 1))  # suspended on day 10
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    case = case_of(membership)
    assert case.retries.filter(status=RetryStatus.PENDING).exists()
    assert open_alerts(membership.member) == 1

    time_machine.move_to(local(2026, 4, 15, 7), tick=False)  # before 08:00: quiet hours
    mail.outbox = []
    payment_record_manual(case.invoice, amount=case.invoice.amount_due, source=PaymentSource.CASH)

    case.refresh_from_db()
    membership.refresh_from_db()
    assert (case.status, case.recovered_route) == (CaseStatus.RECOVERED, RecoveryRoute.FRONT_DESK)
    assert case.recovered_amount == 150_000
    assert membership.status == MembershipStatus.ACTIVE
    assert not case.retries.filter(status=RetryStatus.PENDING).exists()
    assert open_alerts(membership.member) == 0
    assert case.events.filter(kind=EventKind.ACCESS_RESTORED).exists()
    # The thank-you respects quiet hours too: it goes at 08:00.
    thanks = DunningMessage.objects.get(case=case, template="thanks", channel="email")
    assert (thanks.status, thanks.scheduled_for) == (MessageStatus.PENDING, local(2026, 4, 15, 8))
    run_at(time_machine, local(2026, 4, 15, 8))
    thanks.refresh_from_db()
    assert thanks.status == MessageStatus.SENT
    assert [m.subject.split(":")[0] for m in mail.outbox if "Thank" in m.subject] == ["Thank you"]
    # Nothing else happens on this case.
    run_until(time_machine, local(2026, 5, 10))
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED
    assert case.events.filter(kind=EventKind.STEP_FIRED).count() == 4


def test_pending_messages_are_cancelled_on_recovery(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine, local(2026, 4, 5, 23))  # the notice waits for 08:00
    case = case_of(membership)
    payment_record_manual(case.invoice, amount=150_000, source=PaymentSource.PROMPTPAY)
    notices = DunningMessage.objects.filter(case=case, template="failed_notice")
    assert {(m.status, m.skip_reason) for m in notices} == {(MessageStatus.CANCELLED, "recovered")}
    run_at(time_machine, local(2026, 4, 6, 8))
    assert [m.subject.split(":")[0] for m in mail.outbox if "Thank" in m.subject] == ["Thank you"]


def test_a_partial_payment_reduces_what_is_owed(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    time_machine.move_to(local(2026, 4, 7, 12), tick=False)
    payment_record_manual(case.invoice, amount=50_000, source=PaymentSource.CASH)
    mail.outbox = []
    run_at(time_machine, local(2026, 4, 8, 9))
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.amount_due == 100_000
    (reminder,) = mail.outbox
    assert "฿1,000.00" in reminder.body


def test_a_new_card_recovers_the_case_at_once(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    time_machine.move_to(local(2026, 4, 6, 12), tick=False)
    card(membership.member, "tok_ok.new")  # the member adds a working card: a retry at once
    case.refresh_from_db()
    assert (case.status, case.recovered_route) == (CaseStatus.RECOVERED, RecoveryRoute.RETRY)


def test_payment_plan_kept_then_missed_then_back_on_track(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 4, 15, 1))
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    case = case_of(membership)

    time_machine.move_to(local(2026, 4, 15, 12), tick=False)
    member = membership.member
    card(member, "tok_succeed_after_1.plan")  # a new card: its first charge will fail once...
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN  # ...so the immediate retry failed (funds)
    plan = staff.offer_plan(
        case, installments=3, interval_days=14, first_due_on=dt.date(2026, 4, 16)
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.PLAN
    installments = list(plan.installments.select_related("invoice"))
    assert [i.invoice.total for i in installments] == [50_000, 50_000, 50_000]
    assert [i.due_on for i in installments] == [
        dt.date(2026, 4, 16),
        dt.date(2026, 4, 30),
        dt.date(2026, 5, 14),
    ]
    assert all(i.invoice.status == InvoiceStatus.OPEN for i in installments)
    assert {line.kind for i in installments for line in i.invoice.lines.all()} == {LineKind.OTHER}
    original = Invoice.objects.get(pk=case.invoice_id)
    assert (original.status, original.amount_credited) == (InvoiceStatus.PAID, 150_000)
    assert not case.retries.filter(status=RetryStatus.PENDING).exists()
    assert "payment plan" in mail.outbox[-1].subject
    # The overdue invoice is settled by the plan, so billing gives access back at once.
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE

    # Installment 1 is charged on 16 April and paid; escalation stays paused.
    run_until(time_machine, local(2026, 4, 16, 12))
    installments[0].invoice.refresh_from_db()
    assert installments[0].invoice.status == InvoiceStatus.PAID
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    steps_before = case.events.filter(kind=EventKind.STEP_FIRED).count()

    # Installment 2 on 30 April fails: the ladder resumes and access is suspended again.
    from billing.services.payments import payment_method_detach

    payment_method_detach(member.payment_methods.get(token="tok_succeed_after_1.plan"))
    card(member, "tok_decline_insufficient_funds.broke")
    run_until(time_machine, local(2026, 4, 30, 12))
    case.refresh_from_db()
    plan.refresh_from_db()
    assert (case.status, plan.status) == (CaseStatus.OPEN, PlanStatus.MISSED)
    assert case.paused_days == 15  # 15 to 30 April, kept
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    assert case.events.filter(kind=EventKind.PLAN_MISSED).exists()
    assert case.retries.filter(status=RetryStatus.PENDING, invoice=installments[1].invoice).exists()

    # The resumed ladder's next step (day 14, final notice) fires on its shifted date.
    run_until(time_machine, local(2026, 5, 4, 9))
    assert case.events.filter(kind=EventKind.STEP_FIRED).count() == steps_before + 1

    # Paying the missed installment at the desk puts the plan back on track.
    payment_record_manual(installments[1].invoice, amount=50_000, source=PaymentSource.CASH)
    case.refresh_from_db()
    plan.refresh_from_db()
    assert (case.status, plan.status) == (CaseStatus.PLAN, PlanStatus.ACTIVE)
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE

    # The last installment is paid: the plan completes and the case is recovered.
    payment_record_manual(installments[2].invoice, amount=50_000, source=PaymentSource.CASH)
    case.refresh_from_db()
    assert (case.status, case.recovered_route) == (CaseStatus.RECOVERED, RecoveryRoute.PAYMENT_PLAN)
    assert case.recovered_amount == 150_000


def test_a_plan_needs_two_to_four_installments(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    for bad in (1, 5):
        with pytest.raises(DunningActionRefused):
            staff.offer_plan(case, installments=bad)
    plan = staff.offer_plan(case, installments=4, first_due_on=dt.date(2026, 4, 20))
    totals = [i.invoice.total for i in plan.installments.select_related("invoice")]
    assert sum(totals) == 150_000 and max(totals) - min(totals) <= 1
    with pytest.raises(DunningActionRefused, match="cannot be done"):
        staff.offer_plan(case, installments=2)
    assert PaymentPlan.objects.count() == 1


def test_a_promise_to_pay_pauses_escalation_and_retries_on_the_day(failing_member, time_machine):
    membership = failing_member("tok_succeed_after_1")
    fail_renewal(time_machine)
    case = case_of(membership)
    time_machine.move_to(local(2026, 4, 6, 12), tick=False)
    staff.pause(case, until=dt.date(2026, 4, 20), reason="Payday on the 20th")
    case.refresh_from_db()
    assert case.status == CaseStatus.PAUSED
    promise = case.retries.get(status=RetryStatus.PENDING)
    assert (promise.reason, promise.due_at) == (RetryReason.PROMISE, local(2026, 4, 20))
    run_until(time_machine, local(2026, 4, 19, 23))
    assert case.events.filter(kind=EventKind.STEP_FIRED).count() == 1  # only day 0
    run_until(time_machine, local(2026, 4, 20, 11))
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED and case.recovered_route == RecoveryRoute.RETRY


def test_a_broken_promise_resumes_the_ladder_later(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    time_machine.move_to(local(2026, 4, 6, 12), tick=False)
    staff.pause(case, until=dt.date(2026, 4, 12))
    run_until(time_machine, local(2026, 4, 13, 1))
    case.refresh_from_db()
    assert (case.status, case.paused_days) == (CaseStatus.OPEN, 7)
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE  # day 10 is now 22 April
    run_until(time_machine, local(2026, 4, 22, 1))
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED


def test_a_late_fee_is_billed_once_and_can_be_waived(failing_member, time_machine):
    LadderStep.objects.create(position=35, name="Late fee", days_since_failure=5, late_fee=20_000)
    membership = failing_member("tok_decline_lost_card")
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 4, 12, 9))
    case = case_of(membership)
    fee = case.late_fee_invoice
    assert fee is not None and fee.total == 20_000 and fee.membership_id is None
    assert {line.kind for line in fee.lines.all()} == {LineKind.FEE}
    warning = [m for m in mail.outbox if m.subject.startswith("Action needed")][-1]
    assert "Late fee: ฿200.00" in warning.body
    staff.waive_fee(case, reason="First time")
    fee.refresh_from_db()
    assert fee.status == InvoiceStatus.PAID and fee.amount_credited == 20_000
    assert case.events.filter(kind=EventKind.FEE_WAIVED).exists()
    with pytest.raises(DunningActionRefused):
        staff.waive_fee(case)
