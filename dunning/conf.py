"""Dunning's settings, read at call time so tests and deployments can change them.

Every value has a safe default here as well as in ``config/settings.py`` (the
``# --- Dunning ---`` block), so the app works with a bare settings module.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings


def _time(value: str) -> dt.time:
    hours, _, minutes = value.partition(":")
    return dt.time(int(hours), int(minutes or 0))


def quiet_hours() -> tuple[dt.time, dt.time]:
    """``(start, end)`` of the daily window in which no message is sent (gym local time)."""
    start = str(getattr(settings, "DUNNING_QUIET_HOURS_START", "21:00"))
    end = str(getattr(settings, "DUNNING_QUIET_HOURS_END", "08:00"))
    return _time(start), _time(end)


def retry_local_time() -> dt.time:
    """The local time of day at which day-based retries are scheduled."""
    return _time(str(getattr(settings, "DUNNING_RETRY_LOCAL_TIME", "10:00")))


def link_max_age() -> dt.timedelta:
    return dt.timedelta(days=int(getattr(settings, "DUNNING_LINK_MAX_AGE_DAYS", 14)))


def public_base_url() -> str:
    return str(getattr(settings, "DUNNING_PUBLIC_BASE_URL", "http://127.0.0.1:8000")).rstrip("/")


def sms_backend_path() -> str:
    return str(
        getattr(settings, "DUNNING_SMS_BACKEND", "")
        or getattr(settings, "SMS_BACKEND", "billing.messaging.sms.console.ConsoleSmsBackend")
    )


def visa_limit_30d() -> int:
    return int(getattr(settings, "DUNNING_VISA_REATTEMPTS_30D", 15))


def mastercard_limit_24h() -> int:
    return int(getattr(settings, "DUNNING_MASTERCARD_REATTEMPTS_24H", 10))


def mastercard_limit_30d() -> int:
    return int(getattr(settings, "DUNNING_MASTERCARD_REATTEMPTS_30D", 35))


def batch_size() -> int:
    return int(getattr(settings, "DUNNING_BATCH_SIZE", 200))


def run_workers() -> int:
    """How many batches one run advances at once (1: one after the other)."""
    return max(int(getattr(settings, "DUNNING_RUN_WORKERS", 2)), 1)


def delivery_workers() -> int:
    """How many chunks of messages one delivery task sends at once (1: one after the other)."""
    return max(int(getattr(settings, "DUNNING_DELIVERY_WORKERS", 1)), 1)


def max_promise_days() -> int:
    return int(getattr(settings, "DUNNING_MAX_PROMISE_DAYS", 30))


def hook_errors_raise() -> bool:
    """Tests set this so a broken dunning hook fails loudly; billing is never broken by it."""
    return bool(getattr(settings, "DUNNING_HOOK_ERRORS_RAISE", False))


def send_decision_delay() -> dt.timedelta:
    """How long a message whose send was interrupted waits before its provider is asked
    whether it arrived (``DUNNING_SEND_DECISION_DELAY_SECONDS``; 10 minutes): longer
    than any send takes, so a send still under way is never taken for a lost one."""
    return dt.timedelta(seconds=int(getattr(settings, "DUNNING_SEND_DECISION_DELAY_SECONDS", 600)))
