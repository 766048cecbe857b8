"""The movement rules on standings given by hand (no clock, no story): each case once."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from billing.reports.movements import movements_between
from billing.reports.rates import Rate, money_over

MONTH = dt.date(2027, 3, 1)


def test_each_kind_of_movement_by_hand():
    before = {1: (100_000, True), 2: (50_000, True), 3: (80_000, True), 4: (70_000, True),
              5: (0, True), 8: (60_000, True)}  # fmt: skip
    after = {1: (120_000, True), 2: (30_000, True), 5: (90_000, True), 6: (40_000, True),
             7: (25_000, True), 8: (0, True)}  # fmt: skip
    moved = movements_between(MONTH, before, after, seen_before={7}, involuntary={4})
    assert (moved.mrr_start, moved.mrr_end) == (360_000, 305_000)
    assert moved.expansion == 20_000 + 90_000  # 1 grew; 5 came back from a freeze
    assert moved.contraction == 20_000 + 60_000  # 2 shrank; 8 froze
    assert (moved.new, moved.reactivation) == (40_000, 25_000)  # 6 new; 7 came back
    assert (moved.churned_voluntary, moved.churned_involuntary) == (80_000, 70_000)
    assert (moved.subscribers_start, moved.subscribers_end, moved.paying_members) == (6, 6, 5)
    assert moved.members == {
        "expansion": [1, 5],
        "contraction": [2, 8],
        "churned_voluntary": [3],
        "churned_involuntary": [4],
        "new": [6],
        "reactivation": [7],
    }
    assert moved.adds_up()
    # Stripe's churn: 2 of (6 at the start + 2 arrived) = 25%.
    assert str(moved.subscriber_churn) == "25%"
    assert str(moved.subscriber_churn_involuntary) == "12.5%"


standing = st.dictionaries(
    st.integers(1, 40),
    st.one_of(
        st.tuples(st.integers(1, 10**9), st.just(True)), st.just((0, True)), st.just((0, False))
    ),
    max_size=30,
)


@given(standing, standing, st.sets(st.integers(1, 40)), st.sets(st.integers(1, 40)))
def test_start_plus_movements_is_the_end_whatever_happens(before, after, seen, involuntary):
    moved = movements_between(MONTH, before, after, seen, involuntary)
    assert moved.adds_up()
    lost = moved.churned + moved.contraction - moved.expansion - moved.reactivation
    assert moved.net_mrr_churn.numerator == lost
    assert (
        moved.net_mrr_churn_voluntary.numerator + moved.net_mrr_churn_involuntary.numerator == lost
    )


def test_rates_and_money_over_a_rate_are_exact():
    assert str(Rate(1, 3)) == "33.33%"
    assert str(Rate(0, 0)) == "–"
    assert Rate(-1, 8).basis_points == -1250
    assert money_over(126_875, Rate(3, 40).fraction) == 1_691_667
    assert money_over(100, Rate(0, 5).fraction) is None
