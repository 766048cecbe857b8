"""Recovery fitted to how Thai members are paid (issue 18), end to end on PostgreSQL and
Redis: the retry window reaches the ladder's cancellation step, a family's renewals on one
card go to the bank one at a time, and the silent stretch gets one friendly message."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from billing.gateways import get_gateway
from billing.models import AttemptStatus, Membership, PaymentAttempt
from billing.services.payments import (
    CARD_BLOCKED,
    CARD_RESTING,
    payment_method_attach,
    payment_method_set_default,
)
from dunning.models import (
    DunningCase,
    DunningMessage,
    LadderStep,
    MessageStatus,
    RetryPolicy,
    RetryReason,
    RetryStatus,
    ScheduledRetry,
)
from dunning.services.portal import page_for
from dunning.services.retries import window_end
from dunning.services.schedule import step_due_at
from dunning.sms import locmem
from members.services import household_add_member, household_create
from tests.billing.factories import PlanFactory, signed_up
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_at, run_until
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_retry_window_reaches_the_cancellation_step_and_the_budget_is_spread_over_it(
    failing_member, time_machine
):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    policy = RetryPolicy.objects.get(plan__isnull=True)
    assert policy.until_cancellation
    cancel = LadderStep.objects.get(plan__isnull=True, cancel_membership=True)
    end = window_end(case)
    assert end == step_due_at(case, cancel) - dt.timedelta(hours=1)
    assert end - case.opened_at > dt.timedelta(days=29)
    planned = list(
        case.retries.filter(reason=RetryReason.POLICY)
        .order_by("due_at")
        .values_list("due_at", flat=True)
    )
    # The whole budget, spread to the last stretch of the window (the old policy
    # stopped at day 14), never past the cancellation.
    assert len(planned) == policy.max_attempts
    assert planned[-1] > case.opened_at + dt.timedelta(days=21)
    assert all(case.opened_at < at <= end for at in planned)
    # A policy switched back to a number of days keeps to it.
    RetryPolicy.objects.update(until_cancellation=False, window_days=14)
    assert window_end(case) == case.opened_at + dt.timedelta(days=14)


def test_the_case_page_shows_the_window_and_the_planned_retries(
    failing_member, time_machine, admin_client
):
    membership = failing_member("tok_decline_insufficient_funds")
    fail_renewal(time_machine)
    case = case_of(membership)
    page = admin_client.get(f"/admin/dunning/dunningcase/{case.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="retry-window"' in html
    assert "the ladder&#x27;s cancellation step" in html or "the ladder's cancellation step" in html
    assert "0 of 8 retries made, 8 planned" in html
    assert html.count("Card retry") == 8


def family_on_one_card(token: str, plan) -> tuple[list[Membership], str]:
    """A payer and two dependants, their three memberships charged to the payer's card."""
    payer = MemberFactory()
    household = household_create(payer=payer)
    members = [payer, MemberFactory(), MemberFactory()]
    for dependant in members[1:]:
        household_add_member(household, dependant)
    memberships = []
    for member in members:
        member.refresh_from_db()
        memberships.append(signed_up(member=member, plan=plan, token="tok_ok"))
    method = payment_method_attach(payer, gateway="sandbox", token=f"{token}.family{payer.pk}")
    payment_method_set_default(method)
    Membership.objects.filter(pk__in=[m.pk for m in memberships]).update(payment_method=method)
    for m in memberships:
        m.refresh_from_db()
    return memberships, method.fingerprint


def bank_received(fingerprint: str) -> list[PaymentAttempt]:
    """The attempts on this card that reached the bank (it knows their keys)."""
    bank = get_gateway("sandbox")
    return [
        attempt
        for attempt in PaymentAttempt.objects.filter(card_fingerprint=fingerprint).order_by("pk")
        if bank.lookup_charge(attempt.idempotency_key) is not None
    ]


