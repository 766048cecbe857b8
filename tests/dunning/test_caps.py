"""Card-network reattempt rules: never exceeded, whatever happens.

The pure rule is checked exhaustively with hypothesis (an adversary asks to charge at
arbitrary moments; we charge only when allowed).  The database version is checked in
a long simulated run in ``test_retries.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.models import AttemptStatus, AttemptTrigger, PaymentAttempt
from billing.services.payments import CARD_BLOCKED, invoice_charge
from billing.services.run import billing_run
from dunning.caps import CapRule, cap_free_at, cap_rules, credential_check
from dunning.models import DunningCase
from tests.billing.factories import PlanFactory, signed_up
from tests.dunning.conftest import local
from tests.dunning.helpers import run_until

T0 = local(2026, 1, 1, 0)


def windows_respected(history: list[dt.datetime], rules: list[CapRule]) -> bool:
    """Every window ``(t - period, t]`` ending at an attempt holds at most ``limit`` attempts."""
    ordered = sorted(history)
    for rule in rules:
        for end in ordered:
            inside = [t for t in ordered if end - rule.period < t <= end]
            if len(inside) > rule.limit:
                return False
    return True


@settings(max_examples=200, deadline=None)
@given(
    brand=st.sampled_from(["visa", "mastercard", "amex"]),
    gaps_minutes=st.lists(st.integers(min_value=0, max_value=60 * 30), min_size=1, max_size=120),
)
def test_greedy_charging_never_breaks_a_cap(brand, gaps_minutes):
    rules = cap_rules(brand)
    history: list[dt.datetime] = []
    now = T0
    for gap in gaps_minutes:
        now += dt.timedelta(minutes=gap)
        verdict = cap_free_at(history, now, rules)
        if verdict is None:
            history.append(now)
        else:
            # The rule says when the card frees up: then, and not a moment before, it does.
            _, free_at = verdict
            assert free_at > now
            assert cap_free_at(history, free_at, rules) is None
    assert windows_respected(history, rules)


def test_the_limits_are_the_networks():
    assert [(r.limit, r.period) for r in cap_rules("visa")] == [(15, dt.timedelta(days=30))]
    assert [(r.limit, r.period) for r in cap_rules("mastercard")] == [
        (10, dt.timedelta(hours=24)),
        (35, dt.timedelta(days=30)),
    ]


def test_visa_limit_is_a_setting(settings):
    settings.DUNNING_VISA_REATTEMPTS_30D = 20
    assert cap_rules("visa")[0].limit == 20


def test_mastercard_frees_up_exactly_a_day_after_the_tenth():
    history = [T0 + dt.timedelta(minutes=m) for m in range(10)]
    name, free_at = cap_free_at(history, T0 + dt.timedelta(hours=1), cap_rules("mastercard"))
    assert (name, free_at) == ("mastercard_24h", T0 + dt.timedelta(days=1))
    assert cap_free_at(history, free_at, cap_rules("mastercard")) is None


@pytest.mark.django_db(transaction=True)
def test_a_hard_declined_card_is_never_charged_again(bank, time_machine):
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    membership = signed_up(token="tok_decline_lost_card")
    attempt = PaymentAttempt.objects.get(invoice__membership=membership)
    assert attempt.decline_category == "hard"
    later = local(2027, 3, 5, 9)
    verdict = credential_check(attempt.card_fingerprint, "visa", later)
    assert (verdict.allowed, verdict.reason) == (False, "hard_decline")


@pytest.mark.django_db(transaction=True)
def test_mastercard_merchant_advice_03_blocks_the_card(bank, time_machine):
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    membership = signed_up(token="tok_mc_merchant_advice_03")
    attempt = PaymentAttempt.objects.get(invoice__membership=membership)
    assert (attempt.card_brand, attempt.advice_code) == ("mastercard", "03")
    verdict = credential_check(attempt.card_fingerprint, "mastercard", local(2026, 4, 5))
    assert verdict.reason == "hard_decline"


@pytest.mark.django_db(transaction=True)
def test_a_funds_declined_card_may_be_retried(bank, time_machine):
    time_machine.move_to(local(2026, 3, 5, 9), tick=False)
    membership = signed_up(token="tok_decline_insufficient_funds")
    attempt = PaymentAttempt.objects.get(invoice__membership=membership)
    assert credential_check(attempt.card_fingerprint, "visa", local(2026, 3, 6)).allowed


@pytest.mark.django_db(transaction=True)
def test_no_billing_path_charges_a_card_again_after_its_hard_decline(failing_member, time_machine):
    membership = failing_member(
        "tok_decline_lost_card", plan=PlanFactory(interval="week", name="Weekly")
    )
    fingerprint = membership.payment_method.fingerprint
    first = membership.next_billing_date
    for week in range(3):  # three weekly renewals, with dunning running in between
        day = first + dt.timedelta(days=7 * week)
        time_machine.move_to(local(day.year, day.month, day.day, 10), tick=False)
        billing_run(day, fan_out=False)
        run_until(time_machine, local(day.year, day.month, day.day, 12))
    attempts = list(
        PaymentAttempt.objects.filter(card_fingerprint=fingerprint).order_by("created_at", "pk")
    )
    assert len(attempts) >= 3
    # Only the first renewal reached the bank; later ones were failed here, unsent.
    assert attempts[0].decline_code == "lost_card" and attempts[0].gateway_reference
    later = [
        (a.status, a.decline_code, a.decline_category, a.gateway_reference) for a in attempts[1:]
    ]
    assert later == [(AttemptStatus.FAILED, CARD_BLOCKED, "hard", "")] * len(later)
    # A later invoice's case is blocked on that card: it waits for a new one.
    case = DunningCase.objects.filter(invoice=attempts[-1].invoice).get()
    assert (case.block_reason, case.blocked_fingerprint) == ("hard", fingerprint)
    # Staff charging an invoice on it by hand is refused the same way.
    staff = invoice_charge(attempts[-1].invoice, trigger=AttemptTrigger.STAFF)
    assert (staff.status, staff.decline_code, staff.gateway_reference) == (
        AttemptStatus.FAILED,
        CARD_BLOCKED,
        "",
    )
