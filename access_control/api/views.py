"""The access API: thin views over ``access_control.services``.

Device endpoints (``check``, ``allowlist``, ``events``) authenticate with the device's
key and accept JSON only.  Bad input is a 400 with field errors and nothing stored; a
database that cannot be reached is a 503, so devices fall back to their allowlist.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers import ErrorSerializer
from config import clock
from config.api.parsers import JSONParser
from config.db import checked_by_first_use, lost_before_use

from .. import allowlist, selectors, services
from ..services.checks import CheckResult
from ..services.devices import DeviceIdentity, device_seen
from . import serializers as s
from .authentication import AccessUnavailable, DeviceKeyAuthentication, IsDevice

DEVICE_ERRORS = {
    401: OpenApiResponse(
        ErrorSerializer, description="`device_key_missing` or `device_key_invalid`."
    ),
    503: OpenApiResponse(ErrorSerializer, description="Decide from the allowlist for now."),
}
BAD_INPUT = {400: OpenApiResponse(ErrorSerializer, description="Invalid input (field errors).")}


class DeviceView(APIView):
    authentication_classes = [DeviceKeyAuthentication]
    permission_classes = [IsDevice]
    parser_classes = [JSONParser]

    def device(self, request: Request) -> DeviceIdentity:
        identity = request.auth
        assert isinstance(identity, DeviceIdentity)
        return identity

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Handle the request; a kept connection is checked by its first statement.

        No ``SELECT 1`` before the check's own statements (see
        ``config.db.checked_by_first_use``): if the connection turns out dead, the
        request is handled again on a new one, so a database restart costs the reader
        nothing.  The body is read into memory first, so it can be parsed again.
        """
        handle = super().dispatch
        try:
            request.body  # noqa: B018  (kept for a second reading)
        except RequestDataTooBig:
            return handle(request, *args, **kwargs)
        return checked_by_first_use(lambda: handle(request, *args, **kwargs))

    def handle_exception(self, exc: Exception) -> Response:
        if lost_before_use(exc):
            raise exc  # handled again by ``dispatch``, on a new connection
        if isinstance(exc, DatabaseError):
            exc = AccessUnavailable()
        return super().handle_exception(exc)


def check_payload(result: CheckResult, request: Request) -> dict[str, Any]:
    member = result.member.as_payload() if result.member else None
    if member and member["photo_url"]:
        member["photo_url"] = request.build_absolute_uri(member["photo_url"])
    return {
        "granted": result.granted,
        "reason": result.reason,
        "message": result.message,
        "member": member,
        "warnings": [{"code": code, "message": text} for code, text in result.warnings],
        "event_id": result.event_id,
    }


class AccessCheckView(DeviceView):
    @extend_schema(
        summary="Decide whether a credential may pass",
        description="Every attempt is logged.  `reason` is a stable code: `granted`, "
        "`granted_pack`, or the denial's rule (see `access_control.engine`).",
        request=s.CheckRequestSerializer,
        responses={200: s.CheckResponseSerializer, **BAD_INPUT, **DEVICE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = s.CheckRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = services.access_check(
            self.device(request),
            credential=data["credential"],
            direction=data.get("direction"),
            device_event_id=data.get("device_event_id") or None,
        )
        return Response(check_payload(result, request))


class AllowlistView(DeviceView):
    @extend_schema(
        summary="The credentials that may enter this device's zone",
        description="Without a cursor, or with one that can no longer be continued, every "
        "entry (`full: true`).  With the previous `next_cursor`, only what changed since, "
        "removals included.",
        parameters=[OpenApiParameter("cursor", str, description="The last `next_cursor`.")],
        responses={200: s.AllowlistSerializer, **DEVICE_ERRORS},
    )
    def get(self, request: Request) -> Response:
        device = self.device(request)
        now = clock.now()
        device_seen(device, now)
        page = allowlist.allowlist_page(device.zone, request.query_params.get("cursor"), now)
        zone = device.zone
        return Response(
            {
                "full": page.full,
                "zone": {
                    "code": zone.code,
                    "name": zone.name,
                    "time_zone": zone.time_zone,
                    "anti_passback": zone.anti_passback,
                    "anti_passback_minutes": zone.anti_passback_minutes,
                },
                "device": {
                    "name": device.name,
                    "kind": device.kind,
                    "direction": device.direction,
                },
                "language": settings.LANGUAGE_CODE,
                "generated_at": page.generated_at,
                "next_cursor": page.next_cursor,
                "credentials": page.entries,
                "removed": page.removed,
            }
        )


class EventsUploadView(DeviceView):
    @extend_schema(
        summary="Upload decisions made offline",
        description="Idempotent per `device_event_id`.  The batch is validated as a whole "
        "first: one bad event refuses the batch (errors name `events.<index>.<field>`) "
        "and nothing is stored.",
        request=s.EventsUploadSerializer,
        responses={200: s.EventsUploadResultSerializer, **BAD_INPUT, **DEVICE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        device = self.device(request)
        events = self._validated(request.data, device)
        device_seen(device)
        results = services.access_events_upload(device, events)
        return Response(
            {
                "results": [
                    {
                        "device_event_id": r.device_event_id,
                        "status": r.status,
                        "event_id": r.event_id,
                        "pack_visit": r.pack_visit,
                    }
                    for r in results
                ]
            }
        )

    def _validated(self, data: Any, device: DeviceIdentity) -> list[services.OfflineEvent]:
        limit = int(settings.ACCESS_EVENTS_MAX_BATCH)
        items = data.get("events") if isinstance(data, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= limit:
            raise exceptions.ValidationError({"events": [f"Send a list of 1 to {limit} events."]})
        errors: dict[str, list[str]] = {}
        events = []
        for index, item in enumerate(items):
            one = s.OfflineEventSerializer(data=item, context={"device": device})
            if not one.is_valid():
                for field, messages in one.errors.items():
                    errors[f"events.{index}.{field}"] = [str(m) for m in messages]
                continue
            events.append(services.OfflineEvent(**one.validated_data))
        if errors:
            raise exceptions.ValidationError(errors)
        return events


class OccupancyView(APIView):
    """Staff only: how many members are in each zone now."""

    required_permission = "access_control.view_accessevent"

    @extend_schema(
        summary="Current occupancy per zone",
        description="Members whose last granted pass in the zone today is an entry, within "
        "`ACCESS_OCCUPANCY_MAX_STAY_MINUTES`.",
        responses={200: s.OccupancySerializer, 403: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        now = clock.now()
        zones = [
            {
                "zone": zone.code,
                "name": zone.name,
                "location": zone.location.name,
                "capacity": zone.capacity,
                "occupancy": count,
            }
            for zone, count in selectors.zones_occupancy(now)
        ]
        return Response(s.OccupancySerializer({"as_of": now, "zones": zones}).data)
