"""Every admin screen shows money as money, rates as percentages and dates as the reader
counts them, without a screen doing anything for it.

``ReadableAdminMixin`` is mixed into every ModelAdmin and inline the admin site registers
(``config.admin.site.GymAdminSite.register``).  It looks at the model's fields:

- a money field (``billing.fields.MoneyField``/``PositiveMoneyField``) is shown as
  ``฿800.00`` in its own currency, and typed as ``800`` or ``800.50``;
- a rate (``billing.fields.RateField``, basis points) is shown as ``7%`` and typed as ``7``;
- a date or a date-time is shown by ``config.dates`` (local time, 24-hour, the Buddhist
  year in Thai).

Where a list column, a read-only field or a view-only page names such a field, it is
swapped for a display function named after the field (so the column keeps its
``column-<name>``/``field-<name>`` classes, its label and its sorting).  Editable money
fields need nothing here: the model field's form field reads major units; this mixin only
gives it the object's currency.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest

from billing.fields import MoneyFieldMixin, MoneyFormField, is_money, is_rate
from config import dates

Display = Callable[[Any], Any]
# What the admin shows for no value (the site's ``empty_value_display``, too).
EMPTY = "—"


def _is_date(field: models.Field[Any, Any]) -> bool:
    return isinstance(field, models.DateField | models.DateTimeField) and not field.choices


def readable_field(model: type[models.Model], name: Any) -> models.Field[Any, Any] | None:
    """The model field ``name`` names, when the admin should show it through a display
    function rather than Django's own rendering; else ``None``."""
    if not isinstance(name, str):
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not isinstance(field, models.Field) or field.is_relation:
        return None
    if is_money(field) or is_rate(field) or _is_date(field):
        return field
    return None


def _show_date(field: models.Field[Any, Any], obj: Any) -> str | None:
    value = getattr(obj, field.attname)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return dates.format_datetime(value)
    return dates.format_date(value, "short")


@functools.cache
def display_for(model: type[models.Model], name: str) -> Display:
    """The display function standing for ``model``'s field ``name`` (one per field, so the
    same object appears in a screen's fieldsets and its read-only fields)."""
    field = readable_field(model, name)
    assert field is not None, f"{model.__name__}.{name} is shown as it is"

    special = is_money(field) or is_rate(field)

    def show(obj: Any) -> Any:
        shown = field.display(obj) if special else _show_date(field, obj)  # type: ignore[attr-defined]
        return EMPTY if shown is None else shown

    show.__name__ = show.__qualname__ = name
    show.short_description = field.verbose_name  # type: ignore[attr-defined]
    show.admin_order_field = name  # type: ignore[attr-defined]
    return show


def readable_names(
    model: type[models.Model], names: Iterable[Any], keep: Iterable[Any] = ()
) -> list[Any]:
    """``names`` with every money, rate and date field (except those in ``keep``) swapped
    for its display function."""
    kept = set(keep)
    return [
        display_for(model, name)
        if name not in kept and readable_field(model, name) is not None
        else name
        for name in names
    ]


def _map_fieldsets(fieldsets: Any, swap: Callable[[Any], Any]) -> list[Any]:
    mapped = []
    for title, options in fieldsets:
        rows = []
        for row in options.get("fields", ()):
            if isinstance(row, list | tuple):
                rows.append(tuple(swap(name) for name in row))
            else:
                rows.append(swap(row))
        mapped.append((title, {**options, "fields": tuple(rows)}))
    return mapped


class ReadableAdminMixin:
    """See the module's docstring.  Mixed in front of a ModelAdmin or an inline."""

    model: type[models.Model]

    def _view_only(self, request: HttpRequest, obj: Any) -> bool:
        """Whether the page shows this object's fields without a form for them."""
        can_change = self.has_change_permission(request, obj)  # type: ignore[attr-defined]
        if isinstance(self, admin.options.InlineModelAdmin):
            return not can_change and not self.has_add_permission(request, obj)
        return obj is not None and not can_change

    def get_list_display(self, request: HttpRequest) -> Sequence[Any]:
        names = super().get_list_display(request)  # type: ignore[misc]
        return readable_names(self.model, names, keep=getattr(self, "list_editable", ()))

    def get_list_display_links(self, request: HttpRequest, list_display: Sequence[Any]) -> Any:
        links = super().get_list_display_links(request, list_display)  # type: ignore[misc]
        return None if links is None else readable_names(self.model, links)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[Any]:
        names = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        return readable_names(self.model, names)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        readonly = set(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        view_only = self._view_only(request, obj)

        def swap(name: Any) -> Any:
            if (view_only or name in readonly) and readable_field(self.model, name) is not None:
                return display_for(self.model, name)
            return name

        return _map_fieldsets(fieldsets, swap)

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)  # type: ignore[misc]
        _set_currencies(form, self.model, obj)
        return form

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)  # type: ignore[misc]
        # An inline's amounts are in its parent's currency when it keeps none of its own.
        _set_currencies(formset.form, self.model, obj)
        return formset

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return [readable_admin(inline) for inline in super().get_inlines(request, obj)]  # type: ignore[misc]


def _set_currencies(form: Any, model: type[models.Model], obj: Any) -> None:
    """Type each amount on ``form`` in the currency ``obj`` keeps it in.

    ``form`` is the class made for this request; a field it shares with a declared form
    class is copied before it is changed."""
    if obj is None:
        return
    for name, form_field in list(form.base_fields.items()):
        if not isinstance(form_field, MoneyFormField):
            continue
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if isinstance(field, MoneyFieldMixin) and isinstance(obj, model):
            currency = field.currency_of(obj)
        else:
            currency = getattr(obj, "currency", "") or form_field.currency
        if currency != form_field.currency:
            form.base_fields[name] = copy.deepcopy(form_field)
            form.base_fields[name].currency = currency


@functools.cache
def readable_admin(admin_class: type[Any]) -> type[Any]:
    """``admin_class`` with :class:`ReadableAdminMixin` in front (itself if it has it)."""
    if issubclass(admin_class, ReadableAdminMixin):
        return admin_class
    return type(
        admin_class.__name__,
        (ReadableAdminMixin, admin_class),
        {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
    )
