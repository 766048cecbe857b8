"""Follow-ups that hooks ask for: advance a case now, send a case's messages now.

Outside a run each becomes a Celery task (``advance_cases``, ``deliver_messages``).
While ``run_dunning`` itself drives (:func:`collected`), billing's hooks fire for
hundreds of cases of one batch; the run then does that work itself, once per batch,
instead of one task (and one pass) per case.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass
class Followups:
    advance: set[int] = field(default_factory=set)
    deliver: set[int] = field(default_factory=set)


_collecting: contextvars.ContextVar[Followups | None] = contextvars.ContextVar(
    "dunning_followups", default=None
)


@contextlib.contextmanager
def collected() -> Iterator[Followups]:
    """Collect the follow-ups asked for in this block; the caller does them itself."""
    followups = Followups()
    token = _collecting.set(followups)
    try:
        yield followups
    finally:
        _collecting.reset(token)


def advance_soon(case_ids: Iterable[int]) -> None:
    """Ask a worker to advance these cases now (inline when tasks run eagerly)."""
    ids = list(case_ids)
    collecting = _collecting.get()
    if collecting is not None:
        collecting.advance.update(ids)
        return
    from ..tasks import advance_cases

    advance_cases.delay(ids)


def deliver_soon(case_ids: Iterable[int]) -> None:
    """Ask a worker to send the cases' due messages now (inline when tasks run eagerly)."""
    ids = list(case_ids)
    collecting = _collecting.get()
    if collecting is not None:
        collecting.deliver.update(ids)
        return
    from ..tasks import deliver_messages

    deliver_messages.delay(ids)
