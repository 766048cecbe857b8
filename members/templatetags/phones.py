"""``{% load phones %}``: phone numbers people can tap."""

from __future__ import annotations

import re

from django import template

from members.phones import try_normalize_phone

register = template.Library()


@register.filter
def tel_href(number: str) -> str:
    """``tel:`` address of a phone number as people write it ("+66 2 000 0000" →
    "tel:+6620000000"); its digits as written where it is not a number we can read."""
    normalized = try_normalize_phone(str(number or ""))
    if normalized:
        return f"tel:{normalized}"
    return "tel:" + re.sub(r"[^\d+]", "", str(number or ""))
