"""Keeps each SMS in :data:`outbox`, like Django's locmem email backend (for tests)."""

from __future__ import annotations

import itertools
import threading

from .base import SmsMessage, SmsResult

outbox: list[SmsMessage] = []
_ids = itertools.count(1)
_lock = threading.Lock()


class LocmemSmsBackend:
    def send(self, message: SmsMessage) -> SmsResult:
        with _lock:
            outbox.append(message)
            return SmsResult(message_id=f"locmem-{next(_ids)}")

    def lookup(self, reference: str) -> str | None:
        """The provider can be asked: was the message with ``reference`` received?"""
        with _lock:
            for number, message in enumerate(outbox, start=1):
                if message.reference == reference:
                    return f"locmem-ref-{number}"
        return None
