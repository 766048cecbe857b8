"""The recovery simulation (``benchmarks/dunning_sim.py``) on a small population.

The simulation replays failed payments through dunning's real policy code, so these
tests are a long-run check of the network rules as well: our policy never breaks one,
while a naive fixed schedule does (it retries hard declines), and ours recovers at
least as much.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "dunning_sim.py"


@pytest.fixture(scope="module")
def sim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dunning_sim", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dunning_sim"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def results(sim):
    ours, naive = sim.simulate(payments=3000, seed=5)
    return ours, naive


def test_our_policy_never_breaks_a_network_rule(results):
    ours, _ = results
    assert ours.failed == 3000
    assert ours.violating_attempts == 0
    assert not +ours.violations


def test_the_naive_schedule_retries_hard_declines(results):
    _, naive = results
    assert naive.violations["never_retry"] > 0
    assert naive.violating_attempts > 0


def test_ours_recovers_at_least_as_much_with_fewer_attempts_per_recovery(results):
    ours, naive = results
    assert ours.recovered >= naive.recovered
    assert 0.4 < ours.recovery_rate < 0.9  # a plausible world, not a degenerate one
    assert ours.attempts_per_recovery <= naive.attempts_per_recovery


def test_the_same_seed_gives_the_same_table(sim, results):
    again = sim.simulate(payments=3000, seed=5)
    assert sim.format_table(again) == sim.format_table(list(results))
    assert "ours (default policy)" in sim.format_table(again)


def test_households_sharing_a_card_are_held_to_the_caps(sim):
    """Four invoices failing on one Visa card: 4 + 4 × 8 retries would exceed 15 in 30
    days; ours stays within it, the naive schedule (4 + 16 attempts) does not."""
    world = sim.World(seed=1)
    failed_at = dt.datetime(2027, 1, 20, 19, tzinfo=dt.UTC)
    household = sim.Household(
        number=0,
        invoices=4,
        failed_at=failed_at,
        brand="visa",
        category="generic",
        decline=sim.Decline("do_not_honor", "05", ""),
        payday_kind="irregular",
        short_all_month=True,
        money_windows=[],
        issuer_back_at=failed_at,
        update_at=None,
    )
    always_declines = lambda h, card, at: h.decline  # noqa: E731
    world.charge = always_declines
    with sim.seeded_classifier():
        ours, naive = sim.Referee(), sim.Referee()
        ours_outcome = sim.OurPolicy().replay(world, household, ours)
        naive_outcome = sim.NaivePolicy().replay(world, household, naive)
    assert ours.violating_attempts == 0
    assert ours_outcome.attempts == 15 - 4  # every slot the Visa cap leaves, no more
    assert naive_outcome.attempts == 16
    assert naive.violations["visa_30d"] == 5


def test_a_mastercard_merchant_advice_21_is_never_retried(sim):
    world = sim.World(seed=1)
    failed_at = dt.datetime(2027, 2, 3, 19, tzinfo=dt.UTC)
    household = sim.Household(
        number=0,
        invoices=1,
        failed_at=failed_at,
        brand="mastercard",
        category="generic",
        decline=sim.Decline("do_not_honor", "05", "21"),
        payday_kind="irregular",
        short_all_month=True,
        money_windows=[],
        issuer_back_at=failed_at,
        update_at=None,
    )
    world.charge = lambda h, card, at: h.decline
    with sim.seeded_classifier():
        ours, naive = sim.Referee(), sim.Referee()
        assert sim.OurPolicy().replay(world, household, ours).attempts == 0
        assert sim.NaivePolicy().replay(world, household, naive).attempts == 4
    assert (ours.violating_attempts, naive.violations["never_retry"]) == (0, 4)
