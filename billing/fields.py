"""Money and rate fields: integers in the database, money and percentages to people.

A model declares an amount as a :class:`MoneyField` (or :class:`PositiveMoneyField`) and
a rate as a :class:`RateField`.  The column is the same integer it always was (minor
units, basis points); what changes is everything a person meets:

- forms (the admin's included) take ``800`` or ``800.50`` and ``7`` or ``7.5`` and store
  ``80050`` and ``750`` (:class:`MoneyFormField`, :class:`RateFormField`);
- the admin shows every such field as ``฿800.50`` and ``7.5%`` in lists, detail pages and
  read-only fields (``config.admin.readable`` finds the fields by their class, so a new
  app's models get this by declaring their amounts with these fields).

An amount's currency is the model's ``currency`` field by default; ``currency_field``
names another (a dotted path such as ``"invoice.currency"`` follows a relation), and
``None`` means the gym's own currency (``GYM_CURRENCY``) for amounts kept without one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from config.inputs import max_amount

from .money import (
    AmountNotReadable,
    currency_symbol,
    format_amount,
    format_rate,
    major_units,
    parse_amount,
    parse_rate,
    rate_as_typed,
)

# --- Form fields ------------------------------------------------------------------------


class MoneyInput(forms.TextInput):
    """A text box for an amount, with the currency's symbol in front of it."""

    template_name = "billing/widgets/money_input.html"

    def __init__(self, attrs: dict[str, Any] | None = None, currency: str = "") -> None:
        super().__init__(
            {"inputmode": "decimal", "size": 12, "autocomplete": "off", **(attrs or {})}
        )
        self.currency = currency

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["currency_symbol"] = currency_symbol(
            self.currency or settings.GYM_CURRENCY
        )
        return context


class RateInput(forms.TextInput):
    """A text box for a percentage, with a % after it."""

    template_name = "billing/widgets/rate_input.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            {"inputmode": "decimal", "size": 6, "autocomplete": "off", **(attrs or {})}
        )


class MoneyFormField(forms.Field):
    """An amount typed in major units (``800``, ``800.50``, ``1,500``), cleaned to integer
    minor units of ``currency``.

    Exact: parsed as a decimal, never a float, and more decimal places than the currency
    has are refused rather than rounded.  ``min_value`` and ``max_value`` are in minor
    units and are shown back as money.
    """

    widget = MoneyInput
    default_error_messages = {
        "invalid": _("Enter an amount such as 800 or 800.50."),
        "too_precise": _("Too many decimal places for this currency."),
        "min_value": _("Enter at least %(limit)s."),
        "max_value": _("Enter at most %(limit)s."),
    }

    def __init__(
        self,
        *,
        currency: str | None = None,
        min_value: int | None = None,
        max_value: int | None = None,
        **kwargs: Any,
    ) -> None:
        # Every amount is bounded (config.inputs), whatever the form asked.
        limit = max_amount()
        self.min_value = min_value
        self.max_value = limit if max_value is None else min(max_value, limit)
        kwargs.pop("max_length", None)
        super().__init__(**kwargs)
        self.currency = currency or settings.GYM_CURRENCY

    @property
    def currency(self) -> str:
        return self._currency

    @currency.setter
    def currency(self, value: str) -> None:
        self._currency = value
        if isinstance(self.widget, MoneyInput):
            self.widget.currency = value

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return major_units(value, self.currency)
        return value

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value if value is not None else "").strip()
        if text in self.empty_values:
            return None
        try:
            return parse_amount(text, self.currency)
        except AmountNotReadable as exc:
            raise ValidationError(self.error_messages[exc.code], code=exc.code) from exc

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is None:
            return
        for limit, code, too_far in (
            (self.min_value, "min_value", lambda v, lim: v < lim),
            (self.max_value, "max_value", lambda v, lim: v > lim),
        ):
            if limit is not None and too_far(value, limit):
                raise ValidationError(
                    self.error_messages[code],
                    code=code,
                    params={"limit": format_amount(limit, self.currency)},
                )


