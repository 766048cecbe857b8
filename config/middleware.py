"""The project's own middleware."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from members import audit
from members.selectors import staff_language

from . import clock
from .inputs import text_problem


class GymTimeZoneMiddleware:
    """The admin and the member portal show and read times in the gym's time zone
    (``GYM_TIME_ZONE``).

    The database stays in UTC, and so does the API; the front desk and the members see
    and type the gym's wall-clock time, as its feed and lists already show it.
    """

    PORTAL = "/portal/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.admin = ""  # the admin's prefix, looked up once (every request passes here)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.admin:
            self.admin = reverse("admin:index")
        if not request.path_info.startswith((self.admin, self.PORTAL)):
            return self.get_response(request)
        with timezone.override(clock.gym_tz()):
            return self.get_response(request)


# Where a staff member's chosen language is kept for the session ("" = never chose).
STAFF_LANGUAGE_SESSION_KEY = "staff_language"


def remember_staff_language(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """On sign-in (``user_logged_in``), put a staff member's chosen language in their new
    session, so no request after it asks the database."""
    if getattr(user, "is_staff", False) and hasattr(request, "session"):
        request.session[STAFF_LANGUAGE_SESSION_KEY] = staff_language(user.pk)


class StaffLanguageMiddleware:
    """Staff work in the language they chose (``members.StaffSettings``), on any computer.

    Runs after authentication.  The choice is put in the session at sign-in
    (:func:`remember_staff_language`; a session from before that is read once here);
    until a staff member chooses, the browser's language (cookie or ``Accept-Language``,
    as ``LocaleMiddleware`` read it) stands.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            language = request.session.get(STAFF_LANGUAGE_SESSION_KEY)
            if language is None:
                language = staff_language(user.pk)
                request.session[STAFF_LANGUAGE_SESSION_KEY] = language
            if language and language != translation.get_language():
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)


class MemberPagesCSPMiddleware(CSPMiddleware):
    """django-csp's Content Security Policy, sent on the pages members open
    (``CSP_MEMBER_PAGE_PREFIXES``: the pay page, the sandbox bank).

    Their scripts and styles carry the request's nonce; nothing else runs.  The admin and
    the API docs keep Django's own headers (frame denial, no sniffing, HSTS, referrer).
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        prefixes = tuple(settings.CSP_MEMBER_PAGE_PREFIXES)
        if not request.path_info.startswith(prefixes):
            return response
        return super().process_response(request, response)


class ApiQueryMiddleware:
    """Under ``/api/``, a query string or path with control or invisible characters is a
    400 in the API's error shape before any view (or filter, or database) sees it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            fields: dict[str, list[str]] = {}
            if text_problem(request.path_info) is not None:
                fields["path"] = [str(text_problem(request.path_info).messages[0])]  # type: ignore[union-attr]
            for key, values in request.GET.lists():
                for value in [key, *values]:
                    problem = text_problem(value)
                    if problem is not None:
                        fields.setdefault(
                            key if text_problem(key) is None else "query",
                            [str(problem.messages[0])],
                        )
            if fields:
                body = {
                    "code": "invalid",
                    "message": str(_("Some fields are not valid.")),
                    "fields": fields,
                }
                return JsonResponse(body, status=400)
        return self.get_response(request)


class AuditContextMiddleware:
    """Each request's audit context (``members.audit``): who is acting (read when a record
    is written), the request id (the caller's ``X-Request-ID`` if it is a sane one, else a
    new one; echoed on the response) and the address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        sane = 0 < len(given) <= 64 and given.isascii() and given.replace("-", "").isalnum()
        with audit.serving(request, request_id=given if sane else "") as ctx:
            response = self.get_response(request)
        response["X-Request-ID"] = ctx.request_id
        return response
