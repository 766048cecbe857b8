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
