"""MRR and its movements on a story computed by hand, with the clock moved through 2027.

Plans (prices include 7% VAT, so the net is price ÷ 1.07):
- Basic, monthly ฿1,070.00 → ฿1,000.00 a month;
- Plus, monthly ฿2,140.00 → ฿2,000.00 a month (one freeze a year);
- Quarterly ฿3,210.00 every 3 months → ฿3,000.00 ÷ 3 = ฿1,000.00 a month;
- Annual ฿12,840.00 a year with a ฿107.00 locker a year and a 10% discount forever:
  (12,000.00 + 100.00 − 1,200.00) ÷ 12 = ฿908.33 a month (908.3333 rounded);
- Weekly ฿535.00 a week → 500.00 × 52 ÷ 12 = ฿2,166.67 a month.

The story, member by member:
- A joins Basic 10 Jan, upgrades to Plus 15 Feb, freezes 14 Mar – 13 Apr, fails on the
  10 May renewal and is recovered 3 Jun, downgrades to Basic from 10 Jun, cancels 1 Jul,
  comes back 2 Sep;
- B joins Quarterly 20 Jan, fails the 20 Apr renewal, is cancelled for non-payment 6 May;
- C joins Annual 5 Jan with the locker and the coupon; D joins Weekly 1 Feb;
- E starts a 14-day trial of Basic 25 Mar and pays from 8 Apr.

MRR at each month's end, by hand (satang):

| month | A       | B       | C     | D       | E       | end     |
|-------|---------|---------|-------|---------|---------|---------|
| Jan   | 100000  | 100000  | 90833 |         |         | 290833  |
| Feb   | 200000  | 100000  | 90833 | 216667  |         | 607500  |
| Mar   | frozen  | 100000  | 90833 | 216667  | trial   | 407500  |
| Apr   | 200000  | 100000  | 90833 | 216667  | 100000  | 707500  |
| May   | 200000  | churned | 90833 | 216667  | 100000  | 607500  |
| Jun   | 100000  |         | 90833 | 216667  | 100000  | 507500  |
| Jul   | churned |         | 90833 | 216667  | 100000  | 407500  |
| Aug   |         |         | 90833 | 216667  | 100000  | 407500  |
| Sep   | 100000  |         | 90833 | 216667  | 100000  | 507500  |
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from billing.models import AddOn, Coupon, Invoice, InvoiceStatus, MrrMonth, MrrSnapshot
from billing.reports.movements import (
    lifetime_value,
    movements_current,
    movements_range,
    trailing_churn,
)
from billing.reports.mrr import monthly, mrr_at, mrr_from_invoices, mrr_live
from billing.services import memberships as ms
from billing.services import payments
from billing.services.run import billing_run
from billing.services.snapshots import mrr_months_write
from tests.billing.factories import PlanFactory, card, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

START = dt.date(2027, 1, 1)


class Story:
    """Moves the gym's clock a day at a time, running the daily billing as production does."""

    def __init__(self, traveller: Any) -> None:
        self.traveller = traveller
        self.day = START

    def to(self, day: dt.date) -> None:
        while self.day < day:
            self.day += dt.timedelta(days=1)
            self.traveller.move_to(dt.datetime.combine(self.day, dt.time(3, 0), tzinfo=dt.UTC))
            ms.memberships_apply_scheduled(self.day)
            billing_run(self.day)


def month(n: int) -> dt.date:
    return dt.date(2027, n, 1)


@pytest.fixture
def story():
    at = dt.datetime.combine(START, dt.time(3, 0), tzinfo=dt.UTC)
    with time_machine.travel(at, tick=False) as traveller:
        yield Story(traveller)


@pytest.fixture
def plans():
    return {
        "basic": PlanFactory(code="basic", name="Basic", price=107_000),
        "plus": PlanFactory(code="plus", name="Plus", price=214_000, freezes_per_year=1),
        "quarterly": PlanFactory(code="quarterly", interval_count=3, price=321_000),
        "annual": PlanFactory(code="annual", interval="year", price=1_284_000),
        "weekly": PlanFactory(code="weekly", interval="week", price=53_500),
    }


