"""Dates and times as people read them: one set of functions for the admin, the emails,
the SMS and the member's pages.

Thai readers expect the Buddhist year (2026 CE is 2569 BE).  With ``THAI_BUDDHIST_YEAR``
on (the default), every date written in Thai carries it: "7 ธันวาคม 2569".  English keeps
the Western year: "7 December 2026".  Times are 24-hour everywhere ("17:28"), in the time
zone that is active (the gym's, in the admin and in messages).

Templates use the filters in ``config.templatetags.gym_dates`` (``{% load gym_dates %}``):
``{{ day|local_date }}``, ``{{ day|local_date:"short" }}``, ``{{ moment|local_datetime }}``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from django.conf import settings
from django.utils import dateformat, timezone, translation

BUDDHIST_ERA_OFFSET = 543

# Django date-format strings (the year is written by us, see ``_with_year``).
DATE_STYLES = {
    "long": "j F Y",  # 7 December 2026 / 7 ธันวาคม 2569
    "short": "j M Y",  # 7 Dec 2026 / 7 ธ.ค. 2569
    "day_month": "j F",  # 7 December / 7 ธันวาคม
    "day_month_short": "j M",  # 7 Dec / 7 ธ.ค.
    "month_year": "F Y",  # December 2026 / ธันวาคม 2569
}
TIME_FORMAT = "H:i"
TIME_WITH_SECONDS_FORMAT = "H:i:s"


def _language(language: str | None = None) -> str:
    return (language or translation.get_language() or settings.LANGUAGE_CODE).lower()


def uses_buddhist_year(language: str | None = None) -> bool:
    """Whether dates in ``language`` (default: the active one) show the Buddhist year."""
    return _language(language).split("-")[0] == "th" and bool(settings.THAI_BUDDHIST_YEAR)


def display_year(year: int, language: str | None = None) -> int:
    """``year`` as readers of ``language`` count it."""
    return year + BUDDHIST_ERA_OFFSET if uses_buddhist_year(language) else year


def _with_year(fmt: str, value: dt.date) -> str:
    """``fmt`` with each ``Y`` written out as the reader's year (escaped, so Django's
    formatter copies the digits as they are)."""
    year = "".join(f"\\{digit}" for digit in str(display_year(value.year)))
    out: list[str] = []
    escaped = False
    for char in fmt:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        else:
            out.append(year if char == "Y" else char)
    return "".join(out)


def format_date(value: dt.date | dt.datetime | None, style: str = "long") -> str:
    """A calendar day: "7 December 2026", "7 ธันวาคม 2569" (``style``: see DATE_STYLES).

    A datetime is first moved into the active time zone, so the day is the local day.
    """
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return dateformat.format(value, _with_year(DATE_STYLES[style], value))
    # A day is written the same way every time in one language: messages sent by the
    # thousand ask for the same few days again and again.
    return _day_text(value, style, translation.get_language(), bool(settings.THAI_BUDDHIST_YEAR))


@functools.lru_cache(maxsize=4096)
def _day_text(value: dt.date, style: str, language: str | None, buddhist_year: bool) -> str:
    """``value`` in ``style`` as written in ``language`` (the key holds everything the
    text depends on: the language is active while it is formatted)."""
    with translation.override(language):
        return dateformat.format(value, _with_year(DATE_STYLES[style], value))


def format_time(value: dt.datetime | dt.time | None, *, seconds: bool = False) -> str:
    """A time of day, 24-hour, local: "17:28" (or "17:28:21")."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.time_format(value, TIME_WITH_SECONDS_FORMAT if seconds else TIME_FORMAT)


def format_datetime(
    value: dt.datetime | None, style: str = "short", *, seconds: bool = False
) -> str:
    """A moment, local: "7 Dec 2026, 17:28" / "7 ธ.ค. 2569 17:28"."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    separator = " " if _language().split("-")[0] == "th" else ", "
    return f"{format_date(value, style)}{separator}{format_time(value, seconds=seconds)}"


_YEAR = re.compile(r"(?<!\d)(19|20|21)\d{2}(?!\d)")


def with_local_years(text: str) -> str:
    """``text`` (a title Django wrote, such as "ธันวาคม 2026") with each Western year
    written as the reader counts it ("ธันวาคม 2569" in Thai)."""
    if not uses_buddhist_year():
        return text
    return _YEAR.sub(lambda match: str(display_year(int(match.group(0)))), text)
