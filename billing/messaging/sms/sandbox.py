"""An SMS provider sandbox that remembers what it received and can be asked about it
(:mod:`config.outbox`): the demo's and the crash tests' provider."""

from __future__ import annotations

from config import outbox

from .base import SmsMessage, SmsResult


class SandboxSmsBackend:
    def send(self, message: SmsMessage) -> SmsResult:
        reference = message.reference or f"sms-to-{message.to}"
        return SmsResult(message_id=outbox.record(reference, "sms", message.to, message.body))

    def lookup(self, reference: str) -> str | None:
        return outbox.lookup(reference)
