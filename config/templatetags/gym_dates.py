"""``{% load gym_dates %}``: the template side of ``config.dates`` (one date format for
the admin, the emails, the SMS and the member's pages; the Buddhist year in Thai)."""

from __future__ import annotations

import datetime as dt

from django import template

from config import dates

register = template.Library()


@register.filter
def local_date(value: dt.date | dt.datetime | None, style: str = "long") -> str:
    """``{{ invoice.due_on|local_date }}`` → "7 December 2026" / "7 ธันวาคม 2569"."""
    return dates.format_date(value, style) if value else ""


@register.filter
def local_datetime(value: dt.datetime | None, style: str = "short") -> str:
    """``{{ payment.received_at|local_datetime }}`` → "7 Dec 2026, 17:28"."""
    return dates.format_datetime(value, style) if value else ""


@register.filter
def local_time(value: dt.datetime | dt.time | None) -> str:
    """``{{ event.at|local_time }}`` → "17:28"."""
    return dates.format_time(value) if value else ""


@register.filter
def local_years(text: str) -> str:
    """Years in text Django wrote (the admin's date links), as the reader counts them."""
    return dates.with_local_years(str(text))
