"""The member's privacy page at the desk (``…/members/member/<id>/privacy/``): consents
with their time and source, the member's privacy requests, the data download (manager
and owner) and erasure: recorded by anyone at the desk, approved by a manager or owner
who did not record it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from .. import hooks
from ..models import (
    Member,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestSource,
    PrivacyRequestStatus,
)
from . import erasure, registry
from .export import member_export

EXPORT_PERMISSION = "members.export_member_data"
REQUEST_PERMISSION = "members.add_privacyrequest"
TEMPLATE = "admin/members/member/privacy.html"


class ErasureRequestForm(forms.Form):
    note = forms.CharField(
        label=_("What the member asked (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )

    def clean_note(self) -> str:
        note = str(self.cleaned_data.get("note") or "").strip()
        if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in note):
            raise ValidationError(_("Remove the control characters from the note."))
        return note


class DeclineForm(forms.Form):
    answer = forms.CharField(label=_("Why it is declined"), max_length=500)

    def clean_answer(self) -> str:
        answer = str(self.cleaned_data.get("answer") or "").strip()
        if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in answer):
            raise ValidationError(_("Remove the control characters from the answer."))
        return answer


def privacy_tool(request: HttpRequest, member: Any) -> list[hooks.MemberTool]:
    """The member page's link to their privacy page."""
    if not request.user.has_perm("members.view_member"):
        return []
    url = reverse("admin:members_member_privacy", args=[quote(member.pk)])
    return [hooks.MemberTool(label=str(_("Privacy and data (PDPA)")), url=url, order=90)]


class PrivacyPagesMixin:
    """The privacy page and its forms, for ``MemberAdmin``."""

    admin_site: Any
    opts: Any
    _member: Callable[..., Member]
    has_view_permission: Callable[..., bool]
    message_user: Callable[..., None]

    def privacy_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/privacy/",
                wrap(self.privacy_view),
                name="members_member_privacy",
            ),
            path(
                "<path:object_id>/privacy/export/",
                wrap(require_POST(self.privacy_export_view)),
                name="members_member_privacy_export",
            ),
            path(
                "<path:object_id>/privacy/erasure/",
                wrap(require_POST(self.privacy_erasure_request_view)),
                name="members_member_privacy_erasure",
            ),
            path(
                "<path:object_id>/privacy/requests/<int:request_id>/<str:decision>/",
                wrap(require_POST(self.privacy_decide_view)),
                name="members_member_privacy_decide",
            ),
        ]

    def _privacy_url(self, member: Member) -> str:
        return reverse("admin:members_member_privacy", args=[quote(member.pk)])

    def _viewable(self, request: HttpRequest, object_id: str) -> Member:
        member = self._member(request, object_id)
        if not self.has_view_permission(request, member):
            raise PermissionDenied
        return member

    def privacy_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        member = self._viewable(request, object_id)
        user = request.user
        requests = list(
            PrivacyRequest.objects.filter(member=member).select_related(
                "requested_by", "handled_by"
            )[:30]
        )
        open_erasures = [
            item
            for item in requests
            if item.kind == PrivacyRequestKind.ERASURE and item.status == PrivacyRequestStatus.OPEN
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "member": member,
            "title": _("Privacy and data: %(name)s") % {"name": member.full_name},
            "consents": member.consents.select_related("recorded_by")[:50],
            "requests": requests,
            "open_erasures": [
                {"request": item, "may_approve": erasure.may_approve(user, item)}
                for item in open_erasures
            ],
            "blockers": erasure.erasure_blockers(member) if open_erasures else [],
            "may_export": user.has_perm(EXPORT_PERMISSION) and member.erased_at is None,
            "may_request": user.has_perm(REQUEST_PERMISSION)
            and member.erased_at is None
            and not open_erasures,
            "may_approve_any": user.has_perm(erasure.APPROVE_PERMISSION),
            "kept": [
                (policy.model._meta.verbose_name_plural, policy.retained)
                for policy in registry.policies()
                if policy.retained
            ],
            "request_form": ErasureRequestForm(),
            "decline_form": DeclineForm(),
            "profile_url": reverse("admin:members_member_change", args=[quote(member.pk)]),
            "has_permission": True,
        }
        return TemplateResponse(request, TEMPLATE, context)

    def privacy_export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        member = self._viewable(request, object_id)
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        if member.erased_at is not None:
            self.message_user(request, _("This member's data has been erased."), messages.ERROR)
            return HttpResponseRedirect(self._privacy_url(member))
        export = member_export(member, reason=str(_("Downloaded at the desk")))
        response = HttpResponse(export.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        response["Cache-Control"] = "no-store"
        return response

    def privacy_erasure_request_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        member = self._viewable(request, object_id)
        if not request.user.has_perm(REQUEST_PERMISSION):
            raise PermissionDenied
        form = ErasureRequestForm(request.POST)
        if not form.is_valid():
            errors = " ".join(str(e) for field in form.errors.values() for e in field)
            self.message_user(request, errors, messages.ERROR)
            return HttpResponseRedirect(self._privacy_url(member))
        try:
            erasure.erasure_request(
                member,
                note=form.cleaned_data["note"],
                source=PrivacyRequestSource.DESK,
                requested_by=request.user,
                ip_address=request.META.get("REMOTE_ADDR") or None,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(
                request,
                _("Erasure request recorded. Another manager or the owner must approve it."),
                messages.SUCCESS,
            )
        return HttpResponseRedirect(self._privacy_url(member))

    def privacy_decide_view(
        self, request: HttpRequest, object_id: str, request_id: int, decision: str
    ) -> HttpResponse:
        member = self._viewable(request, object_id)
        item = PrivacyRequest.objects.filter(
            pk=request_id, member=member, kind=PrivacyRequestKind.ERASURE
        ).first()
        if item is None or decision not in ("approve", "decline"):
            raise Http404(_("No such erasure request for this member."))
        try:
            if decision == "approve":
                if request.POST.get("confirm") != str(member.member_number):
                    raise ValidationError(
                        _("Type the member number to confirm the erasure."), code="confirm"
                    )
                erasure.erasure_approve(item, by=request.user)
                message = _("The member's personal data has been erased.")
            else:
                form = DeclineForm(request.POST)
                if not form.is_valid():
                    raise ValidationError([str(e) for field in form.errors.values() for e in field])
                erasure.erasure_decline(item, by=request.user, answer=form.cleaned_data["answer"])
                message = _("The erasure request has been declined.")
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self._privacy_url(member))
