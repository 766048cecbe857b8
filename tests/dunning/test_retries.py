"""Retries: timed by decline category, charged through billing, within network rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from billing.gateways import get_gateway
from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    Membership,
    PaymentAttempt,
    PaymentMethod,
)
from billing.services.payments import payment_method_set_default
from dunning.caps import cap_rules
from dunning.models import (
    CaseStatus,
    DeclineCategory,
    EventKind,
    RecoveryRoute,
    RetryPolicy,
    RetryReason,
    RetryStatus,
)
from dunning.sms import locmem
from tests.billing.factories import PlanFactory, card, signed_up
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_at, run_until, worst_window
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def retry_attempts(case) -> list[PaymentAttempt]:
    return list(
        PaymentAttempt.objects.filter(invoice=case.invoice)
        .exclude(trigger=AttemptTrigger.BILLING_RUN)
        .order_by("created_at")
    )


def test_insufficient_funds_is_retried_on_paydays_and_recovers(failing_member, time_machine):
    membership = failing_member("tok_succeed_after_2")
    fail_renewal(time_machine)
    case = case_of(membership)
    assert case.last_decline_category == DeclineCategory.FUNDS
    planned = list(case.retries.order_by("due_at").values_list("due_at", flat=True))
    # The budget of 8 runs to the ladder's cancellation (day 30, 5 May): the Thai paydays
    # after the failure (24 April: the 25th is a Saturday; 27th: civil service; 30th: the
    # last working day), the rest in the long stretch before them.
    assert len(planned) == 8
    assert {local(2026, 4, 24), local(2026, 4, 27), local(2026, 4, 30)} <= set(planned)
    assert planned[-1] < local(2026, 5, 5, 0)
    run_until(time_machine, planned[1] + dt.timedelta(days=1))
    attempts = retry_attempts(case)
    assert [a.created_at for a in attempts] == planned[:2]
    assert [a.status for a in attempts] == [AttemptStatus.FAILED, AttemptStatus.SUCCEEDED]
    assert {a.trigger for a in attempts} == {AttemptTrigger.RETRY}
    case.refresh_from_db()
    assert (case.status, case.recovered_route) == (CaseStatus.RECOVERED, RecoveryRoute.RETRY)
    assert case.retries_made == 2


def test_hard_decline_never_retries_the_card_and_asks_for_a_new_one(failing_member, time_machine):
    membership = failing_member("tok_decline_lost_card")
    mail.outbox = []
    fail_renewal(time_machine)
    case = case_of(membership)
    assert (case.last_decline_category, case.block_reason) == ("hard", "hard")
    assert not case.retries.exists()
    (notice,) = mail.outbox
    # PromptPay needs no card: the message leads with it (the sandbox offers PromptPay).
    assert notice.subject.endswith("pay by PromptPay or add a new card")
    assert notice.body.startswith("Hello")
    assert "Please pay by PromptPay or add a new card: https://" in notice.body
    assert "new card" in notice.body and "We won't try this card again" in notice.body

    # Thirty days of dunning: the card is never charged again.
    run_until(time_machine, local(2026, 5, 6))
    assert retry_attempts(case) == []
    # The same card again (another token for it) does not unblock it either.
    member = membership.member
    stem = membership.payment_method.token
    card(member, f"{stem}:again")
    assert retry_attempts(case) == []


def test_hard_decline_then_a_new_card_is_retried_at_once(failing_member, time_machine):
    membership = failing_member("tok_decline_stolen_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    time_machine.move_to(local(2026, 4, 7, 15), tick=False)
    card(membership.member, "tok_ok.replacement")
    (attempt,) = retry_attempts(case)
    assert attempt.created_at == local(2026, 4, 7, 15)
    assert attempt.status == AttemptStatus.SUCCEEDED
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED
    assert case.retries.get().reason == RetryReason.METHOD_UPDATED


def test_choosing_another_saved_card_as_default_is_retried_at_once(failing_member, time_machine):
    membership = failing_member("tok_decline_stolen_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    assert case.block_reason == DeclineCategory.HARD
    # The card from the sign-up is still on file; the member makes it the default again.
    earlier = PaymentMethod.objects.get(member=membership.member, is_default=False)
    time_machine.move_to(local(2026, 4, 7, 15), tick=False)
    payment_method_set_default(earlier)
    (attempt,) = retry_attempts(case)
    assert (attempt.payment_method, attempt.status) == (earlier, AttemptStatus.SUCCEEDED)
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED
    assert case.retries.get().reason == RetryReason.METHOD_UPDATED
    # Choosing the default it already is changes nothing and tells no one.
    payment_method_set_default(earlier)
    assert len(retry_attempts(case)) == 1


def test_a_bank_asking_for_confirmation_gets_a_notice_that_says_so(failing_member, time_machine):
    membership = failing_member("tok_requires_action", language="th")
    other = failing_member("tok_requires_action")
    mail.outbox = []
    fail_renewal(time_machine)
    case = case_of(other)
    assert (case.last_decline_code, case.block_reason) == (
        "authentication_required",
        DeclineCategory.CUSTOMER_ACTION,
    )
    notices = {m.to[0]: m for m in mail.outbox}
    english = notices[other.member.email]
    assert "your bank asks you to confirm it" in english.subject
    assert "confirm it with your bank" in english.body and "nothing has been taken" in english.body
    assert "We won't try this card again" not in english.body
    thai = notices[membership.member.email]
    assert "ธนาคารขอให้ท่านยืนยันรายการ" in thai.subject and "ยืนยันกับธนาคาร" in thai.body
    sms = [m for m in locmem.outbox if m.to == other.member.phone]
    assert sms and "Your bank asks you to confirm it" in sms[0].body


def test_customer_action_waits_for_the_member(failing_member, time_machine):
    membership = failing_member("tok_decline_expired_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    assert case.block_reason == DeclineCategory.CUSTOMER_ACTION
    run_until(time_machine, local(2026, 4, 12))
    assert retry_attempts(case) == []
    card(membership.member, "tok_ok.updated")
    assert [a.status for a in retry_attempts(case)] == [AttemptStatus.SUCCEEDED]


def test_temporary_declines_are_retried_within_hours(failing_member, time_machine):
    membership = failing_member("tok_advice_try_again_later_do_not_honor")
    fail_renewal(time_machine, local(2026, 4, 5, 2))
    case = case_of(membership)
    assert case.last_decline_category == DeclineCategory.TEMPORARY
    run_until(time_machine, local(2026, 4, 7, 3))
    times = [a.created_at for a in retry_attempts(case)]
    # Two hours and six hours after the 02:00 failure, then at 02:00 each day.
    assert times == [
        local(2026, 4, 5, 4),
        local(2026, 4, 5, 8),
        local(2026, 4, 6, 2),
        local(2026, 4, 7, 2),
    ]


def test_an_in_flight_attempt_is_reconciled_before_any_retry(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    # The member adds a card whose charge times out (the bank did take the money).
    time_machine.move_to(local(2026, 4, 6, 9), tick=False)
    method = card(membership.member, "tok_timeout")
    timed_out = retry_attempts(case)[-1]
    assert timed_out.status == AttemptStatus.UNKNOWN
    # The next retry asks the bank first, finds the money, and charges nothing more.
    run_until(time_machine, local(2026, 4, 20))
    timed_out.refresh_from_db()
    assert timed_out.status == AttemptStatus.SUCCEEDED
    invoice = Invoice.objects.get(pk=case.invoice_id)
    assert invoice.status == InvoiceStatus.PAID
    assert (
        PaymentAttempt.objects.filter(invoice=invoice, status=AttemptStatus.SUCCEEDED).count() == 1
    )
    assert get_gateway("sandbox").total_charged(method.token) == invoice.total
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED


def test_a_plan_can_have_its_own_retry_policy(failing_member, time_machine):
    plan = PlanFactory()
    RetryPolicy.objects.create(
        name="Gentle", plan=plan, mode="fixed", max_attempts=2, window_days=30
    )
    membership = failing_member("tok_decline_insufficient_funds", plan=plan)
    fail_renewal(time_machine)
    case = case_of(membership)
    due = list(case.retries.order_by("due_at").values_list("due_at", flat=True))
    assert due == [local(2026, 4, 8), local(2026, 4, 11)]


def shared_card_members(count: int, token: str, plan) -> list[Membership]:
    """``count`` members whose cards are all the same card credential (one fingerprint)."""
    memberships = []
    for n in range(count):
        member = MemberFactory()
        membership = signed_up(member=member, plan=plan)
        method = card(member, f"{token}.shared:m{n}")
        Membership.objects.filter(pk=membership.pk).update(payment_method=method)
        membership.refresh_from_db()
        memberships.append(membership)
    return memberships


@pytest.mark.slow
@pytest.mark.parametrize(
    ("token", "brand", "members", "policy"),
    [
        # Temporary declines retry within hours: nine invoices on one Mastercard would
        # make 81 attempts in six days without the caps.
        ("tok_mc_advice_try_again_later_do_not_honor", "mastercard", 9, (8, 14)),
        # Generic declines on one Visa card over a 60-day window with a large budget.
        # ("do not honor" is partly funds: its family's charges rest after each decline.)
        ("tok_decline_generic_decline", "visa", 6, (30, 60)),
    ],
)
def test_a_long_run_never_exceeds_the_network_caps(
    bank, gym, time_machine, token, brand, members, policy
):
    RetryPolicy.objects.update(
        max_attempts=policy[0], window_days=policy[1], until_cancellation=False
    )
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    memberships = shared_card_members(members, token, PlanFactory())
    fingerprint = memberships[0].payment_method.fingerprint
    fail_renewal(time_machine, local(2026, 4, 5, 2))
    runs = run_until(time_machine, local(2026, 6, 10))
    assert runs > 10
    worst = worst_window(fingerprint, brand)
    limits = {rule.name: rule.limit for rule in cap_rules(brand)}
    # Every rolling window stays within its limit, and the limits did bind: the run went
    # right up to them and postponed the retries that would have gone over.
    assert worst == limits
    cases = [case_of(m) for m in memberships]
    kinds = {kind for case in cases for kind in case.events.values_list("kind", flat=True)}
    assert EventKind.RETRY_DEFERRED in kinds


def test_mastercard_merchant_advice_03_stops_every_retry_on_the_card(bank, gym, time_machine):
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    memberships = shared_card_members(3, "tok_mc_merchant_advice_03", PlanFactory())
    fail_renewal(time_machine)
    run_until(time_machine, local(2026, 5, 10))
    fingerprint = memberships[0].payment_method.fingerprint
    assert PaymentAttempt.objects.filter(card_fingerprint=fingerprint).count() == 3


def test_after_an_outage_a_card_is_charged_once_not_once_per_missed_retry(
    failing_member, time_machine
):
    membership = failing_member("tok_advice_try_again_later_do_not_honor")
    fail_renewal(time_machine, local(2026, 4, 5, 2))
    case = case_of(membership)
    assert case.retries.filter(status=RetryStatus.PENDING).count() == 8
    run_at(time_machine, local(2026, 4, 8, 3))  # no run for three days: five retries are due
    assert len(retry_attempts(case)) == 1
    missed = case.retries.filter(status=RetryStatus.CANCELLED, skip_reason="missed_catching_up")
    assert missed.count() == 4
    assert not case.retries.filter(status=RetryStatus.PENDING, due_at__lte=local(2026, 4, 8, 3))
