"""The member page at the front desk: a profile to read and act from, apart from the form
that edits the record.

- ``…/<id>/change/`` shows the profile: a header card (photo, name, number, status, and
  what other apps know through ``members.hooks.member_page_facts``: plan, next payment,
  balance, last visit), open alerts on top, the household, and the buttons every app
  adds through ``members.hooks.member_page_tools``;
- ``…/<id>/edit/`` is the admin's form, which saves through the members services;
- small forms on the profile add a note or resolve an alert (members services too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from . import hooks, services
from .models import Member, MemberNote, MemberStatus
from .selectors import member_open_alert_notes

PROFILE_TEMPLATE = "admin/members/member/profile.html"

# The status badge's colours: text on a pale ground, readable at a glance.
STATUS_TONES: dict[str, str] = {
    MemberStatus.ACTIVE: hooks.GOOD,
    MemberStatus.PROSPECT: "",
    MemberStatus.FROZEN: "info",
    MemberStatus.PAST_DUE: hooks.WARN,
    MemberStatus.SUSPENDED: hooks.DANGER,
    MemberStatus.CANCELLED: "",
    MemberStatus.ENDED: "",
}


def status_badge(member: Member) -> str:
    """The member's status as a coloured badge (the list and the profile show the same)."""
    tone = STATUS_TONES.get(member.status, "")
    return format_html(
        '<span class="gym-badge {}" data-status="{}">{}</span>',
        tone,
        member.status,
        member.get_status_display(),
    )


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` address the page was opened with, if it is on this site."""
    target = request.POST.get("next") or request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2, "cols": 60})
    )
    is_alert = forms.BooleanField(
        label=_("Alert: show it at check-in and at the desk until resolved"), required=False
    )

    def clean_body(self) -> str:
        body = str(self.cleaned_data.get("body") or "").strip()
        if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in body):
            raise ValidationError(_("Remove the control characters from the note."))
        return body


class ProfilePagesMixin:
    """The member profile and its small forms, for ``MemberAdmin``."""

    admin_site: Any
    opts: Any
    get_object: Callable[..., Any]
    has_view_permission: Callable[..., bool]
    has_change_permission: Callable[..., bool]
    message_user: Callable[..., None]

    def profile_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/edit/", wrap(self.edit_view), name="members_member_edit"),
            path(
                "<path:object_id>/notes/add/",
                wrap(require_POST(self.note_add_view)),
                name="members_member_note_add",
            ),
            path(
                "<path:object_id>/alerts/<int:note_id>/resolve/",
                wrap(require_POST(self.alert_resolve_view)),
                name="members_member_alert_resolve",
            ),
        ]

    # --- pages ---------------------------------------------------------------------

    def _member(self, request: HttpRequest, object_id: str) -> Member:
        member = self.get_object(request, unquote(object_id))
        if member is None:
            raise Http404(_("No member with this id."))
        return member

    def profile_url(self, member: Member) -> str:
        return reverse("admin:members_member_change", args=[quote(member.pk)])

    def profile_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        member = self._member(request, object_id)
        if not self.has_view_permission(request, member):
            raise PermissionDenied
        tools = hooks.tools_for(request, member)
        may_change = self.has_change_permission(request, member)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": member,
            "member": member,
            "title": member.full_name,
            "subtitle": None,
            "badge": status_badge(member),
            "alerts": member_open_alert_notes(member),
            "facts": hooks.facts_for(request, member),
            "actions": [tool for tool in tools if tool.group == hooks.ACTIONS],
            "records": [tool for tool in tools if tool.group != hooks.ACTIONS],
            "household": self._household(member),
            "notes": member.notes.exclude(is_alert=True, resolved_at__isnull=True).select_related(
                "author"
            )[:10],
            "signatures": member.signatures.select_related("version")[:10],
            "age": member.age(),
            "may_change": may_change,
            "may_add_note": request.user.has_perm("members.add_membernote"),
            "may_resolve": request.user.has_perm("members.change_membernote"),
            "edit_url": reverse("admin:members_member_edit", args=[quote(member.pk)]),
            "note_form": NoteForm(),
            "has_permission": True,
        }
        return TemplateResponse(request, PROFILE_TEMPLATE, context)

    def _household(self, member: Member) -> dict[str, Any] | None:
        household = member.household
        if household is None:
            return None
        people = list(household.members.order_by("member_number"))
        return {
            "name": household.name,
            "payer_id": household.payer_id,
            "people": [
                {
                    "member": person,
                    "is_payer": person.pk == household.payer_id,
                    "is_self": person.pk == member.pk,
                    "badge": status_badge(person),
                    "url": self.profile_url(person),
                }
                for person in people
            ],
            "url": reverse("admin:members_household_change", args=[quote(household.pk)]),
        }

    def edit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The admin's own form for the record (saved through the members services)."""
        return super().change_view(  # type: ignore[misc]
            request,
            object_id,
            extra_context={"profile_url": self.profile_url(self._member(request, object_id))},
        )

    # --- notes and alerts ------------------------------------------------------------

    def note_add_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        member = self._member(request, object_id)
        if not request.user.has_perm("members.add_membernote"):
            raise PermissionDenied
        form = NoteForm(request.POST)
        if form.is_valid():
            services.note_add(
                member=member,
                body=form.cleaned_data["body"],
                is_alert=form.cleaned_data["is_alert"],
                author=request.user,
            )
            self.message_user(request, _("Note added."), messages.SUCCESS)
        else:
            errors = " ".join(str(e) for field in form.errors.values() for e in field)
            self.message_user(request, errors, messages.ERROR)
        return HttpResponseRedirect(self.profile_url(member))

    def alert_resolve_view(
        self, request: HttpRequest, object_id: str, note_id: int
    ) -> HttpResponse:
        member = self._member(request, object_id)
        if not request.user.has_perm("members.change_membernote"):
            raise PermissionDenied
        note = MemberNote.objects.filter(pk=note_id, member=member, is_alert=True).first()
        if note is None:
            raise Http404(_("No such alert on this member."))
        services.alert_resolve(note)
        self.message_user(request, _("Alert resolved."), messages.SUCCESS)
        return HttpResponseRedirect(safe_next(request, self.profile_url(member)))
