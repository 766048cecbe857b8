"""The owners' API keys screen: make a key (shown once), see when each was last used,
revoke.  Keys are never edited or deleted: a revoked key stays on the record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from config import clock

from . import api_keys
from .models import ApiKey

DEFAULT_LIFE = dt.timedelta(days=90)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=api_keys.scope_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the integration may read or change; nothing else."),
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at", "rate_per_minute"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        expires_at = data.get("expires_at")
        now = clock.now()
        if expires_at is not None and not now < expires_at <= now + api_keys.LONGEST_LIFE:
            self.add_error("expires_at", api_keys.ApiKeyNotValid(reason="invalid_expiry").message)
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "scope_list", "expires_at", "last_used_at", "state"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    readonly_fields = [
        "name",
        "prefix",
        "scope_list",
        "expires_at",
        "rate_per_minute",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else self.form.Meta.fields

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"expires_at": clock.now() + DEFAULT_LIFE}

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).select_related("created_by", "revoked_by")

    @admin.display(description=_("scopes"))
    def scope_list(self, key: ApiKey) -> str:
        labels = dict(api_keys.scope_choices())
        return ", ".join(str(labels.get(name, name)) for name in key.scopes)

    @admin.display(description=_("state"))
    def state(self, key: ApiKey) -> Any:
        if key.revoked_at is not None:
            return _("revoked")
        if key.expires_at <= clock.now():
            return _("expired")
        return _("active")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a key is revoked, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        key, plain = api_keys.api_key_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            rate=form.cleaned_data["rate_per_minute"],
            created_by=request.user,
        )
        obj.pk = key.pk
        obj._plain = plain  # type: ignore[attr-defined]  # shown once, by response_add

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # no relations of its own

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # recorded by the service, not the admin's history

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None
    ) -> HttpResponse:
        key = ApiKey.objects.get(pk=obj.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Copy the new API key"),
            "key": key,
            "plain": obj._plain,  # type: ignore[attr-defined]
            "done_url": reverse("admin:members_apikey_changelist"),
        }
        response = render(request, "admin/members/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected keys"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = sum(api_keys.api_key_revoke(key, actor=request.user) for key in queryset)
        self.message_user(
            request, _("%(count)d key(s) revoked.") % {"count": revoked}, messages.SUCCESS
        )

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.add_apikey")
