"""The audit trail for owners: globally, or one member's (``?member__id__exact=<id>``),
filtered by action, actor kind and date.  Nothing here can change a record."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .audit_models import AuditRecord


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
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            (
                (
                    key,
                    json.dumps(record.before.get(key), ensure_ascii=False),
                    json.dumps(record.after.get(key), ensure_ascii=False),
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
