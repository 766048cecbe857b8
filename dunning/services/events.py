"""The dunning timeline: one ``DunningEvent`` per message, retry, step and staff action."""

from __future__ import annotations

import datetime as dt
from typing import Any

from config import clock

from ..models import DunningCase, DunningEvent, DunningMessage, ScheduledRetry


def _plain(value: Any) -> Any:
    """JSON-safe detail values: numbers, booleans, text; lists kept; anything else as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def event_build(
    case: DunningCase,
    kind: str,
    *,
    actor: Any = None,
    message: DunningMessage | None = None,
    message_id: int | None = None,
    attempt_id: int | None = None,
    retry: ScheduledRetry | None = None,
    at: dt.datetime | None = None,
    **detail: Any,
) -> DunningEvent:
    """An unsaved timeline event for ``case`` (for ``bulk_create``).

    The message, retry and actor must be saved already: the event keeps their keys.
    """
    return DunningEvent(
        member_id=case.member_id,
        case=case,
        kind=kind,
        at=at or clock.now(),
        actor_id=actor.pk if getattr(actor, "is_authenticated", False) else None,
        message_id=message.pk if message is not None else message_id,
        attempt_id=attempt_id,
        retry_id=retry.pk if retry is not None else None,
        detail={key: _plain(value) for key, value in detail.items()},
    )


def event_add(case: DunningCase, kind: str, **kwargs: Any) -> DunningEvent:
    """Record one event on ``case``'s timeline."""
    event = event_build(case, kind, **kwargs)
    event.save()
    return event
