"""Property tests for money and date arithmetic (hypothesis)."""

from __future__ import annotations

import calendar
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from billing.money import divide_round, format_amount, prorate, split_tax, tax_on_net
from billing.periods import add_months, advance
from billing.services.invoices import LineSpec, build_line, totals

amounts = st.integers(min_value=-10_000_000, max_value=10_000_000)
rates = st.integers(min_value=0, max_value=5000)
line_specs = st.builds(
    LineSpec,
    kind=st.sampled_from(["plan", "addon", "fee", "discount", "proration"]),
    description=st.just("line"),
    unit_amount=st.integers(min_value=-500_000, max_value=5_000_000),
    tax_rate_bp=rates,
    inclusive=st.booleans(),
    quantity=st.integers(min_value=1, max_value=5),
)


@given(st.lists(line_specs, min_size=1, max_size=12))
def test_invoice_lines_sum_to_the_total(specs):
    lines = [build_line(spec) for spec in specs]
    subtotal, tax, total = totals(lines)
    assert subtotal == sum(line.net_amount for line in lines)
    assert tax == sum(line.tax_amount for line in lines)
    assert total == subtotal + tax
    inclusive_lines = [line for spec, line in zip(specs, lines, strict=True) if spec.inclusive]
    for line in inclusive_lines:
        assert line.net_amount + line.tax_amount == line.amount


@given(amounts, rates)
def test_inclusive_tax_splits_the_price_exactly(amount, rate):
    net, tax = split_tax(amount, rate, inclusive=True)
    assert net + tax == amount
    # The tax is what the net would attract, to within the one rounding step.
    assert abs(tax - tax_on_net(net, rate)) <= 1


@given(amounts, rates)
def test_exclusive_tax_is_rounded_half_away_from_zero(amount, rate):
    net, tax = split_tax(amount, rate, inclusive=False)
    assert net == amount
    exact_times_2 = 2 * amount * rate
    assert abs(2 * tax * 10_000 - exact_times_2) <= 10_000
    assert split_tax(-amount, rate, inclusive=False)[1] == -tax


@given(st.integers(-(10**9), 10**9), st.integers(1, 10**6))
def test_divide_round_is_nearest(numerator, denominator):
    q = divide_round(numerator, denominator)
    assert abs(q * denominator - numerator) * 2 <= denominator


@given(st.integers(0, 10_000_000), st.integers(1, 366))
def test_proration_at_the_period_edges(amount, total_days):
    assert prorate(amount, 0, total_days) == 0
    assert prorate(amount, total_days, total_days) == amount


@given(st.integers(0, 10_000_000), st.integers(1, 366), st.data())
def test_proration_parts_add_up_and_grow_with_time(amount, total_days, data):
    used = data.draw(st.integers(0, total_days))
    part, rest = prorate(amount, used, total_days), prorate(amount, total_days - used, total_days)
    assert abs(part + rest - amount) <= 1
    if used < total_days:
        assert prorate(amount, used + 1, total_days) >= part


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 1, 1)), st.integers(1, 60))
def test_month_end_anchor_holds(start, months):
    anchor = start.day
    day = start
    for _ in range(months):
        day = advance(day, "month", 1, anchor)
        last = calendar.monthrange(day.year, day.month)[1]
        assert day.day == min(anchor, last)
    assert day == add_months(start, months, anchor)


def test_month_end_anchor_example():
    jan31 = dt.date(2027, 1, 31)
    feb = advance(jan31, "month", 1, 31)
    mar = advance(feb, "month", 1, 31)
    assert (feb, mar) == (dt.date(2027, 2, 28), dt.date(2027, 3, 31))
    assert advance(dt.date(2028, 1, 31), "month", 1, 31) == dt.date(2028, 2, 29)


def test_amounts_format_in_their_currency():
    assert format_amount(123456, "THB") == "฿1,234.56"
    assert format_amount(-5000, "USD") == "-$50.00"
    assert format_amount(1500, "JPY") == "¥1,500"
    assert format_amount(1000, "XYZ") == "XYZ 10.00"