def play(story: Story, plans: dict) -> dict:
    """The story in the module's docstring; returns the members by letter."""
    locker = AddOn.objects.create(code="locker", name="Locker", price=10_700)
    Coupon.objects.create(code="loyal", name="Loyal", percent_off_bp=1_000, duration="forever")
    people = {letter: MemberFactory() for letter in "ABCDE"}
    story.to(dt.date(2027, 1, 5))
    signed_up(member=people["C"], plan=plans["annual"], addons=[(locker, 1)], coupon_code="loyal")
    story.to(dt.date(2027, 1, 10))
    a = signed_up(member=people["A"], plan=plans["basic"])
    story.to(dt.date(2027, 1, 20))
    b = signed_up(member=people["B"], plan=plans["quarterly"])
    story.to(dt.date(2027, 2, 1))
    signed_up(member=people["D"], plan=plans["weekly"])
    story.to(dt.date(2027, 2, 15))
    ms.membership_upgrade(a, plans["plus"])
    story.to(dt.date(2027, 3, 12))
    a.refresh_from_db()
    ms.membership_freeze(a, starts_on=dt.date(2027, 3, 14), ends_on=dt.date(2027, 4, 12))
    story.to(dt.date(2027, 3, 25))
    signed_up(
        member=people["E"], plan=PlanFactory(code="basic-trial", price=107_000, trial_days=14)
    )
    story.to(dt.date(2027, 4, 15))
    card(people["B"], "tok_decline_insufficient_funds")
    card(people["A"], "tok_decline_insufficient_funds")
    story.to(dt.date(2027, 5, 6))
    b.refresh_from_db()
    ms.membership_cancel_for_nonpayment(b)
    story.to(dt.date(2027, 6, 3))
    good = card(people["A"], f"tok_ok.renewed{people['A'].pk}")
    for invoice in Invoice.objects.filter(membership=a, status=InvoiceStatus.OPEN):
        payments.invoice_charge(invoice, method=good)
    story.to(dt.date(2027, 6, 5))
    a.refresh_from_db()
    ms.membership_downgrade(a, plans["basic"])
    story.to(dt.date(2027, 7, 1))
    a.refresh_from_db()
    ms.membership_cancel(a, at_period_end=False, reason="moving away")
    story.to(dt.date(2027, 9, 2))
    a.refresh_from_db()
    ms.membership_reactivate(a)
    story.to(dt.date(2027, 10, 1))
    return people


EXPECTED_END = {1: 290833, 2: 607500, 3: 407500, 4: 707500, 5: 607500, 6: 507500, 7: 407500,
                8: 407500, 9: 507500}  # fmt: skip
# (new, reactivation, expansion, contraction, churned voluntary, churned involuntary)
EXPECTED_MOVES = {
    1: (290833, 0, 0, 0, 0, 0),
    2: (216667, 0, 100000, 0, 0, 0),
    3: (0, 0, 0, 200000, 0, 0),
    4: (100000, 0, 200000, 0, 0, 0),
    5: (0, 0, 0, 0, 0, 100000),
    6: (0, 0, 0, 100000, 0, 0),
    7: (0, 0, 0, 0, 100000, 0),
    8: (0, 0, 0, 0, 0, 0),
    9: (0, 100000, 0, 0, 0, 0),
}


def test_monthly_normalisation_of_every_interval():
    assert monthly(100_000, "month", 1) == 100_000
    assert monthly(300_000, "month", 3) == 100_000
    assert monthly(1_090_000, "year", 1) == 90_833  # 90,833.33
    assert monthly(50_000, "week", 1) == 216_667  # 216,666.67
    assert monthly(50_000, "week", 2) == 108_333  # fortnightly: 108,333.33
    assert monthly(99_999, "month", 6) == 16_667  # 16,666.5 rounds half away from zero


