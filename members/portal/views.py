"""The portal shell's pages: home, a dependant's page, profile, privacy, the language
switch.

Thin: reads come from ``members.hooks`` (every app's cards) and ``.access``; writes from
``members.services``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from config import clock

from .. import hooks, services
from ..models import (
    Member,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestSource,
    PrivacyRequestStatus,
)
from ..privacy import erasure
from ..privacy import export as privacy_export
from ..services import PORTAL_PROFILE_FIELDS
from .access import (
    is_portal_user,
    member_in_reach,
    member_required,
    portal_dependants,
    portal_member,
)
from .auth import MEMBER_BACKEND, set_language_cookie
from .forms import PrivacyRequestForm, ProfileForm
from .invites import InviteCheck, invite_tokens, invite_user_id


@member_required
def home(request: HttpRequest) -> HttpResponse:
    """The member's home: every app's cards (membership, what is owed, bookings...), and
    the dependants they manage."""
    request.portal_section = "home"  # type: ignore[attr-defined]
    member = request.member  # type: ignore[attr-defined]
    context = {
        "member": member,
        "cards": hooks.portal_cards_for(request, member),
        "dependants": portal_dependants(request),
    }
    return render(request, "members/portal/home.html", context)


@member_required
def dependant(request: HttpRequest, member_id: int) -> HttpResponse:
    """A dependant's page, for the payer or guardian who manages them (404 for others)."""
    request.portal_section = "home"  # type: ignore[attr-defined]
    member = member_in_reach(request, member_id)
    if member.pk == request.member.pk:  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse("portal:home"))
    context = {"member": member, "cards": hooks.portal_cards_for(request, member)}
    return render(request, "members/portal/dependant.html", context)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("portal:home")


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Switch the portal's language; a signed-in member's choice is kept for their
    messages too.  Open to visitors (the sign-in page has the switch)."""
    chosen = request.POST.get("language", "")
    response = HttpResponseRedirect(_safe_next(request))
    if chosen not in dict(settings.LANGUAGES):
        return response
    member = portal_member(request.user)
    if member is not None and member.language != chosen:
        services.member_language_set(member, chosen)
    set_language_cookie(response, chosen)
    return response


@member_required
def profile(request: HttpRequest) -> HttpResponse:
    """The member's own details: contact, emergency contact, language and messages
    (marketing apart from billing), tax invoice details."""
    request.portal_section = "profile"  # type: ignore[attr-defined]
    member = request.member  # type: ignore[attr-defined]
    form = ProfileForm(request.POST or None, instance=member)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in PORTAL_PROFILE_FIELDS}
        try:
            updated = services.member_profile_update(
                Member.objects.get(pk=member.pk),
                marketing_email=form.cleaned_data["marketing_email"],
                marketing_sms=form.cleaned_data["marketing_sms"],
                **data,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Your details are saved."))
            response = HttpResponseRedirect(reverse("portal:profile"))
            set_language_cookie(response, updated.language)
            return response
    return render(request, "members/portal/profile.html", {"member": member, "form": form})


def _add_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@member_required
def privacy(request: HttpRequest) -> HttpResponse:
    """Ask for a copy of one's data, or its erasure; the requests are recorded for staff
    to answer (the law gives them 30 days)."""
    request.portal_section = "privacy"  # type: ignore[attr-defined]
    member = request.member  # type: ignore[attr-defined]
    form = PrivacyRequestForm(request.POST or None)
    ip_address = request.META.get("REMOTE_ADDR") or None
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["kind"] == PrivacyRequestKind.EXPORT:
                privacy_export.export_request(
                    member, source=PrivacyRequestSource.PORTAL, ip_address=ip_address
                )
                done = _(
                    "Your copy is ready: download it below. The link works for %(hours)s hours."
                ) % {"hours": settings.PRIVACY_EXPORT_LINK_HOURS}
            else:
                erasure.erasure_request(
                    member,
                    note=form.cleaned_data["note"],
                    source=PrivacyRequestSource.PORTAL,
                    ip_address=ip_address,
                )
                done = _("Your request is recorded. A manager will answer it within 30 days.")
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, done)
            return HttpResponseRedirect(reverse("portal:privacy"))
    now = clock.now()
    requests: list[dict[str, Any]] = []
    for item in PrivacyRequest.objects.filter(member=member).order_by("-requested_at", "-pk")[:20]:
        link = expires = None
        if item.kind == PrivacyRequestKind.EXPORT and item.status == PrivacyRequestStatus.DONE:
            expires = privacy_export.export_link_expires(item)
            if expires > now:
                link = reverse(
                    "portal:privacy_download", args=[privacy_export.export_link_token(item)]
                )
        requests.append({"item": item, "link": link, "expires": expires})
    context = {
        "member": member,
        "form": form,
        "requests": requests,
        "kinds": PrivacyRequestKind,
        "erasure_open": any(
            entry["item"].kind == PrivacyRequestKind.ERASURE
            and entry["item"].status == PrivacyRequestStatus.OPEN
            for entry in requests
        ),
        "link_hours": settings.PRIVACY_EXPORT_LINK_HOURS,
    }
    return render(request, "members/portal/privacy.html", context)


@never_cache
@member_required
def privacy_download(request: HttpRequest, token: str) -> HttpResponse:
    """The member's own copy of their data, through the signed link the privacy page
    shows: only theirs, and only until it expires (410 then; 404 for any other link)."""
    member = request.member  # type: ignore[attr-defined]
    try:
        answered = privacy_export.export_link_request(token, member)
    except privacy_export.LinkExpired:
        return render(
            request, "members/portal/privacy_link_expired.html", {"member": member}, status=410
        )
    except privacy_export.LinkInvalid as exc:
        raise Http404(_("This download link is not valid.")) from exc
    export = privacy_export.member_export(
        member, reason=str(_("Downloaded from the portal")), request_id=answered.pk
    )
    response = HttpResponse(export.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
def invite(request: HttpRequest, uid: str, token: str) -> HttpResponse:
    """The invite link: the member chooses a password and lands in the portal, signed in.
    A link that was altered answers 400, an expired one 410, each saying what to do."""
    user_id = invite_user_id(uid)
    member = (
        Member.objects.select_related("user").filter(user_id=user_id).first()
        if user_id is not None
        else None
    )
    check = InviteCheck.INVALID
    if member is not None and is_portal_user(member.user):
        check = invite_tokens.check(member.user, token)
    if member is None or check is not InviteCheck.OK:
        status = 410 if check is InviteCheck.EXPIRED else 400
        return render(
            request, "members/portal/invite.html", {"problem": check.value}, status=status
        )
    form = SetPasswordForm(member.user, request.POST or None)  # type: ignore[type-var]
    if request.method == "POST" and form.is_valid():
        user = services.portal_invite_accept(member, form.cleaned_data["new_password1"])
        login(request, user, backend=MEMBER_BACKEND)
        messages.success(request, _("Your password is set. Welcome!"))
        response = HttpResponseRedirect(reverse("portal:home"))
        set_language_cookie(response, member.language)
        return response
    return render(request, "members/portal/invite.html", {"member": member, "form": form})