def test_a_shared_card_hard_declined_on_one_renewal_gets_no_further_charge(bank, gym, time_machine):
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    memberships, fingerprint = family_on_one_card("tok_decline_lost_card", PlanFactory())
    payer = memberships[0].payer
    mail.outbox = []
    locmem.outbox.clear()

    fail_renewal(time_machine)
    renewals = PaymentAttempt.objects.filter(
        card_fingerprint=fingerprint, invoice__membership__in=memberships
    ).exclude(invoice__billing_reason="signup")
    assert renewals.count() == 3
    # One charge reached the bank; the other two were never sent.
    (sent,) = bank_received(fingerprint)
    assert sent.decline_code == "lost_card"
    blocked = renewals.exclude(pk=sent.pk)
    assert {(a.status, a.decline_code) for a in blocked} == {(AttemptStatus.FAILED, CARD_BLOCKED)}

    # The payer is asked for a new card once, not once per membership.
    cases = [case_of(m) for m in memberships]
    assert {c.member_id for c in cases} == {payer.pk}
    assert all(c.block_reason == "hard" and c.blocked_fingerprint == fingerprint for c in cases)
    notices = [m for m in mail.outbox if "new card" in m.subject.lower()]
    assert len(notices) == 1 and notices[0].to == [payer.email]
    assert len(locmem.outbox) == 1
    quiet = DunningMessage.objects.filter(skip_reason="asked_with_other_case")
    assert quiet.count() == 2 * 2  # two cases, email and SMS
    # The one message's page pays every invoice on the card.
    message = DunningMessage.objects.get(template="failed_notice", status="sent", channel="email")
    token = notices[0].body.split("/pay/")[1].split("/")[0]
    page = page_for(token)
    assert page.link.message_id == message.pk
    assert {i.pk for i in page.owed} == {c.invoice_id for c in cases}

    # Thirty days of dunning later, nothing more has reached the bank on that card.
    run_until(time_machine, local(2026, 5, 6))
    assert [a.pk for a in bank_received(fingerprint)] == [sent.pk]
    assert (
        not PaymentAttempt.objects.filter(
            card_fingerprint=fingerprint, pk__gt=max(a.pk for a in renewals)
        )
        .exclude(decline_code=CARD_BLOCKED)
        .exists()
    )


def test_the_new_card_request_shows_what_its_page_collects(bank, gym, time_machine):
    """The one message asking for a new card shows every invoice its page will collect and
    their total, by email and by SMS, in the member's language."""
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    plan = PlanFactory(price=80_000)
    memberships, _fingerprint = family_on_one_card("tok_decline_lost_card", plan)
    payer = memberships[0].payer
    # A member alone on a card of their own, declined the same way.
    member = MemberFactory()
    alone = signed_up(member=member, plan=plan, token="tok_ok")
    method = payment_method_attach(member, gateway="sandbox", token="tok_decline_lost_card.alone")
    payment_method_set_default(method)
    Membership.objects.filter(pk=alone.pk).update(payment_method=method)
    mail.outbox = []
    locmem.outbox.clear()

    fail_renewal(time_machine)

    (notice,) = [m for m in mail.outbox if m.to == [payer.email]]
    assert "new card" in notice.subject.lower()
    (sms,) = [s for s in locmem.outbox if s.to == payer.phone]
    token = notice.body.split("/pay/")[1].split("/")[0]
    page = page_for(token)
    assert len(page.owed) == 3
    total = "฿2,400.00"
    assert page.total == 3 * 80_000
    own = case_of(memberships[0]).invoice.number
    assert own in notice.subject
    for invoice in page.owed:
        assert f"- {invoice.number}: ฿800.00" in notice.body
        assert invoice.number in sms.body
    assert f"Total due: {total}" in notice.body
    assert "Amount due: ฿800.00" not in notice.body
    assert total in sms.body and "฿800.00" not in sms.body

    # A case alone on its card keeps its own invoice and amount.
    (single,) = [m for m in mail.outbox if m.to == [member.email]]
    assert "Amount due: ฿800.00" in single.body and "Total due" not in single.body
    (single_sms,) = [s for s in locmem.outbox if s.to == member.phone]
    assert "฿800.00" in single_sms.body