class RateFormField(forms.Field):
    """A percentage typed as people write it (``7``, ``7.5``, ``7%``), cleaned to basis
    points (``700``, ``750``)."""

    widget = RateInput
    default_error_messages = {
        "invalid": _("Enter a percentage such as 7 or 7.5."),
        "too_precise": _("Enter at most two decimal places."),
        "min_value": _("Enter at least %(limit)s."),
        "max_value": _("Enter at most %(limit)s."),
    }

    def __init__(
        self, *, min_value: int | None = 0, max_value: int | None = 10_000, **kwargs: Any
    ) -> None:
        # Every amount is bounded (config.inputs), whatever the form asked.
        limit = max_amount()
        self.min_value = min_value
        self.max_value = limit if max_value is None else min(max_value, limit)
        kwargs.pop("max_length", None)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return rate_as_typed(value)
        return value

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value if value is not None else "").strip()
        if text in self.empty_values:
            return None
        try:
            return parse_rate(text)
        except AmountNotReadable as exc:
            raise ValidationError(self.error_messages[exc.code], code=exc.code) from exc

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is None:
            return
        if self.min_value is not None and value < self.min_value:
            raise ValidationError(
                self.error_messages["min_value"],
                code="min_value",
                params={"limit": format_rate(self.min_value)},
            )
        if self.max_value is not None and value > self.max_value:
            raise ValidationError(
                self.error_messages["max_value"],
                code="max_value",
                params={"limit": format_rate(self.max_value)},
            )


# --- Model fields -----------------------------------------------------------------------


def _formfield_kwargs(field: models.Field[Any, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The form field's arguments: the model field's own limits (so a form refuses what
    the model would, in money or percent, before the model says it in minor units), and
    no number widget (the admin offers one to integer fields; an amount or a rate is
    typed as text, ``800.50`` or ``7.5``, which a number box would refuse)."""
    limits: dict[str, int] = {}
    for validator in field.validators:
        if isinstance(validator, MinValueValidator):
            limits["min_value"] = max(
                limits.get("min_value", validator.limit_value), validator.limit_value
            )
        elif isinstance(validator, MaxValueValidator):
            limits["max_value"] = min(
                limits.get("max_value", validator.limit_value), validator.limit_value
            )
    widget = kwargs.get("widget")
    widget_class = widget if isinstance(widget, type) else type(widget)
    if widget is not None and issubclass(widget_class, forms.NumberInput):
        kwargs = {k: v for k, v in kwargs.items() if k != "widget"}
    return {**limits, **kwargs}


class MoneyFieldMixin:
    """An integer amount in minor units, whose currency is read from ``currency_field``."""

    def __init__(self, *args: Any, currency_field: str | None = "currency", **kwargs: Any) -> None:
        self.currency_field = currency_field
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        if self.currency_field != "currency":
            kwargs["currency_field"] = self.currency_field
        return name, path, args, kwargs

    def currency_of(self, obj: Any) -> str:
        """The currency of this amount on ``obj`` (the gym's where the model keeps none)."""
        if self.currency_field is None:
            return str(settings.GYM_CURRENCY)
        value: Any = obj
        for part in self.currency_field.split("."):
            value = getattr(value, part, None)
            if value is None:
                return str(settings.GYM_CURRENCY)
        return str(value) or str(settings.GYM_CURRENCY)

    def display(self, obj: Any) -> str | None:
        """``฿800.00``, or ``None`` for no amount."""
        value = getattr(obj, self.attname)  # type: ignore[attr-defined]
        return None if value is None else format_amount(value, self.currency_of(obj))

    def formfield(self, **kwargs: Any) -> Any:
        defaults = {"form_class": MoneyFormField, **_formfield_kwargs(self, kwargs)}  # type: ignore[arg-type]
        return super().formfield(**defaults)  # type: ignore[misc]


class MoneyField(MoneyFieldMixin, models.IntegerField):  # type: ignore[misc]
    """An amount in minor units that may be negative (a credit, a correction)."""


class PositiveMoneyField(models.PositiveIntegerField, MoneyField):  # type: ignore[misc]
    """An amount in minor units, zero or more.

    A kind of :class:`MoneyField`, as a PositiveIntegerField is a kind of IntegerField, so
    expressions over both kinds of amount infer their type as they did before."""


class PositiveBigMoneyField(models.PositiveBigIntegerField, MoneyField):  # type: ignore[misc]
    """An amount in minor units, zero or more, in a 64-bit column."""


class RateField(models.PositiveIntegerField):  # type: ignore[type-arg]
    """A rate in basis points (``700`` is 7%), typed and shown as a percentage."""

    def display(self, obj: Any) -> str | None:
        value = getattr(obj, self.attname)
        return None if value is None else format_rate(value)

    def formfield(self, **kwargs: Any) -> Any:
        defaults = {"form_class": RateFormField, **_formfield_kwargs(self, kwargs)}
        return super().formfield(**defaults)


def is_money(field: Any) -> bool:
    return isinstance(field, MoneyFieldMixin)


def is_rate(field: Any) -> bool:
    return isinstance(field, RateField)
