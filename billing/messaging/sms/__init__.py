"""SMS through a pluggable backend, chosen by ``SMS_BACKEND`` (a dotted path), for every
app that texts members (billing, dunning, classes, the point of sale).

- ``billing.messaging.sms.console.ConsoleSmsBackend``: prints messages (the demo's default);
- ``billing.messaging.sms.locmem.LocmemSmsBackend``: keeps them in
  ``billing.messaging.sms.locmem.outbox`` (tests);
- ``billing.messaging.sms.sandbox.SandboxSmsBackend``: a provider that can be asked what it
  received (:mod:`config.outbox`);
- ``billing.messaging.sms.twilio.TwilioSmsBackend``: Twilio's REST API over HTTPS.

(``dunning.sms.*`` names the same classes, for settings written before they moved here.)

A backend has one method, ``send(SmsMessage) -> SmsResult``, and raises
``SmsSendError`` when the message was not accepted.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .base import SmsBackend, SmsMessage, SmsResult, SmsSendError

__all__ = ["SmsBackend", "SmsMessage", "SmsResult", "SmsSendError", "get_sms_backend"]

DEFAULT_BACKEND = "billing.messaging.sms.console.ConsoleSmsBackend"


def get_sms_backend(path: str | None = None) -> SmsBackend:
    """A new instance of the configured backend (``SMS_BACKEND``), or of ``path``."""
    backend_class = import_string(path or str(getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND)))
    backend: SmsBackend = backend_class()
    return backend
