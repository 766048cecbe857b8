"""Staff sign-in: lockouts (django-axes) and the second factor (django-otp) in the admin.

After the password, a staff member who needs a second factor
(``members.staff_security.needs_second_factor``) reaches nothing in the admin until they
enter a code from their authenticator app or a recovery code; one who has none yet is
taken to set it up first.  The API's session authentication asks the same.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication

from members import staff_security
from members.models import RecoveryCodes


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """What a locked-out sign-in gets: the API's error shape under ``/api/``, the admin's
    sign-in page with the reason elsewhere.  Both 429."""
    message = _("Too many failed sign-ins. Try again later, or ask an owner to help.")
    if request.path_info.startswith("/api/"):
        return JsonResponse({"code": "locked_out", "message": message}, status=429)
    return render(request, "admin/locked_out.html", {"message": message}, status=429)


def is_member_sign_in(request: HttpRequest, credentials: Any = None) -> bool:
    """django-axes leaves the portal's member sign-in alone (``AXES_WHITELIST_CALLABLE``):
    allauth's rate limits guard it, and its backend never admits staff, so no staff
    password can be tried there."""
    return bool(getattr(request, "path_info", "").startswith("/portal/"))


def is_verified(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and getattr(user, "is_verified", lambda: False)())


# Whether this session's user needs a second factor, asked once per session.
NEEDED_SESSION_KEY = "second_factor_needed"


def second_factor_missing(request: HttpRequest) -> bool:
    """Signed in with a password, but the second factor this user needs is not done."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or is_verified(request):
        return False
    session = getattr(request, "session", None)
    if session is None:
        return staff_security.needs_second_factor(user)
    known = session.get(NEEDED_SESSION_KEY)
    if known is None or known[0] != user.pk:
        known = (user.pk, staff_security.needs_second_factor(user))
        session[NEEDED_SESSION_KEY] = known
    return bool(known[1])


def remember_second_factor_need(
    sender: Any, request: HttpRequest, user: Any, **kwargs: Any
) -> None:
    """On sign-in (``user_logged_in``), note in the new session whether this staff member
    needs a second factor, so no request after it asks the database (or writes the
    session) to find out."""
    session = getattr(request, "session", None)
    if session is not None and getattr(user, "is_staff", False):
        session[NEEDED_SESSION_KEY] = (user.pk, staff_security.needs_second_factor(user))


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return (
        target if target.startswith("/") and not target.startswith("//") else reverse("admin:index")
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@never_cache
@sensitive_post_parameters("code")
def verify(request: HttpRequest, site: Any) -> HttpResponse:
    """Step two of signing in: a code from the app, or a recovery code (once each)."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect(reverse("admin:login"))
    if not user_has_device(request.user, confirmed=True):
        query = urlencode({"next": _next(request)})
        return HttpResponseRedirect(f"{reverse('admin:second_factor_setup')}?{query}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip().replace(" ", "")
        device = match_token(request.user, code)
        if device is not None:
            otp_login(request, device)
            if isinstance(device, RecoveryCodes):
                staff_security.recovery_code_used(request.user, ip=_client_ip(request))
            return HttpResponseRedirect(_next(request))
        form.add_error("code", _("This code is not right, or was already used."))
    context = {
        **site.each_context(request),
        "title": _("Enter your sign-in code"),
        "form": form,
        "next": _next(request),
    }
    return render(request, "admin/second_factor_verify.html", context)


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


@never_cache
@sensitive_post_parameters("code")
def setup(request: HttpRequest, site: Any) -> HttpResponse:
    """Set up the authenticator app: scan the QR code (or type the key), confirm with a
    code; the recovery codes are shown once."""
    if not request.user.is_authenticated or not request.user.is_staff:
        return HttpResponseRedirect(reverse("admin:login"))
    if user_has_device(request.user, confirmed=True) and not is_verified(request):
        # Replacing a factor needs the current one first (or an owner's reset).
        return HttpResponseRedirect(reverse("admin:second_factor_verify"))
    device = staff_security.pending_totp(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip().replace(" ", "")
        codes = staff_security.second_factor_enrol(request.user, code, ip=_client_ip(request))
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            context = {
                **site.each_context(request),
                "title": _("Your recovery codes"),
                "codes": codes,
                "next": _next(request),
            }
            return render(request, "admin/second_factor_codes.html", context)
        form.add_error("code", _("This code is not right. Check the time on your phone."))
    secret = device.config_url.split("secret=")[1].split("&")[0]
    context = {
        **site.each_context(request),
        "title": _("Set up sign-in with an authenticator app"),
        "form": form,
        "qr": mark_safe(_qr_svg(device.config_url)),  # noqa: S308 - generated SVG, no input
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "next": _next(request),
    }
    return render(request, "admin/second_factor_setup.html", context)


def cancel(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("admin:login"))


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, but a session that stopped after the password (the
    second factor still owed) is no session at all."""

    def authenticate(self, request: Any) -> Any:
        result = super().authenticate(request)
        if result is not None and second_factor_missing(request._request):
            return None
        return result


class SessionScheme(OpenApiAuthenticationExtension):
    """The schema names our session authentication as drf-spectacular names DRF's."""

    target_class = "config.staff_auth.SessionAuthentication"
    name = "cookieAuth"
    priority = -1

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
