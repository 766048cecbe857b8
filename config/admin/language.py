"""The admin's language switch: English or ไทย, remembered for the staff member."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from config.middleware import STAFF_LANGUAGE_SESSION_KEY
from members.services import staff_language_set


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    """Work in the posted ``language`` from now on and go back to ``next``.

    A signed-in staff member's choice is stored with them (every computer they use
    follows it); the browser keeps it too, in Django's language cookie, so the sign-in
    page speaks it after they sign out.
    """
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest("Unknown language.", content_type="text/plain")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("admin:index")
    user = request.user
    if user.is_authenticated and user.is_staff:
        staff_language_set(user, language)
        request.session[STAFF_LANGUAGE_SESSION_KEY] = language
    translation.activate(language)
    response = HttpResponseRedirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
