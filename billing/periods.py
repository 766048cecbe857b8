"""Billing-period arithmetic on the gym's local dates.

A membership bills on an anchor day.  Monthly periods keep that day where the month
has it and fall back to the month's last day where it does not, so an anchor of the
31st gives Jan 31, Feb 28 (or 29), Mar 31.  Periods are half-open: ``[start, end)``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum


class Interval(enum.StrEnum):
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


def add_months(day: dt.date, months: int, anchor_day: int | None = None) -> dt.date:
    """``day`` moved by ``months``, on ``anchor_day`` (default: ``day.day``) or the month's end."""
    target = day.month - 1 + months
    year, month = day.year + target // 12, target % 12 + 1
    wanted = anchor_day or day.day
    return dt.date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


def advance(start: dt.date, interval: str, count: int, anchor_day: int | None = None) -> dt.date:
    """The start of the period after the one that starts on ``start``."""
    if count < 1:
        raise ValueError("interval count must be at least 1")
    if interval == Interval.WEEK:
        return start + dt.timedelta(weeks=count)
    if interval == Interval.MONTH:
        return add_months(start, count, anchor_day)
    if interval == Interval.YEAR:
        return add_months(start, 12 * count, anchor_day)
    raise ValueError(f"unknown interval {interval!r}")


def retreat(end: dt.date, interval: str, count: int, anchor_day: int | None = None) -> dt.date:
    """The start of the period that ends on ``end``."""
    if interval == Interval.WEEK:
        return end - dt.timedelta(weeks=count)
    months = count if interval == Interval.MONTH else 12 * count
    return add_months(end, -months, anchor_day)


def days_between(start: dt.date, end: dt.date) -> int:
    return (end - start).days
