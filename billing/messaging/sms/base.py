"""The SMS backend interface: a plain message in, the provider's id out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164, e.g. +66812345678
    body: str
    reference: str = ""  # our id for the message, echoed in logs and callbacks


@dataclass(frozen=True)
class SmsResult:
    message_id: str  # the provider's id, for delivery receipts
    status: str = "sent"


class SmsSendError(Exception):
    """The SMS provider refused or could not be reached; ``code`` is the provider's."""

    def __init__(self, message: str, *, code: str = "") -> None:
        self.code = code
        super().__init__(message)


class SmsBackend(Protocol):
    def send(self, message: SmsMessage) -> SmsResult:
        """Hand the message to the provider; raise ``SmsSendError`` if it is refused."""
        ...
