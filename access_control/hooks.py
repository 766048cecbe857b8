"""Hooks that higher apps (classes) fill, so access control never imports them.

``access_granted``: each callable takes a :class:`Grant` after a member was let into a
zone (at a reader, or checked in at the desk), once the event is committed.  Classes
marks a booked member attended with it.  A hook's failure never changes the gate's
answer: it is logged and the gate goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    member_id: int
    zone_id: int
    at: dt.datetime
    event_id: int


access_granted: list[Callable[[Grant], None]] = []


def register(hook: list[Any], function: Callable[..., Any]) -> None:
    if function not in hook:
        hook.append(function)


def granted(grant: Grant) -> None:
    """Run the ``access_granted`` hooks for ``grant`` after the current transaction."""
    if not access_granted:
        return

    def run() -> None:
        for hook in access_granted:
            try:
                hook(grant)
            except Exception:  # the gate's answer stands whatever a higher app does
                logger.exception("access_granted hook %s failed", getattr(hook, "__name__", hook))

    transaction.on_commit(run)
