"""Dunning's SMS: the shared sender in :mod:`billing.messaging.sms`, chosen by
``DUNNING_SMS_BACKEND`` (which defaults to ``SMS_BACKEND``)."""

from __future__ import annotations

from billing.messaging.sms import SmsBackend, SmsMessage, SmsResult
from billing.messaging.sms import get_sms_backend as _shared_backend

from .. import conf

__all__ = ["SmsBackend", "SmsMessage", "SmsResult", "get_sms_backend"]


def get_sms_backend(path: str | None = None) -> SmsBackend:
    """A new instance of dunning's configured backend (or of ``path``)."""
    return _shared_backend(path or conf.sms_backend_path())