def test_the_story_snapshots_and_movements_match_the_hand_computed_table(story, plans):
    people = play(story, plans)
    months = mrr_months_write()
    assert [m.month for m in months] == [month(n) for n in range(1, 10)]
    by_month = {m.month.month: m for m in MrrMonth.objects.all()}
    for n, end in EXPECTED_END.items():
        row = by_month[n]
        assert row.mrr_end == end, n
        moves = (row.new, row.reactivation, row.expansion, row.contraction,
                 row.churned_voluntary, row.churned_involuntary)  # fmt: skip
        assert moves == EXPECTED_MOVES[n], n
        assert row.mrr_start == (by_month[n - 1].mrr_end if n > 1 else 0)
    # Subscribers: A frozen in March still counts; E on trial does not yet.
    assert [by_month[n].subscribers_end for n in range(1, 10)] == [3, 4, 4, 5, 4, 4, 3, 3, 4]
    assert (
        by_month[5].churned_involuntary_subscribers,
        by_month[7].churned_voluntary_subscribers,
    ) == (1, 1)
    assert by_month[9].reactivated_subscribers == 1
    # Per membership: C's annual plan with its locker and coupon forever.
    c = MrrSnapshot.objects.get(month=month(9), member=people["C"])
    assert c.mrr == 90_833


def test_churn_rates_arpu_and_ltv_by_hand(story, plans):
    play(story, plans)
    mrr_months_write()
    months = {m.month.month: m for m in movements_range(month(1), month(9), dt.date(2027, 10, 1))}
    # May: B (involuntary) of the 5 subscribers at the start; July: A (voluntary) of 4.
    assert str(months[5].subscriber_churn) == "20%"
    assert str(months[5].subscriber_churn_involuntary) == "20%"
    assert str(months[5].subscriber_churn_voluntary) == "0%"
    assert str(months[7].subscriber_churn) == "25%"
    # Net MRR churn in May: 100,000 ÷ 707,500 = 14.134...%.
    assert months[5].net_mrr_churn.basis_points == 1413
    assert months[5].net_mrr_churn_involuntary.basis_points == 1413
    assert months[5].net_mrr_churn_voluntary.basis_points == 0
    # April: expansion 200,000 and no churn → −200,000 ÷ 407,500 = −49.08%.
    assert months[4].net_mrr_churn.basis_points == -4908
    # ARPU in September: 507,500 ÷ 4 paying = 126,875.
    assert months[9].arpu == 126_875
    # Trailing six months (Apr–Sep): 0, 1/5, 0, 1/4, 0, 0 → 9/20 ÷ 6 = 3/40.
    churn = trailing_churn([months[n] for n in range(1, 10)])
    assert churn is not None and (churn.numerator, churn.denominator) == (3, 40)
    assert lifetime_value(months[9].arpu, churn) == 1_691_667  # 126,875 × 40 ÷ 3


def test_snapshots_never_change_after_the_fact_and_a_rebuild_agrees(story, plans):
    play(story, plans)
    first = mrr_months_write()
    written = {(s.month, s.membership_id): s.mrr for s in MrrSnapshot.objects.all()}
    assert mrr_months_write()[0].written_at == first[0].written_at  # idempotent
    rebuilt = mrr_months_write(rebuild=True)
    assert {(s.month, s.membership_id): s.mrr for s in MrrSnapshot.objects.all()} == written
    assert [m.mrr_end for m in rebuilt] == [m.mrr_end for m in first]


def test_live_mrr_equals_mrr_rebuilt_from_history_and_from_invoices(story, plans):
    play(story, plans)
    live = {row.membership_id: row.mrr for row in mrr_live() if row.mrr}
    assert live == {row.membership_id: row.mrr for row in mrr_at(story.day) if row.mrr}
    # 1 Oct: no plan changes this month, so each membership's current invoice agrees.
    assert mrr_from_invoices(story.day) == live
    assert sum(live.values()) == 507_500


def test_the_current_month_is_live_and_adds_up(story, plans):
    people = play(story, plans)
    mrr_months_write()
    story.to(dt.date(2027, 10, 3))
    e = people["E"].memberships.get()
    ms.membership_cancel(e, at_period_end=False)
    current = movements_current(story.day)
    assert current.live and current.month == month(10)
    assert (current.mrr_start, current.churned_voluntary, current.mrr_end) == (
        507_500,
        100_000,
        407_500,
    )
    assert current.members["churned_voluntary"] == [people["E"].pk]
    assert current.adds_up()
