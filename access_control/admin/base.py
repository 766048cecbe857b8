"""Machinery shared by the access screens: billing's service pages, in the desk's words.

A service refuses with a domain error; the desk reads its translated message alone.  The
stable ``reason`` code and the raw details are for the API.  Fields whose model gives
them no translated name are shown through ``field_shown`` under a label of the admin's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import display_for_field
from django.core.exceptions import ValidationError
from django.db.models import Field, Model
from django.http import HttpRequest, HttpResponse

from billing.admin.base import ServiceActionsMixin, describe_error
from config.errors import DomainError

R = TypeVar("R")


def describe_refusal(exc: Exception) -> str:
    """A service's refusal or a validation error as one sentence for the desk."""
    if isinstance(exc, DomainError):
        return exc.message
    return describe_error(exc)


def field_shown(model_admin: admin.ModelAdmin[Any], obj: Model, name: str) -> str:
    """The field ``name`` of ``obj`` as a read-only field shows it (local time, the empty
    dash), for a column that gives it a translated label its model field lacks."""
    field = obj._meta.get_field(name)
    assert isinstance(field, Field)
    return str(display_for_field(getattr(obj, name), field, model_admin.get_empty_value_display()))


def _refusals_in_desk_words(call: Callable[..., R]) -> Callable[..., R]:
    """``call``, its refusals raised as the ``ValidationError`` the desk reads."""

    @functools.wraps(call)
    def run(*args: Any, **kwargs: Any) -> R:
        try:
            return call(*args, **kwargs)
        except DomainError as exc:
            raise ValidationError(describe_refusal(exc), code=exc.reason or exc.code) from exc

    return run


class DeskActionsMixin(ServiceActionsMixin):
    """``ServiceActionsMixin`` whose pages and bulk actions report refusals as
    :func:`describe_refusal` words them."""

    def _service_form_view(
        self,
        request: HttpRequest,
        obj: Any,
        form: forms.Form,
        perform: Callable[[dict[str, Any]], str],
        **kwargs: Any,
    ) -> HttpResponse:
        return super()._service_form_view(
            request, obj, form, _refusals_in_desk_words(perform), **kwargs
        )

    def _run_for_each(
        self,
        request: HttpRequest,
        queryset: Iterable[Any],
        call: Callable[[Any], object],
        done: str,
    ) -> None:
        super()._run_for_each(request, queryset, _refusals_in_desk_words(call), done)