def test_a_shared_card_charges_its_renewals_one_after_the_other(bank, gym, time_machine):
    """Each renewal is charged in its own round, each round committed before the next."""
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    _family, fingerprint = family_on_one_card("tok_ok", PlanFactory())
    fail_renewal(time_machine)
    renewals = list(
        PaymentAttempt.objects.filter(card_fingerprint=fingerprint)
        .exclude(invoice__billing_reason="signup")
        .order_by("pk")
    )
    assert [a.status for a in renewals] == [AttemptStatus.SUCCEEDED] * 3
    assert len(bank_received(fingerprint)) == 3
    completed = [a.completed_at for a in renewals if a.completed_at is not None]
    assert len(completed) == 3 and completed == sorted(completed)


def test_a_shared_card_short_of_funds_rests_until_its_next_retry(bank, gym, time_machine):
    """After a low-funds decline the card has no money now: the payer's other renewals on
    it are not sent in that run (no reattempt counted against the caps, no retry used);
    at the card's next retry the first renewal is charged, then the others, one by one."""
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    family, fingerprint = family_on_one_card("tok_succeed_after_1", PlanFactory())
    signups = len(bank_received(fingerprint))
    fail_renewal(time_machine)
    renewals = list(
        PaymentAttempt.objects.filter(card_fingerprint=fingerprint)
        .exclude(invoice__billing_reason="signup")
        .order_by("pk")
    )
    assert [(a.decline_code, a.decline_category) for a in renewals] == [
        ("insufficient_funds", "funds"),
        (CARD_RESTING, "funds"),
        (CARD_RESTING, "funds"),
    ]
    assert len(bank_received(fingerprint)) == signups + 1
    cases = [case_of(m) for m in family]
    assert [c.last_decline_category for c in cases] == ["funds"] * 3
    assert all(c.block_reason == "" and c.retries_made == 0 for c in cases)
    first_retry = min(r.due_at for r in ScheduledRetry.objects.filter(status=RetryStatus.PENDING))
    assert all(
        ScheduledRetry.objects.filter(
            case=c, status=RetryStatus.PENDING, due_at=first_retry
        ).exists()
        for c in cases
    )

    run_at(time_machine, first_retry)
    # One charge per renewal reached the bank at the retry: the first paid, and so the
    # others were sent after it, in their own rounds.
    received = bank_received(fingerprint)
    assert len(received) == signups + 1 + 3
    assert [a.status for a in received[-3:]] == [AttemptStatus.SUCCEEDED] * 3
    assert {c.pk for c in DunningCase.objects.filter(status="recovered")} == {c.pk for c in cases}


def test_a_retry_not_sent_on_a_resting_card_gives_its_place_back(bank, gym, time_machine):
    """A policy retry withheld because the card was declined for low funds earlier in the
    same run is skipped (not failed) and not counted in the case's retries."""
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    family, fingerprint = family_on_one_card("tok_decline_insufficient_funds", PlanFactory())
    fail_renewal(time_machine)
    cases = [case_of(m) for m in family]
    first_retry = min(r.due_at for r in ScheduledRetry.objects.filter(status=RetryStatus.PENDING))
    before = len(bank_received(fingerprint))
    run_at(time_machine, first_retry)
    assert len(bank_received(fingerprint)) == before + 1
    done = ScheduledRetry.objects.filter(case__in=cases, due_at=first_retry).order_by("case_id")
    assert [(r.status, r.skip_reason) for r in done] == [
        (RetryStatus.FAILED, ""),
        (RetryStatus.SKIPPED, CARD_RESTING),
        (RetryStatus.SKIPPED, CARD_RESTING),
    ]
    for case in cases:
        case.refresh_from_db()
    assert [c.retries_made for c in cases] == [1, 0, 0]
    assert [
        a.decline_code
        for a in PaymentAttempt.objects.filter(
            card_fingerprint=fingerprint, created_at__gte=first_retry
        ).order_by("pk")
    ] == ["insufficient_funds", CARD_RESTING, CARD_RESTING]


