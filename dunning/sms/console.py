"""Moved to :mod:`billing.messaging.sms.console` (this name is kept for settings and
imports written before)."""

from billing.messaging.sms.console import *  # noqa: F403
