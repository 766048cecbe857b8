"""Credentials at the desk: find a card by its number, issue one, replace a lost one.

Nothing is edited in place: issuing, revoking and replacing each call one service
(``credential_issue``, ``credential_revoke``, ``credential_replace``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.admin.base import CHANGE_FORM_WITH_ACTIONS, MemberScopedListMixin, ObjectTool, posted
from config.errors import DomainError
from members.selectors import member_search

from .. import services
from ..models import Credential, CredentialStatus
from .base import DeskActionsMixin, describe_refusal, field_shown
from .events import ID
from .forms import IssueCredentialForm, ReplaceCredentialForm, RevokeCredentialForm
from .search import credentials_matching

STATUS_COLOURS: dict[str, str] = {
    CredentialStatus.ACTIVE: "#1a7f37",
    CredentialStatus.LOST: "#bf8700",
    CredentialStatus.REVOKED: "#cf222e",
}


@admin.register(Credential)
class CredentialAdmin(MemberScopedListMixin, DeskActionsMixin, admin.ModelAdmin):
    list_display = (
        "value",
        "kind",
        "member_display",
        "status_badge",
        "label",
        "issued_at",
        "issued_by",
        "revoked_at",
    )
    list_filter = ("status", "kind")
    list_select_related = ("member", "issued_by")
    # Shows the search box; ``get_search_results`` reads the term as a card or a member.
    search_fields = ("value",)
    search_help_text = _(
        "A card number in any form (04:A1:B2:C3, 123:45678, Wiegand decimal), a barcode, "
        "or the member's name, email, phone or number"
    )
    list_per_page = 50
    show_full_result_count = False
    change_form_template = CHANGE_FORM_WITH_ACTIONS
    actions = ("mark_lost", "revoke")
    fields = (
        "member",
        "kind",
        "value",
        "status",
        "label",
        "issued_at",
        "issued_by",
        "revoked_at",
        "updated",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing is edited directly; the buttons above the record call the services."""

    @admin.display(description=_("member"), ordering="member__last_name")
    def member_display(self, obj: Credential) -> str:
        return f"{obj.member.full_name} (#{obj.member.member_number})"

    @admin.display(description=_("updated"))
    def updated(self, obj: Credential) -> str:
        return field_shown(self, obj, "updated_at")

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Credential) -> str:
        return format_html(
            '<strong style="color:{}">{}</strong>',
            STATUS_COLOURS.get(obj.status, "#000"),
            obj.get_status_display(),
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Credential], search_term: str
    ) -> tuple[QuerySet[Credential], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # A card number finds that card; anything else finds the member's credentials.
        credentials = credentials_matching(term)
        if credentials is not None and credentials.exists():
            return queryset.filter(pk__in=credentials.values("pk")), False
        return queryset.filter(member_id__in=member_search(term).values("pk")), False

    # --- pages --------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        custom = [
            self._action_path("replace", self.replace_view),
            self._action_path("revoke", self.revoke_view),
        ]
        return custom + super().get_urls()

    def object_tools(self, request: HttpRequest, obj: Credential) -> list[ObjectTool]:
        if not self.has_change_permission(request, obj):
            return []
        if obj.status != CredentialStatus.ACTIVE:
            return []
        return [
            ObjectTool(str(_("Lost card: revoke and issue new")), self._action_url("replace", obj)),
            ObjectTool(str(_("Revoke")), self._action_url("revoke", obj)),
        ]

    def _changeable(self, request: HttpRequest, object_id: str) -> Credential:
        credential = self._object(request, object_id)
        if not self.has_change_permission(request, credential):
            raise PermissionDenied
        return credential

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Issue a credential: a card, a barcode or a new QR pass, through the service."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        member = request.GET.get("member", "")
        initial = {"member": member} if ID.fullmatch(member) else {}
        form = IssueCredentialForm(
            posted(request), initial=initial, source=Credential, site=self.admin_site
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                credential = services.credential_issue(
                    data["member"],
                    kind=data["kind"],
                    value=data.get("value", ""),
                    input_format=data["input_format"],
                    label=data.get("label", ""),
                    issued_by=request.user,
                )
            except (DomainError, ValidationError) as exc:
                text = describe_refusal(exc)
                form.add_error(None, text)
                self.message_user(request, text, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(credential)s issued to %(member)s.")
                    % {"credential": credential, "member": data["member"].full_name},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(credential))
        return self._render_form(
            request,
            form,
            title=str(_("Issue a credential")),
            submit_label=str(_("Issue")),
        )

    def replace_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        lost = self._changeable(request, object_id)
        form = ReplaceCredentialForm(posted(request), kind=lost.kind)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                new = services.credential_replace(
                    lost,
                    value=data.get("value", ""),
                    input_format=data["input_format"],
                    kind=data["kind"],
                    label=data.get("label", ""),
                    issued_by=request.user,
                )
            except (DomainError, ValidationError) as exc:
                text = describe_refusal(exc)
                form.add_error(None, text)
                self.message_user(request, text, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(lost)s is marked lost; %(new)s is issued to %(member)s.")
                    % {"lost": lost, "new": new, "member": new.member.full_name},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(new))
        summary = _("%(credential)s of %(member)s stops working at once.") % {
            "credential": lost,
            "member": lost.member.full_name,
        }
        return self._render_form(
            request,
            form,
            obj=lost,
            title=str(_("Lost card: revoke and issue new")),
            submit_label=str(_("Revoke and issue")),
            summary=str(summary),
        )

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        credential = self._changeable(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            services.credential_revoke(credential, lost=data["why"] == "lost")
            return str(_("%(credential)s no longer opens any door.")) % {"credential": credential}

        return self._service_form_view(
            request,
            credential,
            RevokeCredentialForm(posted(request)),
            perform,
            title=str(_("Revoke %(credential)s") % {"credential": credential}),
            submit_label=str(_("Revoke")),
        )

    # --- bulk actions -------------------------------------------------------------------

    @admin.action(description=_("Mark selected credentials as lost"), permissions=["change"])
    def mark_lost(self, request: HttpRequest, queryset: QuerySet[Credential]) -> None:
        self._run_for_each(
            request,
            queryset,
            lambda c: services.credential_revoke(c, lost=True),
            str(_("%(count)d credentials marked lost.")),
        )

    @admin.action(description=_("Revoke selected credentials"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Credential]) -> None:
        self._run_for_each(
            request,
            queryset,
            lambda c: services.credential_revoke(c),
            str(_("%(count)d credentials revoked.")),
        )
