"""The one clock every service reads.

Tests move it with time-machine; management commands with ``--date`` move it with
:func:`travel_to_date`.  Datetimes are UTC; a gym's business dates are local dates in
``settings.GYM_TIME_ZONE``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

_offset: contextvars.ContextVar[dt.timedelta] = contextvars.ContextVar(
    "clock_offset", default=dt.timedelta(0)
)


def gym_tz() -> ZoneInfo:
    return ZoneInfo(settings.GYM_TIME_ZONE)


def now() -> dt.datetime:
    """The current instant, timezone-aware, in UTC."""
    return timezone.now() + _offset.get()


def today() -> dt.date:
    """The gym's current local date."""
    return now().astimezone(gym_tz()).date()


def local_midnight(day: dt.date) -> dt.datetime:
    """The instant the given local date starts at the gym."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=gym_tz())


@contextlib.contextmanager
def travel_to_date(day: dt.date) -> Iterator[None]:
    """Run the block as if the gym's local date were ``day``, keeping the time of day."""
    current = now().astimezone(gym_tz())
    target = dt.datetime.combine(day, current.timetz())
    token = _offset.set(_offset.get() + (target - current))
    try:
        yield
    finally:
        _offset.reset(token)
