"""The one clock every service reads.

Tests move it with time-machine; management commands with ``--date`` move it with
:func:`travel_to_date`.  Datetimes are UTC; a gym's business dates are local dates in
``settings.GYM_TIME_ZONE``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

P = ParamSpec("P")
R = TypeVar("R")

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


@contextlib.contextmanager
def travel_to(at: dt.datetime) -> Iterator[None]:
    """Run the block as if it were the instant ``at`` (the demo seed plays a morning)."""
    token = _offset.set(_offset.get() + (at - now()))
    try:
        yield
    finally:
        _offset.reset(token)


def carried(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` running on the clock as the caller sees it now, for another thread.

    A thread does not see the caller's ``--date`` (a context variable).  Copying the
    caller's whole context into the thread would also give it fresh per-context handles
    (Django's caches: a new Redis connection on each call), so only the clock is carried.
    """
    offset = _offset.get()

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _offset.set(offset)
        try:
            return function(*args, **kwargs)
        finally:
            _offset.reset(token)

    return run
