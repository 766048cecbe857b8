"""The gym's PromptPay settings, read in one place and checked at start-up.

- ``PROMPTPAY_ROUTE``: ``gateway``, ``own_id``, ``off`` or ``auto`` (the default:
  ``own_id`` when ``PROMPTPAY_ID`` is set, else ``gateway`` if the payment gateway
  offers PromptPay, else ``off``);
- ``PROMPTPAY_ID``: the gym's own PromptPay ID (mobile, 13-digit tax ID or e-wallet ID);
- ``PROMPTPAY_EXPIRY_MINUTES``: how long a QR may be paid (1 to 1440; default 15).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core import checks

from ..gateways import default_gateway_name, get_gateway
from ..gateways.interface import GatewayError
from .payload import PromptPayError, PromptPayTarget, parse_target

GATEWAY, OWN_ID, OFF, AUTO = "gateway", "own_id", "off", "auto"
ROUTES = (GATEWAY, OWN_ID, OFF, AUTO)
MIN_EXPIRY_MINUTES, MAX_EXPIRY_MINUTES = 1, 1440


def own_target() -> PromptPayTarget | None:
    """The gym's own PromptPay ID, or ``None`` if it has none (or an invalid one)."""
    text = str(getattr(settings, "PROMPTPAY_ID", "") or "").strip()
    if not text:
        return None
    try:
        return parse_target(text)
    except PromptPayError:
        return None


def _gateway_offers_promptpay() -> bool:
    try:
        return bool(get_gateway(default_gateway_name()).supports_promptpay)
    except GatewayError:
        return False


def route() -> str:
    """How PromptPay is taken now: ``gateway``, ``own_id`` or ``off``."""
    configured = str(getattr(settings, "PROMPTPAY_ROUTE", AUTO) or AUTO).strip().lower()
    if configured == OWN_ID:
        return OWN_ID if own_target() is not None else OFF
    if configured == GATEWAY:
        return GATEWAY if _gateway_offers_promptpay() else OFF
    if configured == OFF:
        return OFF
    if own_target() is not None:
        return OWN_ID
    return GATEWAY if _gateway_offers_promptpay() else OFF


def available() -> bool:
    """Whether members and the desk are offered PromptPay at all."""
    return route() != OFF


def expiry() -> dt.timedelta:
    """How long a PromptPay QR may be paid, within sane bounds."""
    minutes = int(getattr(settings, "PROMPTPAY_EXPIRY_MINUTES", 15) or 15)
    return dt.timedelta(minutes=min(max(minutes, MIN_EXPIRY_MINUTES), MAX_EXPIRY_MINUTES))


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``manage.py check``: a PromptPay setting that cannot work is an error at start-up."""
    errors: list[checks.CheckMessage] = []
    configured = str(getattr(settings, "PROMPTPAY_ROUTE", AUTO) or AUTO).strip().lower()
    if configured not in ROUTES:
        errors.append(
            checks.Error(f"PROMPTPAY_ROUTE must be one of {', '.join(ROUTES)}.", id="billing.E101")
        )
    text = str(getattr(settings, "PROMPTPAY_ID", "") or "").strip()
    if text:
        try:
            parse_target(text)
        except PromptPayError as exc:
            message = f"PROMPTPAY_ID is not a PromptPay ID: {exc.message}"
            errors.append(checks.Error(message, id="billing.E102"))
    elif configured == OWN_ID:
        errors.append(checks.Error("PROMPTPAY_ROUTE=own_id needs PROMPTPAY_ID.", id="billing.E103"))
    minutes = int(getattr(settings, "PROMPTPAY_EXPIRY_MINUTES", 15) or 15)
    if not MIN_EXPIRY_MINUTES <= minutes <= MAX_EXPIRY_MINUTES:
        errors.append(
            checks.Warning(
                f"PROMPTPAY_EXPIRY_MINUTES is kept within {MIN_EXPIRY_MINUTES}–"
                f"{MAX_EXPIRY_MINUTES}.",
                id="billing.W101",
            )
        )
    return errors
