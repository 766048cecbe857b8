"""Prints each SMS, for the demo and for development."""

from __future__ import annotations

import sys
import uuid
from typing import TextIO

from .base import SmsMessage, SmsResult


class ConsoleSmsBackend:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: SmsMessage) -> SmsResult:
        message_id = f"console-{uuid.uuid4().hex[:12]}"
        self.stream.write(f"SMS to {message.to} [{message_id}]\n{message.body}\n{'-' * 40}\n")
        self.stream.flush()
        return SmsResult(message_id=message_id)
