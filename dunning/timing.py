"""When things happen: quiet hours, paydays, and the retry times each decline category gets.

Pure functions of their arguments (no database, no clock), so the rules are easy to
test exhaustively.  Instants are timezone-aware; "local" means the gym's time zone.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from .models import DeclineCategory, RetryMode
from .paydays import paydays_between

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


def _at_local(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)


def _in_window(after: dt.datetime, until: dt.datetime, at: dt.datetime) -> bool:
    return after + MIN_GAP <= at <= until


def payday_instants(
    after: dt.datetime,
    until: dt.datetime,
    retry_time: dt.time,
    tz: ZoneInfo,
    paydays: Sequence[dt.date],
) -> list[dt.datetime]:
    """The first hours of each payday in the window: ``retry_time`` local on the day."""
    return sorted(
        at
        for at in (_at_local(day, retry_time, tz) for day in set(paydays))
        if _in_window(after, until, at)
    )


def _fill_gaps(
    chosen: list[dt.datetime],
    after: dt.datetime,
    until: dt.datetime,
    count: int,
    retry_time: dt.time,
    tz: ZoneInfo,
) -> list[dt.datetime]:
    """Add retries at ``retry_time`` in the middle of the longest gaps left (between the
    failure, the chosen retries and the end of the window) until ``count`` are planned:
    members paid on other days than the calendar's are met somewhere in between."""
    times = sorted(chosen)
    while len(times) < count:
        edges = [after, *times, until]
        best: dt.datetime | None = None
        best_gap = dt.timedelta(days=2)  # never a retry squeezed into a gap under 2 days
        for start, end in itertools.pairwise(edges):
            if end - start < best_gap:
                continue
            middle = (start + (end - start) / 2).astimezone(tz).date()
            at = _at_local(middle, retry_time, tz)
            if _in_window(after, until, at) and at not in times and start < at < end:
                best, best_gap = at, end - start
        if best is None:
            break
        times.append(best)
        times.sort()
    return times


def funds_retry_times(
    after: dt.datetime,
    until: dt.datetime,
    count: int,
    retry_time: dt.time,
    tz: ZoneInfo,
    paydays: Sequence[dt.date],
) -> list[dt.datetime]:
    """Retries in the first hours of the paydays that follow the failure, in order, up to
    ``count``; what is left of the budget goes into the longest gaps between them.

    Empty when the window holds no payday (the caller then uses the generic timing).
    """
    on_paydays = payday_instants(after, until, retry_time, tz, paydays)[:count]
    if not on_paydays:
        return []
    return _fill_gaps(on_paydays, after, until, count, retry_time, tz)


def maybe_funds_retry_times(
    after: dt.datetime,
    until: dt.datetime,
    count: int,
    retry_time: dt.time,
    tz: ZoneInfo,
    paydays: Sequence[dt.date],
) -> list[dt.datetime]:
    """ "Do not honor": the budget alternates between the generic timing and the payday
    timing, and the retries go out in time order.

    The first retry goes to the generic timing's first day (the decline may be nothing
    to do with money), the second to the first payday, the third to the generic timing's
    second day, the fourth to the second payday, and so on; never two on one day (a
    source whose next instant falls within a day of one already chosen gives its turn to
    its following one), and when one source runs out the other goes on.  Each timing
    keeps its own instants: the generic timing's early days are not lost behind a
    payday, nor a payday behind the next generic day.
    """
    sources = [
        generic_retry_times(after, until, len(GENERIC_DAYS), retry_time, tz),
        payday_instants(after, until, retry_time, tz, paydays),
    ]
    chosen: list[dt.datetime] = []
    turn = 0
    while len(chosen) < count and any(sources):
        source = sources[turn] if sources[turn] else sources[1 - turn]
        at = source.pop(0)
        if all(abs(at - other) >= dt.timedelta(days=1) for other in chosen):
            chosen.append(at)
            turn = 1 - turn
    return sorted(chosen)


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
    paydays: Sequence[dt.date] | None = None,
) -> list[dt.datetime]:
    """When to retry a decline of ``category`` that happened at ``after``.

    At most ``count`` times, none later than ``until`` (the end of the retry window).
    ``hard`` and ``customer_action`` get none: that card waits for the member.
    ``paydays``: the gym's paydays over the window (``dunning.paydays``); the Thai
    default calendar when not given.
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
    if paydays is None:
        paydays = paydays_between(after.astimezone(tz).date(), until.astimezone(tz).date())
    if category == DeclineCategory.FUNDS:
        times = funds_retry_times(after, until, count, retry_time, tz, paydays)
        if times:
            return times
        return generic_retry_times(after, until, count, retry_time, tz)
    if category == DeclineCategory.MAYBE_FUNDS:
        return maybe_funds_retry_times(after, until, count, retry_time, tz, paydays)
    if category in (DeclineCategory.TEMPORARY, DeclineCategory.PROCESSING):
        return temporary_retry_times(after, until, count)
    return generic_retry_times(after, until, count, retry_time, tz)


def spread(times: Sequence[dt.datetime]) -> list[dt.timedelta]:
    """The gaps between consecutive times (for tests and the simulation)."""
    return [b - a for a, b in itertools.pairwise(times)]
