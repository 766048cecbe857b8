"""The recovery simulation (``benchmarks/dunning_sim.py``) on a small population.

The simulation replays failed payments through dunning's real policy code, so these
tests are a long-run check of the network rules as well: the default policy and the
fixed-schedule mode never break one, billing's first attempts included, while the old
policy sent a family's renewals to the bank after the card's hard decline.
"""

from __future__ import annotations

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
    return sim.simulate(payments=3000, seed=5)


def test_the_default_and_fixed_policies_never_break_a_network_rule(results):
    default, _old, fixed = results
    for result in (default, fixed):
        assert result.failed == 3000
        assert result.violating_attempts == 0
        assert not +result.violations
        # A family card hard declined on one renewal: the others were never sent.
        assert result.withheld > 0


def test_the_old_policy_sent_a_familys_renewals_after_a_hard_decline(results):
    _default, old, _fixed = results
    assert old.withheld == 0
    assert old.violations["never_retry"] > 0


def test_the_default_policy_recovers_more_than_the_old_one_and_the_fixed_mode(results):
    default, old, fixed = results
    assert default.recovered > fixed.recovered > old.recovered
    assert 0.4 < default.recovery_rate < 0.95  # a plausible world, not a degenerate one
    assert default.attempts_per_recovery < old.attempts_per_recovery


def test_the_same_seed_gives_the_same_table(sim, results):
    again = sim.simulate(payments=3000, seed=5)
    assert sim.format_table(again) == sim.format_table(list(results))
