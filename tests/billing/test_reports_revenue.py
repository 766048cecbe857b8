"""Revenue by plan, add-on and pack, and members who join and leave within one month, on
stories computed by hand with the clock moved through early 2027.

Prices include 7% VAT: Basic ฿1,070.00 a month is ฿1,000.00 net (฿70.00 VAT); the Locker
add-on ฿107.00 is ฿100.00 net (฿7.00 VAT).
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.models import AddOn, MrrMonth
from billing.reports.movements import movements_current
from billing.reports.revenue import revenue_by_product, revenue_members
from billing.services import memberships as ms
from billing.services.invoices import credit_note_issue
from billing.services.snapshots import mrr_months_write
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def on(traveller, day: dt.date, hour: int = 3) -> None:
    traveller.move_to(dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC))


@pytest.fixture
def traveller():
    at = dt.datetime.combine(dt.date(2027, 1, 1), dt.time(3), tzinfo=dt.UTC)
    with time_machine.travel(at, tick=False) as t:
        yield t


def test_revenue_groups_by_the_plan_billed_under_its_name_today_less_credit_notes(traveller):
    """X signs up to Basic on 10 January; Basic is renamed Basic Monthly on 15 January; Y
    signs up on 18 January and Z on 20 January with a Locker (invoice ฿1,177.00: ฿1,000.00
    + ฿100.00 net, ฿77.00 VAT).  On 25 January Z is credited ฿100.00: its VAT share is
    7,700 × 10,000 ÷ 117,700 = 654 satang (rounded down as billing does), so ฿93.46 net,
    shared in proportion to the lines' net: 9,346 × 100,000 ÷ 110,000 = 8,496.36 → ฿84.96
    off the plan, 9,346 × 10,000 ÷ 110,000 = 849.64 → ฿8.50 off the add-on."""
    on(traveller, dt.date(2027, 1, 10))
    basic = PlanFactory(code="basic", name="Basic", price=107_000)
    locker = AddOn.objects.create(code="locker", name="Locker", price=10_700)
    x = signed_up(plan=basic)
    on(traveller, dt.date(2027, 1, 15))
    basic.name = "Basic Monthly"
    basic.save()
    on(traveller, dt.date(2027, 1, 18))
    y = signed_up(plan=basic)
    on(traveller, dt.date(2027, 1, 20))
    z = signed_up(plan=basic, addons=[(locker, 1)])
    on(traveller, dt.date(2027, 1, 25))
    invoice = z.invoices.get()
    assert (invoice.total, invoice.tax_total) == (117_700, 7_700)
    note = credit_note_issue(invoice, amount=10_000, reason="Locker broken for a week")
    assert note.tax_amount == 654

    rows = revenue_by_product(dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    plan_rows = [r for r in rows if r.group == "plan"]
    assert [(r.thing_id, r.name, r.lines, r.invoiced, r.credited, r.net) for r in plan_rows] == [
        (basic.pk, "Basic Monthly", 3, 300_000, 8_496, 291_504)
    ]
    addon_rows = [r for r in rows if r.group == "addon"]
    assert [(r.thing_id, r.name, r.lines, r.invoiced, r.credited, r.net) for r in addon_rows] == [
        (locker.pk, "Locker", 1, 10_000, 850, 9_150)
    ]
    # Every satang of the note's net is taken off: 8,496 + 850 = 9,346 = 10,000 − 654.
    assert sum(r.credited for r in rows) == note.amount - note.tax_amount
    # February: nothing invoiced, nothing credited.
    assert revenue_by_product(dt.date(2027, 2, 1), dt.date(2027, 2, 10)) == []
    # The plan row's members: the three who were billed for it.
    members = revenue_members(dt.date(2027, 1, 1), dt.date(2027, 1, 31), "plan", basic.pk)
    assert sorted(m for m, _lines, _net in members) == sorted(
        [x.member_id, y.member_id, z.member_id]
    )
    assert {net for _m, _lines, net in members} == {100_000}


def test_a_credit_note_in_the_range_on_an_earlier_invoice_is_still_taken_off(traveller):
    """Invoiced in January, credited ฿107.00 (฿100.00 net, ฿7.00 VAT) on 3 February: the
    February revenue of Basic is −฿100.00."""
    on(traveller, dt.date(2027, 1, 10))
    basic = PlanFactory(code="basic", name="Basic", price=107_000)
    member = signed_up(plan=basic)
    on(traveller, dt.date(2027, 2, 3))
    credit_note_issue(member.invoices.get(), amount=10_700, reason="Goodwill")
    rows = revenue_by_product(dt.date(2027, 2, 1), dt.date(2027, 2, 5))
    assert [(r.group, r.name, r.lines, r.invoiced, r.credited, r.net) for r in rows] == [
        ("plan", "Basic", 0, 0, 10_000, -10_000)
    ]


def test_an_add_on_bought_mid_period_is_revenue_of_that_add_on(traveller):
    """A Locker added on 16 January to a 10 January – 10 February period is billed for 25
    of 31 days: 10,700 × 25 ÷ 31 = 8,629.03 → ฿86.29 with VAT, ฿80.64 net; the line reads
    "Locker for the rest of the period" but is the Locker's revenue."""
    on(traveller, dt.date(2027, 1, 10))
    basic = PlanFactory(code="basic", name="Basic", price=107_000)
    locker = AddOn.objects.create(code="locker", name="Locker", price=10_700)
    member = signed_up(plan=basic)
    on(traveller, dt.date(2027, 1, 16))
    ms.membership_add_addon(member, locker)
    rows = revenue_by_product(dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    addon = [(r.thing_id, r.name, r.lines) for r in rows if r.group == "addon"]
    assert addon == [(locker.pk, "Locker", 1)]


def test_a_member_who_joins_and_leaves_within_a_month_is_new_and_churned(traveller):
    """Q is on Basic from 10 January.  P signs up on 5 February and cancels at once on 20
    February: at both month ends P is no subscriber, yet P brought in ฿1,000.00 of MRR in
    February.  February: new ฿1,000.00 and churned (voluntary) ฿1,000.00, so MRR ends
    where it started; subscriber churn = 1 ÷ (1 at the start + 1 new) = 50%.  R does the
    same in March (2 – 5 March), seen live on 15 March."""
    on(traveller, dt.date(2027, 1, 10))
    basic = PlanFactory(code="basic", name="Basic", price=107_000)
    signed_up(plan=basic)
    on(traveller, dt.date(2027, 2, 5))
    p = signed_up(member=MemberFactory(), plan=basic)
    on(traveller, dt.date(2027, 2, 20))
    ms.membership_cancel(p, at_period_end=False)
    on(traveller, dt.date(2027, 3, 2))
    r = signed_up(member=MemberFactory(), plan=basic)
    on(traveller, dt.date(2027, 3, 5))
    ms.membership_cancel(r, at_period_end=False)
    on(traveller, dt.date(2027, 3, 15))
    mrr_months_write()
    february = MrrMonth.objects.get(month=dt.date(2027, 2, 1))
    assert (february.mrr_start, february.mrr_end) == (100_000, 100_000)
    assert (february.new, february.churned_voluntary, february.churned_involuntary) == (
        100_000,
        100_000,
        0,
    )
    assert (february.new_subscribers, february.churned_voluntary_subscribers) == (1, 1)
    assert (february.subscribers_start, february.subscribers_end) == (1, 1)
    january = MrrMonth.objects.get(month=dt.date(2027, 1, 1))
    assert (january.new, january.churned_voluntary) == (100_000, 0)
    live = movements_current(dt.date(2027, 3, 15))
    assert (live.new, live.churned_voluntary, live.mrr_end) == (100_000, 100_000, 100_000)
    assert live.members["new"] == [r.member_id] == live.members["churned_voluntary"]
    assert str(live.subscriber_churn) == "50%"
    assert live.adds_up()
