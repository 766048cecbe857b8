"""Readers, turnstiles, doors and kiosks, and their API keys.

A key is made by ``device_create`` or ``device_rotate_key`` and shown once, on the page
that answers the request that made it; only its hash is stored, and it is never shown.
Revoking (``device_revoke``) switches a device off for good.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.admin.base import CHANGE_FORM_WITH_ACTIONS, ObjectTool, posted
from config.errors import DomainError

from .. import services
from ..models import Device
from .base import DeskActionsMixin, describe_refusal, field_shown
from .forms import ConfirmForm, DeviceCreateForm

KEY_TEMPLATE = "admin/access_control/device_key.html"


class RevokedFilter(admin.SimpleListFilter):
    title = _("key")
    parameter_name = "key"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("live", _("Live")), ("revoked", _("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Device]) -> QuerySet[Device]:
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(Device)
class DeviceAdmin(DeskActionsMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "zone",
        "kind",
        "direction",
        "credential_format",
        "key_prefix",
        "last_seen",
        "key_status",
    )
    list_filter = ("zone", "kind", "direction", RevokedFilter)
    list_select_related = ("zone",)
    search_fields = ("name", "key_prefix")
    search_help_text = _("Device name or key prefix")
    change_form_template = CHANGE_FORM_WITH_ACTIONS
    actions = ("revoke_devices", "rotate_keys")
    # The key hash is never shown: only the public prefix tells keys apart.
    fields = (
        "name",
        ("kind", "direction"),
        ("zone", "door"),
        "credential_format",
        ("key_prefix", "key_created_at"),
        ("last_seen", "revoked_at", "added"),
    )
    readonly_fields = ("key_prefix", "key_created_at", "last_seen", "revoked_at", "added")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its events refer to it: revoke instead

    @admin.display(description=_("added"))
    def added(self, obj: Device) -> str:
        return field_shown(self, obj, "created_at")

    @admin.display(description=_("key"), ordering="revoked_at")
    def key_status(self, obj: Device) -> str:
        if obj.revoked_at is None:
            return format_html('<strong style="color:#1a7f37">{}</strong>', _("Live"))
        return format_html('<strong style="color:#cf222e">{}</strong>', _("Revoked"))

    # --- pages --------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        custom = [
            self._action_path("rotate-key", self.rotate_key_view),
            self._action_path("revoke", self.revoke_view),
        ]
        return custom + super().get_urls()

    def object_tools(self, request: HttpRequest, obj: Device) -> list[ObjectTool]:
        if not self.has_change_permission(request, obj) or obj.revoked_at is not None:
            return []
        return [
            ObjectTool(str(_("Rotate key")), self._action_url("rotate-key", obj)),
            ObjectTool(str(_("Revoke")), self._action_url("revoke", obj)),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Name, zone and the rest stay editable here: keep the usual save buttons.
        obj = self.get_object(request, unquote(object_id))
        tools = self.object_tools(request, obj) if obj is not None else []
        extra = {"billing_tools": tools, **(extra_context or {})}
        return admin.ModelAdmin.change_view(self, request, object_id, form_url, extra)

    def _show_keys(
        self, request: HttpRequest, keys: list[tuple[Device, str]], title: str
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "keys": keys,
            "changelist_url": self._changelist_url(),
        }
        # Every admin page is sent "no-store" (admin_view): the key stays out of caches.
        return TemplateResponse(request, KEY_TEMPLATE, context)

    def _changelist_url(self) -> str:
        return reverse(f"admin:{self._url_name('changelist')}")

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Register a device through the service and show its new key, once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DeviceCreateForm(posted(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                device, key = services.device_create(
                    zone=data["zone"],
                    name=data["name"],
                    kind=data["kind"],
                    direction=data["direction"],
                    door=data.get("door"),
                    credential_format=data["credential_format"],
                )
            except (DomainError, ValidationError) as exc:
                text = describe_refusal(exc)
                form.add_error(None, text)
                self.message_user(request, text, messages.ERROR)
            else:
                self.log_addition(request, device, [{"added": {}}])
                return self._show_keys(
                    request, [(device, key)], str(_("Device %(name)s added") % {"name": device})
                )
        return self._render_form(
            request,
            form,  # type: ignore[arg-type]  # a ModelForm renders like any form
            title=str(_("Add a device")),
            submit_label=str(_("Add and show key")),
        )

    def _changeable(self, request: HttpRequest, object_id: str) -> Device:
        device = self._object(request, object_id)
        if not self.has_change_permission(request, device):
            raise PermissionDenied
        return device

    def rotate_key_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        device = self._changeable(request, object_id)
        form = ConfirmForm(posted(request))
        if request.method == "POST" and form.is_valid():
            try:
                key = services.device_rotate_key(device)
            except DomainError as exc:
                text = describe_refusal(exc)
                form.add_error(None, text)
                self.message_user(request, text, messages.ERROR)
            else:
                self.log_change(request, device, str(_("Rotated the API key.")))
                return self._show_keys(
                    request,
                    [(device, key)],
                    str(_("New key for %(name)s") % {"name": device}),
                )
        return self._render_form(
            request,
            form,
            obj=device,
            title=str(_("Rotate the key of %(name)s") % {"name": device}),
            submit_label=str(_("Rotate key")),
            summary=str(
                _(
                    "The current key stops working at once; install the new one on the "
                    "device.  It is shown once, on the next page."
                )
            ),
        )

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        device = self._changeable(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            services.device_revoke(device)
            self.log_change(request, device, str(_("Revoked the API key.")))
            return str(_("%(name)s is revoked: its key no longer works.")) % {"name": device}

        return self._service_form_view(
            request,
            device,
            ConfirmForm(posted(request)),
            perform,
            title=str(_("Revoke %(name)s") % {"name": device}),
            submit_label=str(_("Revoke")),
            summary=str(_("The device's key stops working at once, for good.")),
        )

    # --- bulk actions -------------------------------------------------------------------

    @admin.action(description=_("Revoke selected devices"), permissions=["change"])
    def revoke_devices(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        def revoke(device: Device) -> None:
            was_live = device.revoked_at is None
            services.device_revoke(device)
            if was_live:
                self.log_change(request, device, str(_("Revoked the API key.")))

        self._run_for_each(request, queryset, revoke, str(_("%(count)d devices revoked.")))

    @admin.action(
        description=_("Rotate the keys of selected devices (shows the new keys once)"),
        permissions=["change"],
    )
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Device]) -> HttpResponse | None:
        keys: list[tuple[Device, str]] = []
        for device in queryset.select_related("zone"):
            try:
                keys.append((device, services.device_rotate_key(device)))
            except DomainError as exc:
                self.message_user(request, f"{device}: {describe_refusal(exc)}", messages.ERROR)
            else:
                self.log_change(request, device, str(_("Rotated the API key.")))
        if not keys:
            return None
        return self._show_keys(request, keys, str(_("New device keys")))
