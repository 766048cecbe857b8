"""Endpoints of the API itself, not of any app."""

from __future__ import annotations

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
