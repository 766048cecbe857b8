"""Hostile input, stopped in one place.

Every way in (the API's serializers and parsers, the admin's forms, management commands
and the services under them) asks these functions, so a rule holds everywhere at once:

- **Text** (:func:`clean_text`): no control characters (NUL, BEL, ESC and so ANSI escape
  sequences...), no invisible format characters (zero-width spaces and joiners, the
  bidirectional overrides such as U+202E that make a name read backwards), no surrogates;
  in a single-line field, no line breaks either.  Tabs and line breaks are allowed in
  multi-line text (notes, reasons, addresses).
- **Amounts** (:func:`check_amount`): whole minor units, at most ``INPUT_MAX_AMOUNT``
  (far below the database's 32-bit columns), never negative unless asked.
- **Dates** (:func:`check_date`): business dates within a window around the gym's today,
  ``INPUT_MAX_DAYS_AHEAD`` ahead and ``INPUT_MAX_DAYS_BEHIND`` behind by default.  Dates
  of birth and the like are bounded by :data:`EARLIEST_DATE`.

Each raises Django's ``ValidationError`` with a stable ``code``: ``control_characters``,
``line_break``, ``amount_too_large``, ``amount_negative``, ``date_too_far_ahead``,
``date_too_far_behind``.  The API answers it as a 400 (``config.api.errors``), the admin
as a form error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import clock
from .errors import InvalidInput

# Database integer columns are 32-bit: no amount may get near 2**31 - 1.
DB_INT_MAX = 2**31 - 1
EARLIEST_DATE = dt.date(1900, 1, 1)

# Allowed in multi-line text only; every other Cc, every Cf, Cs, Co and Cn is refused.
_MULTILINE_ALLOWED = frozenset("\n\r\t")
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


def max_amount() -> int:
    return min(int(getattr(settings, "INPUT_MAX_AMOUNT", 100_000_000)), DB_INT_MAX)


def _bad_character(value: str, multiline: bool) -> str | None:
    for char in value:
        if char in _MULTILINE_ALLOWED:
            if not multiline:
                return char
            continue
        if char in _LINE_BREAKS and not multiline:
            return char
        if unicodedata.category(char) in _REFUSED_CATEGORIES or char in ("\u2028", "\u2029"):
            return char
    return None


def text_problem(value: str, *, multiline: bool = False) -> ValidationError | None:
    """The error ``value`` would raise in :func:`clean_text`, or ``None``."""
    char = _bad_character(value, multiline)
    if char is None:
        return None
    if char in _LINE_BREAKS or char in _MULTILINE_ALLOWED:
        return ValidationError(_("Use a single line here, without line breaks."), code="line_break")
    return ValidationError(
        _("Remove the invisible or control character (U+%(code)04X) from this text."),
        code="control_characters",
        params={"code": ord(char)},
    )


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` unchanged if it is clean text, else a ``ValidationError``."""
    problem = text_problem(value, multiline=multiline)
    if problem is not None:
        raise problem
    return value


def clean_fields(values: Mapping[str, Any], *, multiline: frozenset[str] = frozenset()) -> None:
    """:func:`clean_text` on every string in ``values``; one error naming every bad field."""
    errors: dict[str, list[ValidationError]] = {}
    for name, value in values.items():
        if isinstance(value, str):
            problem = text_problem(value, multiline=name in multiline)
            if problem is not None:
                errors[name] = [problem]
    if errors:
        raise ValidationError(errors)


def check_amount(value: int, *, allow_negative: bool = False) -> int:
    """A money amount in minor units, within what the gym can plausibly take."""
    if value < 0 and not allow_negative:
        raise ValidationError(_("Enter an amount of zero or more."), code="amount_negative")
    if abs(value) > max_amount():
        raise ValidationError(
            _("This amount is too large for one entry."),
            code="amount_too_large",
        )
    return value


def check_date(
    value: dt.date, *, days_ahead: int | None = None, days_behind: int | None = None
) -> dt.date:
    """A business date no further from the gym's today than the window allows."""
    today = clock.today()
    ahead = settings.INPUT_MAX_DAYS_AHEAD if days_ahead is None else days_ahead
    behind = settings.INPUT_MAX_DAYS_BEHIND if days_behind is None else days_behind
    if value > today + dt.timedelta(days=ahead):
        raise ValidationError(
            _("This date is too far ahead (at most %(days)s days from today)."),
            code="date_too_far_ahead",
            params={"days": ahead},
        )
    if value < today - dt.timedelta(days=behind):
        raise ValidationError(
            _("This date is too far back (at most %(days)s days before today)."),
            code="date_too_far_behind",
            params={"days": behind},
        )
    return value


def check_past_date(value: dt.date) -> dt.date:
    """A date in the past such as a date of birth: not before 1900, not after today."""
    if value < EARLIEST_DATE:
        raise ValidationError(_("This date is too far back."), code="date_too_far_behind")
    if value > clock.today():
        raise ValidationError(_("This date is in the future."), code="date_too_far_ahead")
    return value


def command_date(
    value: str,
    *,
    option: str = "--date",
    days_ahead: int | None = None,
    days_behind: int | None = None,
) -> dt.date:
    """A management command's date argument: ``YYYY-MM-DD`` within :func:`check_date`'s
    window, else a ``CommandError`` saying so (the command prints it; never a traceback)."""
    from django.core.management.base import CommandError

    text = (value or "").strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} must be a date as YYYY-MM-DD, not {value!r}.") from None
    try:
        return check_date(day, days_ahead=days_ahead, days_behind=days_behind)
    except ValidationError as exc:
        raise CommandError(f"{option} {day}: {' '.join(exc.messages)}") from None


def command_count(value: int, *, option: str, low: int = 0, high: int) -> int:
    """A management command's count argument within ``low``..``high``."""
    from django.core.management.base import CommandError

    if not low <= value <= high:
        raise CommandError(f"{option} must be between {low:,} and {high:,}, not {value:,}.")
    return value


class CleanTextModel:
    """Mix into a model: ``full_clean`` (so every service that validates, and every admin
    form) refuses unclean text in its ``CharField``s (single-line) and ``TextField``s
    (multi-line)."""

    def clean_fields(self, exclude: Any = None) -> None:
        errors: dict[str, Any] = {}
        try:
            super().clean_fields(exclude)  # type: ignore[misc]
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for field in self._meta.concrete_fields:  # type: ignore[attr-defined]
            if (exclude and field.name in exclude) or field.name in errors:
                continue
            if not isinstance(field, models.CharField | models.TextField):
                continue
            value = getattr(self, field.attname)
            if isinstance(value, str):
                problem = text_problem(value, multiline=isinstance(field, models.TextField))
                if problem is not None:
                    errors[field.name] = [problem]
        if errors:
            raise ValidationError(errors)


@contextlib.contextmanager
def for_field(name: str) -> Iterator[None]:
    """Inside a service: a ``ValidationError`` from these checks becomes the domain's
    :class:`~config.errors.InvalidInput` naming ``name`` (a 400 in the API, a form
    error in the admin)."""
    try:
        yield
    except ValidationError as exc:
        raise InvalidInput({name: [str(m) for m in exc.messages]}) from None
