"""Endpoints of the API itself, not of any app."""

from __future__ import annotations

import functools
from pathlib import Path

import drf_spectacular_sidecar
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.defaults import page_not_found
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class PingView(APIView):
    """``GET /api/v1/ping``: the API answers.  No authentication, no database.

    The floor of the framework's own cost: the access benchmark compares the gate to it.
    """

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="The API answers",
        description="No authentication and no database: for probes and as a benchmark floor.",
        responses={200: inline_serializer("Ping", {"ok": serializers.BooleanField()})},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's 404: the error shape of the API under ``/api/``, the page elsewhere."""
    if request.path.startswith("/api/"):
        body = {"code": "not_found", "message": str(_("There is nothing at this address."))}
        return JsonResponse(body, status=404)
    return page_not_found(request, exception)


# Redoc's sidebar shows an "API docs by Redocly" badge whose logo comes from Redocly's CDN.
# The page must fetch nothing from outside (a desk may be offline; our policy refuses it),
# so our copy of the bundle names an empty image instead: the badge's own error handler
# then hides the logo.
REDOC_BUNDLE = (
    Path(drf_spectacular_sidecar.__file__).parent
    / "static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
)
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_bundle() -> bytes:
    return REDOC_BUNDLE.read_text(encoding="utf-8").replace(REDOCLY_LOGO, "data:,").encode()


@cache_control(public=True, max_age=86400)
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    """``/api/redoc/bundles/redoc.standalone.js``: the sidecar's Redoc, with nothing from
    outside."""
    return HttpResponse(_redoc_bundle(), content_type="text/javascript; charset=utf-8")