def test_the_silent_stretch_gets_one_friendly_message_with_the_pay_link(
    failing_member, time_machine
):
    membership = failing_member("tok_decline_expired_card")
    fail_renewal(time_machine)
    case = case_of(membership)
    run_at(time_machine, local(2026, 4, 19, 9))  # day 14: the final notice
    mail.outbox = []
    locmem.outbox.clear()
    for when in (local(2026, 4, 25, 23), local(2026, 4, 26, 9), local(2026, 4, 26, 9)):
        run_at(time_machine, when)  # day 20: nothing; day 21 twice
    run_until(time_machine, local(2026, 5, 4, 9))  # the days up to the cancellation
    friendly = DunningMessage.objects.filter(case=case, template="friendly_reminder")
    assert sorted(friendly.values_list("channel", "status")) == [
        ("email", MessageStatus.SENT),
        ("sms", MessageStatus.SENT),
    ]
    (email,) = mail.outbox
    (sms,) = locmem.outbox
    # A customer-action decline: the message leads with PromptPay or a new card.
    assert email.subject.startswith("Pay by PromptPay or add a new card")
    assert email.body.split("\n")[2].startswith("Pay by PromptPay or add a new card: https://")
    assert sms.body.startswith("Pay by PromptPay or add a new card: https://")
    assert "/pay/" in email.body


def test_the_friendly_message_in_thai_for_a_funds_decline(failing_member, time_machine):
    membership = failing_member("tok_decline_insufficient_funds", language="th")
    fail_renewal(time_machine)
    case = case_of(membership)
    DunningCase.objects.filter(pk=case.pk).update(last_decline_category="funds")
    run_until(time_machine, local(2026, 4, 25, 9))
    mail.outbox = []
    run_at(time_machine, local(2026, 4, 26, 9))
    (email,) = [m for m in mail.outbox if "ใบแจ้งหนี้" in m.subject]
    assert email.subject.startswith("เราอยากให้ท่านอยู่กับเราต่อ")
    assert "พร้อมเพย์" in email.body and "/pay/" in email.body


def test_retries_left_pending_stay_inside_the_window(failing_member, time_machine):
    membership = failing_member("tok_decline_do_not_honor")
    fail_renewal(time_machine)
    case = case_of(membership)
    assert case.last_decline_category == "maybe_funds"
    end = window_end(case)
    assert not case.retries.filter(status=RetryStatus.PENDING, due_at__gt=end).exists()


@pytest.mark.parametrize("token", ["tok_decline_expired_card", "tok_decline_insufficient_funds"])
def test_every_dunning_message_opens_a_page_that_offers_promptpay(
    failing_member, time_machine, client, settings, token
):
    settings.PROMPTPAY_ROUTE = "auto"
    settings.PROMPTPAY_ID = ""
    membership = failing_member(token)
    fail_renewal(time_machine)
    case = case_of(membership)
    # Every ladder step before the cancellation; the member never pays.  Each link is
    # opened on the day its message arrives (links expire after 14 days).
    opened: list[str] = []
    day = local(2026, 4, 5, 20)
    while day < local(2026, 5, 5):
        run_until(time_machine, day)
        for email in mail.outbox:
            link = next(word for word in email.body.split() if "/pay/" in word)
            page = client.get(link.replace("https://gym.example", ""))
            assert page.status_code == 200, email.subject
            html = page.content.decode()
            assert 'id="promptpay-offer"' in html, email.subject
            assert 'id="new-card-form"' in html, email.subject
            opened.append(email.subject)
        mail.outbox = []
        day += dt.timedelta(days=1)
    sent = DunningMessage.objects.filter(case=case, channel="email", status__in=["sent", "clicked"])
    assert set(sent.values_list("template", flat=True)) >= {
        "failed_notice",
        "reminder",
        "access_warning",
        "access_suspended",
        "final_notice",
        "friendly_reminder",
    }
    assert len(opened) >= 6
