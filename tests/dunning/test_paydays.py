"""The payday calendar: Thai paydays moved off weekends and public holidays (``holidays``)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dunning.paydays import (
    THAI_DEFAULT,
    PaydayRules,
    is_working_day,
    month_paydays,
    paydays_between,
)


def test_thai_default_paydays_of_a_plain_month():
    # March 2027: no holiday near the paydays; the 25th is a Thursday.
    assert month_paydays(2027, 3) == [
        dt.date(2027, 3, 1),  # first working day (Monday)
        dt.date(2027, 3, 16),  # civil service, paid twice a month: the first half
        dt.date(2027, 3, 25),  # the 25th
        dt.date(2027, 3, 26),  # civil service: three working days before the 31st
        dt.date(2027, 3, 31),  # last working day (Wednesday)
    ]


def test_a_payday_on_a_weekend_moves_to_the_working_day_before():
    # 25 April 2026 is a Saturday: paid on Friday the 24th.
    assert dt.date(2026, 4, 24) in month_paydays(2026, 4)
    assert dt.date(2026, 4, 25) not in month_paydays(2026, 4)
    # 31 October 2026 is a Saturday: the last working day is Friday the 30th.
    assert month_paydays(2026, 10)[-1] == dt.date(2026, 10, 30)


def test_paydays_move_off_thai_public_holidays():
    # 1 May 2026 (Friday) is Labour Day and 4 May (Monday) Coronation Day: the month's
    # first working day is Tuesday the 5th.
    assert not is_working_day(dt.date(2026, 5, 1))
    assert not is_working_day(dt.date(2026, 5, 4))
    assert month_paydays(2026, 5)[0] == dt.date(2026, 5, 5)
    # 31 December 2027 (Friday) is New Year's Eve: the year's last payday is the 30th.
    assert month_paydays(2027, 12)[-1] == dt.date(2027, 12, 30)
    # 25 October 2027 (Monday) is the Chulalongkorn Day holiday in lieu: the 25th is paid
    # on Friday the 22nd.
    assert not is_working_day(dt.date(2027, 10, 25))
    assert dt.date(2027, 10, 22) in month_paydays(2027, 10)


def test_the_calendar_is_editable():
    rules = PaydayRules(
        last_working_day=False,
        days_of_month=(15,),
        civil_service=False,
        first_working_day=False,
        extra_dates=(dt.date(2027, 3, 9),),
    )
    assert month_paydays(2027, 3, rules) == [dt.date(2027, 3, 9), dt.date(2027, 3, 15)]
    # 15 May 2027 is a Saturday: Friday the 14th.
    assert month_paydays(2027, 5, rules) == [dt.date(2027, 5, 14)]


def test_the_mid_month_civil_service_payday_moves_to_the_next_working_day():
    # 16 May 2027 is a Sunday: the first half of a twice-a-month salary comes on the 17th.
    assert dt.date(2027, 5, 17) in month_paydays(2027, 5)
    assert dt.date(2027, 5, 16) not in month_paydays(2027, 5)


@given(
    start=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2029, 12, 31)),
    days=st.integers(min_value=0, max_value=90),
)
def test_every_payday_is_a_working_day_in_the_span(start, days):
    end = start + dt.timedelta(days=days)
    found = paydays_between(start, end, THAI_DEFAULT)
    assert found == sorted(set(found))
    assert all(start <= day <= end and is_working_day(day) for day in found)
    if days >= 31:
        assert len(found) >= 3


@pytest.mark.django_db
def test_the_gyms_calendar_is_read_from_the_admins_row():
    from dunning.models import PaydayCalendar
    from dunning.selectors import payday_rules

    assert payday_rules() == THAI_DEFAULT
    PaydayCalendar.objects.create(days_of_month=[10, 25], civil_service=False)
    rules = payday_rules()
    assert rules.days_of_month == (10, 25) and not rules.civil_service
