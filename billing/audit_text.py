"""How the audit trail's screens read billing's values: money fields as money in the
record's currency (``฿800.00``), rates as percentages (``7%``).  Registered into
``members.hooks.audit_value_text`` by ``BillingConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist

from .fields import is_money, is_rate
from .money import format_amount, format_rate


def audit_value_text(model: Any, key: str, value: Any, values: dict[str, Any]) -> str | None:
    if model is None or isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        field = model._meta.get_field(key)
    except FieldDoesNotExist:
        return None
    if is_money(field):
        return format_amount(value, str(values.get("currency") or settings.GYM_CURRENCY))
    if is_rate(field):
        return format_rate(value)
    return None
