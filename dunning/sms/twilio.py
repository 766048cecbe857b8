"""Moved to :mod:`billing.messaging.sms.twilio` (this name is kept for settings and
imports written before)."""

from billing.messaging.sms.twilio import *  # noqa: F403
