"""A sandbox message provider that can be asked what it received (email and SMS).

Real providers accept a message and give back an id; some can later be asked whether a
message with a given reference reached them.  Our senders use that question to settle a
send that was interrupted (the process died, or its database transaction was rolled
back, between handing the message over and recording it): if the provider has it, it
was sent; if it has not, it can be sent again without a duplicate.

This sandbox keeps what it received in the cache (Redis in production and the tests),
so it survives the process that sent it, as a real provider would:

- ``config.outbox.SandboxEmailBackend``: an email backend (``EMAIL_BACKEND``);
- ``billing.messaging.sms.sandbox.SandboxSmsBackend``: the SMS backend on the same store.

A message's reference is ours (``dunning-<id>``, ``notification-<id>``), passed as the
``X-Gym-Reference`` header of an email or the ``reference`` of an SMS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as DjangoLocmemBackend

REFERENCE_HEADER = "X-Gym-Reference"
_GENERATION = "sandbox-outbox:generation"
_KEEP_SECONDS = 7 * 24 * 3600


def _prefix() -> str:
    return f"sandbox-outbox:{cache.get(_GENERATION, 0)}:"


def reset() -> None:
    """Forget everything received (a new generation of keys)."""
    try:
        cache.incr(_GENERATION)
    except ValueError:
        cache.set(_GENERATION, 1, None)


def _latency() -> None:
    delay = int(getattr(settings, "SANDBOX_OUTBOX_LATENCY_MS", 0))
    if delay > 0:
        time.sleep(delay / 1000)


def record(reference: str, channel: str, to: str, body: str) -> str:
    """The provider receives a message: count it under its reference; return its id."""
    _latency()
    prefix = _prefix()
    count_key = f"{prefix}count:{reference}"
    cache.add(count_key, 0, _KEEP_SECONDS)
    count = cache.incr(count_key)
    message_id = f"sandbox-{channel}-{reference}-{count}"
    cache.set(
        f"{prefix}message:{reference}",
        json.dumps({"id": message_id, "channel": channel, "to": to, "body": body[:500]}),
        _KEEP_SECONDS,
    )
    return message_id


def received(reference: str) -> int:
    """How many times a message with ``reference`` reached the provider."""
    return int(cache.get(f"{_prefix()}count:{reference}", 0))


def lookup(reference: str) -> str | None:
    """The provider's id of the message with ``reference``, or ``None`` if it never came.

    The count is the provider's one record of receipt (a single atomic ``INCR``), so a
    sender killed between counting and storing the message's details is still known to
    have delivered it: the answer agrees with ``received`` whenever the process died.
    """
    prefix = _prefix()
    count = int(cache.get(f"{prefix}count:{reference}", 0))
    if not count:
        return None
    stored = cache.get(f"{prefix}message:{reference}")
    if stored is None:
        return f"sandbox-{reference}-{count}"
    return str(json.loads(stored)["id"])


def email_reference(message: EmailMessage) -> str:
    return str(message.extra_headers.get(REFERENCE_HEADER, ""))


class SandboxEmailBackend(BaseEmailBackend):
    """Accepts every email and remembers it by reference; it can be asked (``lookup``)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            reference = email_reference(message) or str(message.extra_headers.get("Message-ID"))
            message_id = record(reference, "email", ", ".join(message.to), str(message.body))
            message.extra_headers.setdefault("X-Sandbox-Id", message_id)
            sent += 1
        return sent

    def lookup(self, reference: str) -> str | None:
        return lookup(reference)


class LocmemEmailBackend(DjangoLocmemBackend):
    """Django's test outbox (``mail.outbox``), which can be asked too (same process)."""

    def lookup(self, reference: str) -> str | None:
        from django.core import mail

        for message in getattr(mail, "outbox", []):
            if email_reference(message) == reference:
                return str(message.extra_headers.get("Message-ID", reference))
        return None


def provider_lookup(backend: Any, reference: str) -> tuple[bool, str]:
    """Ask ``backend`` about ``reference``: ``(True, id)`` if it received the message,
    ``(True, "")`` if it did not, ``(False, "")`` if it cannot be asked (or did not answer)."""
    ask = getattr(backend, "lookup", None)
    if ask is None:
        return False, ""
    try:
        found = ask(reference)
    except Exception:
        return False, ""
    return True, found or ""
