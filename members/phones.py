"""Phone numbers are stored in E.164 (``+66812345678``)."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def normalize_phone(raw: str, region: str | None = None) -> str:
    """Return ``raw`` in E.164, or raise ``ValidationError`` with code ``invalid_phone``."""
    value = (raw or "").strip()
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, region or settings.GYM_PHONE_REGION)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("Enter a valid phone number, for example 081 234 5678 or +66 81 234 5678."),
            code="invalid_phone",
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: str) -> str | None:
    """E.164 for a search term that looks like a phone number, else ``None``."""
    digits = sum(ch.isdigit() for ch in raw)
    if digits < 6:
        return None
    try:
        return normalize_phone(raw)
    except ValidationError:
        return None
