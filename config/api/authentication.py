"""Staff authentication for the API.

HTTP Basic with a staff password is for development and tests only: production turns it
off (``API_BASIC_AUTH``).  Whatever arrives in the header, the answer is 401, never a 500:
a user name or password with control characters (a NUL byte, which PostgreSQL cannot
even compare) is refused before the database is asked.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.inputs import text_problem


class LockedOut(exceptions.APIException):
    """Too many failed sign-ins for this account or from this address (django-axes)."""

    status_code = 429
    default_detail = _("Too many failed sign-ins. Try again later, or ask an owner to help.")
    default_code = "locked_out"


class BasicAuthentication(authentication.BasicAuthentication):
    def authenticate(self, request: Any) -> Any:
        if not settings.API_BASIC_AUTH:
            header = authentication.get_authorization_header(request).split()
            if header and header[0].lower() == b"basic":
                raise exceptions.AuthenticationFailed(
                    _("Password sign-in is off for the API: use an API key."),
                    code="basic_auth_disabled",
                )
            return None
        return super().authenticate(request)

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[Any, None]:
        if text_problem(userid) is not None or text_problem(password) is not None:
            raise exceptions.AuthenticationFailed(
                _("Invalid username/password."), code="authentication_failed"
            )
        # django-axes counts the failure and locks the account and the address: it reads
        # Django's own request (its middleware set the client's address on it).
        raw = getattr(request, "_request", request)
        try:
            return super().authenticate_credentials(userid, password, raw)
        finally:
            if getattr(raw, "axes_locked_out", False):
                raise LockedOut()


class BasicScheme(OpenApiAuthenticationExtension):
    """The schema names our Basic authentication as drf-spectacular names DRF's."""

    target_class = "config.api.authentication.BasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic"}
