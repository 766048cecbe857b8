"""The payday calendar: which days members' pay lands, moved as banks move it.

Pure functions of their arguments and of the ``holidays`` library (Thailand's public
and bank holidays), so the rules are easy to test.  The gym's calendar is a
``PaydayCalendar`` row (editable in the admin); :func:`rules_from` turns it into
:class:`PaydayRules`, and :func:`paydays_between` lists the paydays in a span.

The Thai default (sources in ``docs/dunning.md``):

- the **last working day of the month** (most private-sector salaries);
- the **25th** (many employers; moved to the working day before when it is not one);
- the **civil-service paydays**: the Comptroller General's Department pays government
  salaries three working days before the end of the month, and, for those who chose
  the twice-a-month option (from 2024), a first half on the 16th (the next working day
  when the 16th is not one);
- the **first working day of the month** (salaries paid "on the 1st", and money a
  late payroll brings in after the turn of the month).

A working day is Monday to Friday and not a Thai public or bank holiday.  A fixed day
of the month that is not a working day moves to the working day before it (payroll is
paid early, never late); if none is left in the month, to the first working day after.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import holidays

DEFAULT_COUNTRY = "TH"
# Banks close on public holidays and on the Bank of Thailand's own bank holidays.
HOLIDAY_CATEGORIES = ("public", "bank")
# The civil-service payday: this many working days before the last working day.
CIVIL_SERVICE_DAYS_BEFORE_LAST = 3
# The first half of a twice-a-month civil-service salary: this day, or the next working day.
CIVIL_SERVICE_MID_MONTH = 16


@dataclass(frozen=True)
class PaydayRules:
    """Which days count as paydays (the Thai default unless told otherwise)."""

    last_working_day: bool = True
    days_of_month: tuple[int, ...] = (25,)
    civil_service: bool = True
    first_working_day: bool = True
    extra_dates: tuple[dt.date, ...] = field(default=())
    country: str = DEFAULT_COUNTRY


THAI_DEFAULT = PaydayRules()


@functools.lru_cache(maxsize=64)
def _holidays_of_year(country: str, year: int) -> frozenset[dt.date]:
    try:
        found = holidays.country_holidays(country, years=[year], categories=HOLIDAY_CATEGORIES)
    except NotImplementedError:  # a country without bank holidays: its public ones
        found = holidays.country_holidays(country, years=[year])
    return frozenset(found.keys())


def country_known(code: str) -> bool:
    """Whether the ``holidays`` library has a calendar for this two-letter country code."""
    return len(code) == 2 and code.upper() in holidays.list_supported_countries()


def holidays_in(country: str, years: Iterable[int]) -> frozenset[dt.date]:
    """The public and bank holidays of ``country`` in ``years`` (cached per year)."""
    days: set[dt.date] = set()
    for year in set(years):
        days |= _holidays_of_year(country, year)
    return frozenset(days)


def is_working_day(day: dt.date, country: str = DEFAULT_COUNTRY) -> bool:
    """Monday to Friday, and not a public or bank holiday of ``country``."""
    return day.weekday() < 5 and day not in _holidays_of_year(country, day.year)


def _month_days(year: int, month: int) -> list[dt.date]:
    last = calendar.monthrange(year, month)[1]
    return [dt.date(year, month, n) for n in range(1, last + 1)]


def working_days_of_month(year: int, month: int, country: str = DEFAULT_COUNTRY) -> list[dt.date]:
    return [day for day in _month_days(year, month) if is_working_day(day, country)]


def moved_to_working_day(day: dt.date, country: str = DEFAULT_COUNTRY) -> dt.date:
    """``day`` if it is a working day, else the working day before it in the same month,
    else the first working day after it."""
    working = working_days_of_month(day.year, day.month, country)
    before = [d for d in working if d <= day]
    if before:
        return before[-1]
    after = day + dt.timedelta(days=1)
    while not is_working_day(after, country):
        after += dt.timedelta(days=1)
    return after


def month_paydays(year: int, month: int, rules: PaydayRules = THAI_DEFAULT) -> list[dt.date]:
    """The paydays of one month, in order."""
    return list(_month_paydays(year, month, rules))


@functools.lru_cache(maxsize=512)
def _month_paydays(year: int, month: int, rules: PaydayRules) -> tuple[dt.date, ...]:
    """:func:`month_paydays`, kept: a run plans retries for thousands of cases over the
    same few months (the rules are frozen, so they are part of the key)."""
    working = working_days_of_month(year, month, rules.country)
    found: set[dt.date] = set()
    if working:
        if rules.last_working_day:
            found.add(working[-1])
        if rules.first_working_day:
            found.add(working[0])
        if rules.civil_service and len(working) > CIVIL_SERVICE_DAYS_BEFORE_LAST:
            found.add(working[-1 - CIVIL_SERVICE_DAYS_BEFORE_LAST])
            mid = [d for d in working if d.day >= CIVIL_SERVICE_MID_MONTH]
            if mid:
                found.add(mid[0])
    last = calendar.monthrange(year, month)[1]
    for number in rules.days_of_month:
        if 1 <= number <= 31:
            found.add(moved_to_working_day(dt.date(year, month, min(number, last)), rules.country))
    found.update(d for d in rules.extra_dates if (d.year, d.month) == (year, month))
    return tuple(sorted(found))


def paydays_between(
    first: dt.date, last: dt.date, rules: PaydayRules = THAI_DEFAULT
) -> list[dt.date]:
    """Every payday from ``first`` to ``last`` (both included), in order."""
    if last < first:
        return []
    days: set[dt.date] = set()
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        days.update(d for d in month_paydays(year, month, rules) if first <= d <= last)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(days)


def parse_days_of_month(values: Sequence[object]) -> tuple[int, ...]:
    """Days 1–31 from an editable list, in order and without repeats."""
    return tuple(sorted({int(v) for v in values if isinstance(v, int) and 1 <= v <= 31}))
