"""Quiet hours, paydays and retry timing, as pure functions (hypothesis where it pays)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.paydays import paydays_between
from dunning.timing import (
    in_quiet_hours,
    quiet_hours_end,
    retry_times,
    spread,
)
from tests.dunning.conftest import BANGKOK, local

NINE_PM, EIGHT_AM = dt.time(21), dt.time(8)
instants = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),
    max_value=dt.datetime(2030, 12, 31),
    timezones=st.just(dt.UTC),
)
times_of_day = st.times().map(lambda t: t.replace(second=0, microsecond=0))


def test_a_message_due_at_22_waits_for_8_the_next_morning():
    assert quiet_hours_end(local(2026, 4, 5, 22), NINE_PM, EIGHT_AM, BANGKOK) == local(
        2026, 4, 6, 8
    )
    assert quiet_hours_end(local(2026, 4, 6, 7, 59), NINE_PM, EIGHT_AM, BANGKOK) == local(
        2026, 4, 6, 8
    )
    noon = local(2026, 4, 6, 12)
    assert quiet_hours_end(noon, NINE_PM, EIGHT_AM, BANGKOK) == noon
    assert in_quiet_hours(local(2026, 4, 6, 21), NINE_PM, EIGHT_AM, BANGKOK)
    assert not in_quiet_hours(local(2026, 4, 6, 8), NINE_PM, EIGHT_AM, BANGKOK)


@settings(max_examples=300)
@given(at=instants, start=times_of_day, end=times_of_day)
def test_quiet_hours_end_is_never_inside_the_window_nor_before_now(at, start, end):
    sendable = quiet_hours_end(at, start, end, BANGKOK)
    assert sendable >= at
    assert not in_quiet_hours(sendable, start, end, BANGKOK)
    assert sendable - at <= dt.timedelta(days=1)


def test_funds_retries_aim_at_the_first_hours_of_the_thai_paydays_after_the_failure():
    """April 2026: the 16th (civil service, first half); the 25th is a Saturday (paid
    Friday the 24th); the civil-service payday is the 27th (three working days before the
    30th); the 30th is the last working day."""
    failed = local(2026, 4, 5, 2)
    times = retry_times(
        "funds", after=failed, until=failed + dt.timedelta(days=31), count=4, tz=BANGKOK
    )
    assert times == [local(2026, 4, 16), local(2026, 4, 24), local(2026, 4, 27), local(2026, 4, 30)]


def test_funds_retries_skip_the_thai_holidays_at_the_turn_of_the_month():
    # 1 May 2026 (Friday) is Labour Day and 4 May (Monday) Coronation Day: the month's
    # first working day, and its payday, is Tuesday the 5th.
    failed = local(2026, 4, 29, 2)
    times = retry_times(
        "funds", after=failed, until=failed + dt.timedelta(days=10), count=2, tz=BANGKOK
    )
    assert times == [local(2026, 4, 30), local(2026, 5, 5)]


def test_funds_retries_spend_the_rest_of_the_budget_between_the_paydays():
    failed = local(2026, 4, 5, 2)
    until = failed + dt.timedelta(days=31)
    times = retry_times("funds", after=failed, until=until, count=8, tz=BANGKOK)
    paydays = [
        local(2026, 4, 16),
        local(2026, 4, 24),
        local(2026, 4, 27),
        local(2026, 4, 30),
        local(2026, 5, 5),
    ]
    assert len(times) == 8 and set(paydays) <= set(times)
    others = [t for t in times if t not in paydays]
    # The others go into the longest stretches (the 11 days before the first payday
    # first), and no two of them are closer than 2 days.
    assert sum(failed < t < paydays[0] for t in others) >= 2
    assert min(spread([failed, *sorted(others), until])) >= dt.timedelta(days=2)


def test_funds_without_a_payday_in_the_window_spread_out_instead():
    failed = local(2026, 4, 3, 2)
    until = failed + dt.timedelta(days=7)
    times = retry_times("funds", after=failed, until=until, count=8, tz=BANGKOK)
    paydays = set(paydays_between(dt.date(2026, 4, 3), dt.date(2026, 4, 10)))
    assert not paydays
    assert times and all(failed < t <= until for t in times)


def test_do_not_honor_alternates_generic_and_payday_timing():
    """The budget goes alternately to the generic timing's days and to the paydays, each
    in its own order, never two retries on one day; they go out in time order."""
    failed = local(2026, 4, 5, 2)
    until = failed + dt.timedelta(days=31)
    times = retry_times("maybe_funds", after=failed, until=until, count=6, tz=BANGKOK)
    generic = retry_times("generic", after=failed, until=until, count=10, tz=BANGKOK)
    paydays = paydays_between(dt.date(2026, 4, 5), dt.date(2026, 5, 6))
    payday_times = [local(d.year, d.month, d.day, 10) for d in paydays if d > dt.date(2026, 4, 5)]
    assert times == sorted(times) and len(times) == 6
    # Half the budget each: the generic timing's first three days, the first three paydays.
    assert [t for t in times if t in generic] == generic[:3]
    assert [t for t in times if t not in generic] == payday_times[:3]
    assert times[:2] == [local(2026, 4, 6), local(2026, 4, 8)]
    days = [t.astimezone(BANGKOK).date() for t in times]
    assert len(set(days)) == len(days)


def test_do_not_honor_gives_a_turn_away_rather_than_retry_twice_in_a_day():
    """A payday on a generic day is not used twice: that timing's next instant takes the
    turn.  Failed on Friday 24 April 2026: the generic timing's day 1 (the 25th) and the
    paydays' first ones are far apart, but its 6th day (30 April) is the month's last
    working day."""
    failed = local(2026, 4, 24, 2)
    until = failed + dt.timedelta(days=30)
    times = retry_times("maybe_funds", after=failed, until=until, count=8, tz=BANGKOK)
    days = [t.astimezone(BANGKOK).date() for t in times]
    assert len(set(days)) == len(days) == 8
    assert all(failed < t <= until for t in times)


def test_temporary_retries_within_hours_then_daily():
    failed = local(2026, 4, 5, 2)
    times = retry_times(
        "temporary", after=failed, until=failed + dt.timedelta(days=14), count=5, tz=BANGKOK
    )
    assert [t - failed for t in times] == [
        dt.timedelta(hours=2),
        dt.timedelta(hours=6),
        dt.timedelta(days=1),
        dt.timedelta(days=2),
        dt.timedelta(days=3),
    ]


def test_temporary_retries_then_spread_to_the_end_of_the_window():
    """After the first days, the rest of the budget widens out so an issuer that is down
    for a week is still tried late in the window, the last retry at its very end."""
    failed = local(2026, 4, 5, 2)
    until = failed + dt.timedelta(days=14)
    times = retry_times("temporary", after=failed, until=until, count=8, tz=BANGKOK)
    assert [t - failed for t in times] == [
        dt.timedelta(hours=2),
        dt.timedelta(hours=6),
        *(dt.timedelta(days=d) for d in (1, 2, 3, 6, 9, 14)),
    ]
    assert times[-1] >= until - (until - failed) / 3
    assert spread(times[4:]) == sorted(spread(times[4:]))


def test_generic_retries_widen():
    failed = local(2026, 4, 5, 2)
    times = retry_times(
        "generic", after=failed, until=failed + dt.timedelta(days=14), count=8, tz=BANGKOK
    )
    assert [t.astimezone(BANGKOK).day for t in times] == [6, 8, 11, 15]
    gaps = spread(times)
    assert gaps == sorted(gaps)


def test_hard_and_customer_action_declines_are_never_retried_by_schedule():
    failed = local(2026, 4, 5, 2)
    for category in ("hard", "customer_action"):
        for mode in ("smart", "fixed"):
            assert (
                retry_times(
                    category,
                    after=failed,
                    until=failed + dt.timedelta(days=60),
                    count=30,
                    mode=mode,
                    tz=BANGKOK,
                )
                == []
            )


def test_fixed_mode_retries_every_n_days():
    failed = local(2026, 4, 5, 2)
    times = retry_times(
        "funds",
        after=failed,
        until=failed + dt.timedelta(days=14),
        count=4,
        mode="fixed",
        fixed_interval_days=3,
        tz=BANGKOK,
    )
    assert [t - failed for t in times] == [dt.timedelta(days=d) for d in (3, 6, 9, 12)]


@given(
    category=st.sampled_from(["funds", "temporary", "generic", "processing", "maybe_funds"]),
    after=instants,
    window_days=st.integers(min_value=7, max_value=60),
    count=st.integers(min_value=0, max_value=30),
    mode=st.sampled_from(["smart", "fixed"]),
)
def test_retries_stay_inside_the_window_and_the_budget(category, after, window_days, count, mode):
    until = after + dt.timedelta(days=window_days)
    times = retry_times(category, after=after, until=until, count=count, mode=mode, tz=BANGKOK)
    assert len(times) <= count
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(after < t <= until for t in times)


@settings(max_examples=200)
@given(
    after=instants,
    window_days=st.integers(min_value=7, max_value=60),
    count=st.integers(min_value=6, max_value=30),
)
def test_temporary_retries_reach_the_last_third_of_the_window(after, window_days, count):
    until = after + dt.timedelta(days=window_days)
    times = retry_times("temporary", after=after, until=until, count=count, tz=BANGKOK)
    assert times[-1] > until - dt.timedelta(days=window_days) / 3
    assert times[-1] > until - dt.timedelta(days=1)
