"""Moved to :mod:`billing.messaging.sms.sandbox` (this name is kept for settings and
imports written before)."""

from billing.messaging.sms.sandbox import *  # noqa: F403
