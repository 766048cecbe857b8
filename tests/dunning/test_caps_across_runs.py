"""Card-network caps across batches, workers and concurrent runs, on a ticking clock.

A run fixes ``now`` once; the attempts its batches write carry the instant they are
written, later than that.  These tests let the clock tick (``tick=True``) so that
difference is real, as it is in production, and share one card between many
memberships (a household paying for the family).

The rule checked: every charge dunning makes (trigger ``retry`` or ``staff``) keeps
every rolling window that ends at it within the card network's limit, counting every
attempt on the card (billing's first attempts too); and no card is sent to the bank
again after a hard decline.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from billing.models import AttemptTrigger, Membership, PaymentAttempt
from billing.services.payments import NOT_SENT_CODES
from billing.services.run import billing_run
from dunning.caps import cap_rules, never_again_condition
from dunning.services.run import dunning_run
from tests.billing.factories import PlanFactory, card, signed_up
from tests.concurrency import at_once
from tests.dunning.conftest import local
from tests.dunning.helpers import RENEWAL, next_event_time
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

DUNNING_TRIGGERS = (AttemptTrigger.RETRY, AttemptTrigger.STAFF)


def household(size: int, token: str, plan, label: str = "family") -> list[Membership]:
    """``size`` memberships of one payer family, all on one card (one fingerprint)."""
    memberships = []
    for n in range(size):
        member = MemberFactory()
        membership = signed_up(member=member, plan=plan)
        method = card(member, f"{token}.{label}:m{n}")
        Membership.objects.filter(pk=membership.pk).update(payment_method=method)
        membership.refresh_from_db()
        memberships.append(membership)
    return memberships


def cap_breaches(fingerprint: str, brand: str) -> list[str]:
    """Each dunning charge on the card whose window (counting every attempt) is over a cap."""
    attempts = list(
        PaymentAttempt.objects.filter(card_fingerprint=fingerprint)
        # Withheld by billing (card_blocked, card_resting): never sent to the bank.
        .exclude(decline_code__in=NOT_SENT_CODES)
        .values_list("created_at", "trigger")
    )
    times = sorted(at for at, _ in attempts)
    breaches = []
    for at, trigger in attempts:
        if trigger not in DUNNING_TRIGGERS:
            continue
        for rule in cap_rules(brand):
            inside = sum(1 for t in times if at - rule.period < t <= at)
            if inside > rule.limit:
                breaches.append(f"{rule.name}: {inside} > {rule.limit} at {at.isoformat()}")
    return breaches


def sent_after_hard_decline(fingerprint: str) -> int:
    """Charges dunning sent to the bank on the card after its first never-again decline."""
    first = (
        PaymentAttempt.objects.filter(card_fingerprint=fingerprint)
        .filter(never_again_condition())
        .exclude(decline_code__in=NOT_SENT_CODES)
        .order_by("created_at", "pk")
        .first()
    )
    if first is None:
        return 0
    # Billing's first attempts written in the same batch as that one were already on
    # their way; a retry (or anything dunning starts) after it never is.
    return (
        PaymentAttempt.objects.filter(
            card_fingerprint=fingerprint, pk__gt=first.pk, trigger__in=DUNNING_TRIGGERS
        )
        .exclude(decline_code__in=NOT_SENT_CODES)
        .count()
    )


def run_days(time_machine, end: dt.datetime, *, concurrent: int, rng: random.Random) -> int:
    """Run dunning whenever something is due until ``end``, on a ticking clock; with
    ``concurrent`` above 1, that many runs at once each time."""
    runs = 0
    while runs < 400:
        at = next_event_time()
        if at is None or at > end:
            break
        time_machine.move_to(max(at, dt.datetime.now(dt.UTC)), tick=True)
        if concurrent > 1:
            at_once(dunning_run, times=concurrent)
        else:
            dunning_run()
        runs += 1
        # Another moment of the day: a second pass finds whatever came due meanwhile.
        if rng.random() < 0.3:
            dunning_run()
    return runs


def fail_renewals(time_machine) -> None:
    time_machine.move_to(local(2026, 4, 5, 10), tick=True)
    billing_run(RENEWAL, fan_out=False)


def test_a_family_visa_card_stays_within_its_cap_across_batches(bank, gym, time_machine, settings):
    """Twelve memberships on one Visa card, batches of four: the run's batches see each
    other's attempts (today's code counted only attempts up to the run's start)."""
    settings.DUNNING_BATCH_SIZE = 4
    settings.DUNNING_RUN_WORKERS = 1
    time_machine.move_to(local(2026, 3, 5, 9), tick=True)
    family = household(12, "tok_decline_do_not_honor", PlanFactory())
    fail_renewals(time_machine)
    run_days(time_machine, local(2026, 5, 5), concurrent=1, rng=random.Random(1))
    fingerprint = family[0].payment_method.fingerprint
    retries = PaymentAttempt.objects.filter(
        card_fingerprint=fingerprint, trigger__in=DUNNING_TRIGGERS
    )
    assert retries.count() >= 3  # dunning did charge the card, up to the cap
    assert cap_breaches(fingerprint, "visa") == []


