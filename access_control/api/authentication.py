"""``Authorization: Device <key>``: how readers and turnstiles prove who they are.

A missing header is ``401 device_key_missing``; a malformed, unknown or revoked key is
``401 device_key_invalid`` (the two cases are not told apart).  If the database cannot
be reached the answer is ``503 service_unavailable``, so the device falls back to its
allowlist.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from config.db import lost_before_use

from ..services.devices import DeviceIdentity, device_authenticate

KEYWORD = "device"
MAX_KEY_LENGTH = 200


class AccessUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = _("The access service is unavailable; decide from the allowlist.")
    default_code = "service_unavailable"


class DeviceKeyAuthentication(BaseAuthentication):
    """Authenticates a device by its API key; ``request.auth`` is its ``DeviceIdentity``."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, DeviceIdentity]:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            raise exceptions.NotAuthenticated(
                _("Send the device key: Authorization: Device <key>."),
                code="device_key_missing",
            )
        scheme, _sep, key = header.partition(" ")
        key = key.strip()
        invalid = exceptions.AuthenticationFailed(
            _("The device key is not valid."), code="device_key_invalid"
        )
        if scheme.lower() != KEYWORD or not key or len(key) > MAX_KEY_LENGTH:
            raise invalid
        try:
            identity = device_authenticate(key)
        except DatabaseError as exc:
            if lost_before_use(exc):
                raise  # the view opens a new connection and tries again
            raise AccessUnavailable() from exc
        if identity is None:
            raise invalid
        return AnonymousUser(), identity

    def authenticate_header(self, request: Request) -> str:
        return 'Device realm="access"'


class IsDevice(permissions.BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.auth, DeviceIdentity)


class DeviceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "access_control.api.authentication.DeviceKeyAuthentication"
    name = "DeviceKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "The device's API key: `Authorization: Device <key>`.",
        }
