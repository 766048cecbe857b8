"""Moved to :mod:`billing.messaging.sms.locmem` (this name is kept for settings and
imports written before)."""

from billing.messaging.sms.locmem import *  # noqa: F403