def test_a_family_mastercard_stays_within_its_caps_with_two_runs_at_once(
    bank, gym, time_machine, settings
):
    """Twelve memberships on one Mastercard retried within hours, two runs at a time,
    each with two workers: ten in 24 hours is never exceeded."""
    settings.DUNNING_BATCH_SIZE = 3
    settings.DUNNING_RUN_WORKERS = 2
    time_machine.move_to(local(2026, 3, 5, 9), tick=True)
    family = household(12, "tok_mc_advice_try_again_later_do_not_honor", PlanFactory())
    fail_renewals(time_machine)
    run_days(time_machine, local(2026, 4, 20), concurrent=2, rng=random.Random(2))
    fingerprint = family[0].payment_method.fingerprint
    assert PaymentAttempt.objects.filter(
        card_fingerprint=fingerprint, trigger__in=DUNNING_TRIGGERS
    ).exists()
    assert cap_breaches(fingerprint, "mastercard") == []


SOFT_TOKENS = [
    ("tok_decline_do_not_honor", "visa"),
    ("tok_decline_insufficient_funds", "visa"),
    ("tok_mc_advice_try_again_later_do_not_honor", "mastercard"),
    ("tok_mc_decline_do_not_honor", "mastercard"),
]
HARD_TOKENS = [
    ("tok_decline_lost_card", "visa"),
    ("tok_mc_merchant_advice_03", "mastercard"),
]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 23, 37])
def test_random_households_batches_and_runs_never_break_a_cap(
    bank, gym, time_machine, settings, seed
):
    """Property (seeded random, the seed is in the test id): random households on shared
    cards, random batch sizes and worker counts, one or two runs at once, 30 simulated
    days.  No card exceeds Visa 15/30 days, Mastercard 10/24 hours or 35/30 days, and
    no card reaches the bank again after a hard decline."""
    rng = random.Random(seed)
    settings.DUNNING_BATCH_SIZE = rng.choice([1, 2, 3, 5, 8, 200])
    settings.DUNNING_RUN_WORKERS = rng.choice([1, 2])
    concurrent = rng.choice([1, 2])
    time_machine.move_to(local(2026, 3, 5, 9), tick=True)
    cards: list[tuple[str, str]] = []
    plan = PlanFactory()
    for number in range(rng.randint(2, 4)):
        token, brand = rng.choice(HARD_TOKENS if rng.random() < 0.25 else SOFT_TOKENS)
        family = household(rng.randint(1, 9), token, plan, label=f"house{'abcd'[number]}")
        cards.append((family[0].payment_method.fingerprint, brand))
        plan = PlanFactory()
    fail_renewals(time_machine)
    run_days(time_machine, local(2026, 5, 5), concurrent=concurrent, rng=rng)
    assert PaymentAttempt.objects.filter(trigger__in=DUNNING_TRIGGERS).exists()
    for fingerprint, brand in cards:
        assert cap_breaches(fingerprint, brand) == [], (seed, brand)
        assert sent_after_hard_decline(fingerprint) == 0, (seed, brand)
