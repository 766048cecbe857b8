"""SMS through a pluggable backend, chosen by ``DUNNING_SMS_BACKEND`` (a dotted path).

- ``dunning.sms.console.ConsoleSmsBackend``: prints messages (the demo's default);
- ``dunning.sms.locmem.LocmemSmsBackend``: keeps them in ``dunning.sms.locmem.outbox``
  (tests);
- ``dunning.sms.twilio.TwilioSmsBackend``: Twilio's REST API over HTTPS.

A backend has one method, ``send(SmsMessage) -> SmsResult``, and raises
``SmsSendError`` when the message was not accepted.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from .. import conf
from .base import SmsBackend, SmsMessage, SmsResult

__all__ = ["SmsBackend", "SmsMessage", "SmsResult", "get_sms_backend"]


def get_sms_backend(path: str | None = None) -> SmsBackend:
    """A new instance of the configured backend (or of ``path``)."""
    backend_class = import_string(path or conf.sms_backend_path())
    backend: SmsBackend = backend_class()
    return backend
