"""The audit trail for owners: globally, or one member's (``?member__id__exact=<id>``),
filtered by action, actor kind and date.  Nothing here can change a record."""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from . import audit, hooks
from .audit_models import AuditRecord


class AuditedAdminMixin:
    """For records whose only path is the admin's own form (catalogue items, dunning
    policies, staff accounts and groups): every add, change and delete is recorded in the
    audit trail by ``members.audit.model_change_record`` / ``model_delete_record``, with the
    values before and after, in the form's transaction.

    The state before is read from the database before the form's values are saved; the
    state after once its many-to-many fields and inlines are saved too.
    ``audit_related(obj)`` adds related rows the form edits (groups, permissions, inline
    rows) to both."""

    def audit_related(self, obj: Any) -> dict[str, Any]:
        return {}

    def _audit_state(self, obj: Any) -> dict[str, Any]:
        return audit.model_state(obj, self.audit_related(obj))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = None
        if change and obj.pk is not None:
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = self._audit_state(stored) if stored is not None else None
        obj._audit_before = before
        obj._audit_pending = True
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        obj = form.instance
        if getattr(obj, "_audit_pending", False):
            obj._audit_pending = False
            audit.model_change_record(obj, obj._audit_before, self._audit_state(obj))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            audit.model_delete_record(obj, self._audit_state(obj))
            super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit.model_delete_record(obj, self._audit_state(obj))
            super().delete_queryset(request, queryset)  # type: ignore[misc]


def related_ids(manager: Any, field: str = "pk") -> list[Any]:
    """A many-to-many's or reverse relation's values, sorted (for ``audit_related``)."""
    return sorted(manager.values_list(field, flat=True))


def related_rows(manager: Any, fields: list[str]) -> list[dict[str, Any]]:
    """An inline's rows as the trail keeps them (for ``audit_related``)."""
    rows: list[models.Model] = list(manager.order_by("pk"))
    return [audit.snapshot(row, fields) for row in rows]


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "actor_label",
        "actor_kind",
        "action",
        "subject_label",
        "member",
        "reason",
    ]
    list_filter = ["action", "actor_kind", "subject_type"]
    date_hierarchy = "at"
    search_fields = ["=subject_id", "=request_id", "actor_label", "subject_label"]
    list_select_related = ["member"]
    show_full_result_count = False  # a count of millions of rows on every page is slow
    list_per_page = 50
    fields = (
        "at",
        "actor_kind",
        "actor_label",
        "action",
        "subject_type",
        "subject_id",
        "subject_label",
        "member",
        "changes",
        "reason",
        "request_id",
        "ip_address",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields

    @admin.display(description=_("changes"))
    def changes(self, record: AuditRecord) -> Any:
        keys = sorted(set(record.before) | set(record.after))
        model = _subject_model(record.subject_type)
        rows = format_html_join(
            "",
            '<tr><th>{} <span class="quiet">{}</span></th><td>{}</td><td>{}</td></tr>',
            (
                (
                    _field_label(model, key),
                    key,
                    _value_text(model, key, record.before),
                    _value_text(model, key, record.after),
                )
                for key in keys
            ),
        )
        return format_html(
            "<table><thead><tr><th></th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("before"),
            _("after"),
            rows,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Staff accounts and roles ----------------------------------------------------------


class StaffAccountAuditMixin(AuditedAdminMixin):
    """A staff account's roles (groups), own permissions, staff and superuser flags, and
    whether it is active, before and after each edit on the user screens.  When an
    account joined and last signed in are shown, not edited (the form's minute-precise
    copy would otherwise rewrite them on every save)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return (*fields, *(f for f in ("last_login", "date_joined") if f not in fields))

    def audit_related(self, obj: Any) -> dict[str, Any]:
        if obj is None or obj.pk is None:
            return {"groups": [], "user_permissions": []}
        return {
            "groups": related_ids(obj.groups, "name"),
            "user_permissions": related_ids(obj.user_permissions, "codename"),
        }


class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    """Roles (groups): their permissions, before and after each edit."""

    def audit_related(self, obj: Any) -> dict[str, Any]:
        if obj is None or obj.pk is None:
            return {"permissions": []}
        return {"permissions": related_ids(obj.permissions, "codename")}


if admin.site.is_registered(Group):
    admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)


def _subject_model(subject_type: str) -> Any:
    try:
        return apps.get_model(subject_type) if "." in subject_type else None
    except (LookupError, ValueError):
        return None


def _field_label(model: Any, key: str) -> str:
    """The field's own name in the reader's language (the key itself when not a field)."""
    try:
        return str(model._meta.get_field(key).verbose_name) if model is not None else ""
    except FieldDoesNotExist:
        return ""


def _value_text(model: Any, key: str, values: dict[str, Any]) -> str:
    """A value as a person reads it: money as ``฿800.00`` and rates as ``7%`` (read by the
    apps that own those fields, through ``hooks.audit_value_text``), else as recorded."""
    if key not in values:
        return ""
    value = values[key]
    if value is not None:
        text = hooks.audit_value_for(model, key, value, values)
        if text is not None:
            return text
    return json.dumps(value, ensure_ascii=False)
