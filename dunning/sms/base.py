"""Moved to :mod:`billing.messaging.sms.base` (this name is kept for settings and
imports written before)."""

from billing.messaging.sms.base import *  # noqa: F403
