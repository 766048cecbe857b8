"""Staff authentication for the API.

HTTP Basic with a staff password is for development and tests only: production turns it
off (``API_BASIC_AUTH``).  Whatever arrives in the header, the answer is 401, never a 500:
a user name or password with control characters (a NUL byte, which PostgreSQL cannot
even compare) is refused before the database is asked.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from config.inputs import text_problem
from members import api_keys
from members.models import ApiKey


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


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>``: an integration's scoped key (``members.api_keys``).

    ``request.user`` is the key's own staff account, holding exactly its scopes;
    ``request.auth`` is the ``ApiKey``.  Unknown, expired or revoked: 401 with the code
    ``api_key_invalid``, ``api_key_expired`` or ``api_key_revoked``."""

    keyword = "api-key"

    def authenticate(self, request: Any) -> Any:
        header = authentication.get_authorization_header(request)
        scheme, _sep, key = header.partition(b" ")
        if scheme.lower() != self.keyword.encode():
            return None
        try:
            plain = key.decode("ascii").strip()
        except UnicodeDecodeError:
            plain = ""
        try:
            api_key = api_keys.api_key_authenticate(plain)
        except api_keys.ApiKeyRefused as refused:
            raise exceptions.AuthenticationFailed(refused.message, code=refused.reason) from None
        return api_key.user, api_key

    def authenticate_header(self, request: Any) -> str:
        return 'Api-Key realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "config.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        scopes = ", ".join(f"`{name}`" for name in api_keys.SCOPES)
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "An integration's key, made by an owner in the admin (API keys): "
                "`Authorization: Api-Key <key>`. A key holds only its scopes "
                f"({scopes}); anything else is 403. Unknown, expired or revoked keys are "
                "401 (`api_key_invalid`, `api_key_expired`, `api_key_revoked`); above the "
                "key's requests per minute, 429 `throttled` with `Retry-After`."
            ),
        }


class ApiKeyThrottle(throttling.BaseThrottle):
    """Each key's requests per minute, counted on Redis in fixed one-minute windows (one
    atomic increment a request); other callers are not counted here."""

    def allow_request(self, request: Any, view: Any) -> bool:
        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey):
            return True
        now = time.time()
        window = int(now // 60)
        counter = f"api-key-rate:{key.pk}:{window}"
        cache.add(counter, 0, timeout=120)
        try:
            count = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.add(counter, 1, timeout=120)
            count = 1
        self._wait = 60 - (now % 60)
        return count <= key.rate_per_minute

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
