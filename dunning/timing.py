"""When things happen: quiet hours, paydays, and the retry times each decline category gets.

Pure functions of their arguments (no database, no clock), so the rules are easy to
test exhaustively.  Instants are timezone-aware; "local" means the gym's time zone.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from .models import DeclineCategory, RetryMode

# Temporary declines: retries this many hours after the failure, then one a day for
# this many days, before the rest of the budget spreads out to the end of the window.
TEMPORARY_FIRST_HOURS = (2, 6)
TEMPORARY_DAILY_DAYS = 3
# Spread-out temporary retries are first this many days apart, then one day more every
# second gap (2, 2, 3, 3, 4, 4… days).
WIDENING_FIRST_GAP_DAYS = 2
# Generic declines: retries on these days after the failure, further and further apart.
GENERIC_DAYS = (1, 3, 6, 10, 15, 21, 28, 36, 45, 55)
# Never schedule a retry closer than this to the decline it follows.
MIN_GAP = dt.timedelta(hours=1)


def in_quiet_hours(at: dt.datetime, start: dt.time, end: dt.time, tz: ZoneInfo) -> bool:
    """Whether ``at`` falls in the daily quiet window ``[start, end)`` (local time).

    A window whose start is after its end wraps midnight (21:00–08:00); equal start and
    end means no quiet hours.
    """
    if start == end:
        return False
    local = at.astimezone(tz).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(at: dt.datetime, start: dt.time, end: dt.time, tz: ZoneInfo) -> dt.datetime:
    """``at`` if a message may be sent then, else the instant the quiet window ends."""
    if not in_quiet_hours(at, start, end, tz):
        return at
    local = at.astimezone(tz)
    day = local.date()
    if start > end and local.time() >= start:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=tz).astimezone(dt.UTC)


def last_day_of_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def is_payday(day: dt.date) -> bool:
    """Days people have money: the start of the month and after typical paydays.

    The 1st and 2nd, the 15th and 16th, and the 25th to the last day of the month.
    """
    return day.day in (1, 2, 15, 16) or day.day >= 25


def _payday_priority(day: dt.date) -> int:
    """Lower is better: the payday itself first, then the last day, then the rest."""
    if day.day in (1, 15, 25):
        return 0
    if day.day == last_day_of_month(day) or day.day in (2, 16):
        return 1
    return 2


def _at_local(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)


def _dates_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def funds_retry_times(
    after: dt.datetime, until: dt.datetime, count: int, retry_time: dt.time, tz: ZoneInfo
) -> list[dt.datetime]:
    """Up to ``count`` retries on paydays in ``(after, until]``, the best paydays first.

    Empty when the window holds no payday (the caller then spreads retries instead).
    """
    earliest = after + MIN_GAP
    candidates = [
        at
        for day in _dates_between(after.astimezone(tz).date(), until.astimezone(tz).date())
        if is_payday(day)
        for at in [_at_local(day, retry_time, tz)]
        if earliest <= at <= until
    ]
    chosen = sorted(candidates, key=lambda at: (_payday_priority(at.astimezone(tz).date()), at))
    return sorted(chosen[:count])


def _widening_offsets(span: int, count: int) -> list[int]:
    """Up to ``count`` day offsets in ``(0, span]`` at widening gaps, the last at ``span``.

    The gaps are 2, 2, 3, 3, 4, 4… days, as many as fit, then stretched in proportion
    so the last offset is ``span``: spread to the end, still widening, and never on
    consecutive days.
    """
    offsets: list[int] = []
    reach = 0
    for n in itertools.count():
        reach += WIDENING_FIRST_GAP_DAYS + n // 2
        if len(offsets) >= count or reach > span:
            break
        offsets.append(reach)
    if not offsets:
        return []
    longest = offsets[-1]
    # Scaled by span / longest (at least 1) and rounded to the nearest day.
    return [(2 * offset * span + longest) // (2 * longest) for offset in offsets]


def temporary_retry_times(after: dt.datetime, until: dt.datetime, count: int) -> list[dt.datetime]:
    """Within hours, then daily, then spread to the end of the window.

    Two and six hours after the failure, then once a day (at the time of the failure)
    for the next three days; the rest of the budget follows at widening intervals so
    that the last retry falls at the end of the window, for an issuer that is down for
    days.
    """
    soon = [after + dt.timedelta(hours=hours) for hours in TEMPORARY_FIRST_HOURS]
    soon += [after + dt.timedelta(days=day) for day in range(1, TEMPORARY_DAILY_DAYS + 1)]
    soon = [at for at in soon if at <= until][:count]
    span = (until - after) // dt.timedelta(days=1) - TEMPORARY_DAILY_DAYS
    later = [
        after + dt.timedelta(days=TEMPORARY_DAILY_DAYS + offset)
        for offset in _widening_offsets(span, count - len(soon))
    ]
    return soon + later


def generic_retry_times(
    after: dt.datetime, until: dt.datetime, count: int, retry_time: dt.time, tz: ZoneInfo
) -> list[dt.datetime]:
    """Widening intervals: 1, 3, 6, 10, 15… days after the failure, at ``retry_time``."""
    start = after.astimezone(tz).date()
    times = [_at_local(start + dt.timedelta(days=d), retry_time, tz) for d in GENERIC_DAYS]
    return [t for t in times if after + MIN_GAP <= t <= until][:count]


def fixed_retry_times(
    after: dt.datetime, until: dt.datetime, count: int, interval_days: int
) -> list[dt.datetime]:
    """Every ``interval_days`` days from the failure."""
    step = dt.timedelta(days=max(interval_days, 1))
    times: list[dt.datetime] = []
    at = after + step
    while len(times) < count and at <= until:
        times.append(at)
        at += step
    return times


def retry_times(
    category: str,
    *,
    after: dt.datetime,
    until: dt.datetime,
    count: int,
    mode: str = RetryMode.SMART,
    fixed_interval_days: int = 3,
    retry_time: dt.time = dt.time(10, 0),
    tz: ZoneInfo,
) -> list[dt.datetime]:
    """When to retry a decline of ``category`` that happened at ``after``.

    At most ``count`` times, none later than ``until`` (the end of the retry window).
    ``hard`` and ``customer_action`` get none: that card waits for the member.
    """
    if (
        count <= 0
        or until <= after
        or category
        in (
            DeclineCategory.HARD,
            DeclineCategory.CUSTOMER_ACTION,
        )
    ):
        return []
    if mode == RetryMode.FIXED:
        return fixed_retry_times(after, until, count, fixed_interval_days)
    if category == DeclineCategory.FUNDS:
        times = funds_retry_times(after, until, count, retry_time, tz)
        if times:
            return times
        return generic_retry_times(after, until, count, retry_time, tz)
    if category in (DeclineCategory.TEMPORARY, DeclineCategory.PROCESSING):
        return temporary_retry_times(after, until, count)
    return generic_retry_times(after, until, count, retry_time, tz)


def spread(times: Sequence[dt.datetime]) -> list[dt.timedelta]:
    """The gaps between consecutive times (for tests and the simulation)."""
    return [b - a for a, b in itertools.pairwise(times)]
