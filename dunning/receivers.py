"""Signal receivers: email tracking from the provider (django-anymail's ``tracking``)."""

from __future__ import annotations

from typing import Any

from .services.messages import message_track


def anymail_tracking(sender: Any, event: Any, esp_name: str = "", **kwargs: Any) -> None:
    """Record delivered, bounced, opened and clicked on the dunning message it is about."""
    message_track(
        event_type=str(getattr(event, "event_type", "")),
        message_id=str(getattr(event, "message_id", "") or ""),
        metadata=dict(getattr(event, "metadata", None) or {}),
        timestamp=getattr(event, "timestamp", None),
        description=str(getattr(event, "description", "") or ""),
    )
