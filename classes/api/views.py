"""Classes endpoints (staff and integrations).  Each write calls one classes service.

- ``GET sessions/``: sessions by local date range, class type and location, with
  availability (places left, waitlist length);
- ``GET sessions/{id}/roster/`` and ``POST sessions/{id}/attendance/``: for staff;
- ``POST bookings/``: book a member (or put them on the waitlist when full);
- ``POST bookings/{id}/cancel/``: cancel a booking or leave the waitlist;
- ``POST bookings/{id}/accept-offer/``: take a place offered after the cutoff.

Refusals are domain errors: 409 with a stable ``code`` (``booking_refused``,
``booking_not_changed``) and ``reason``, and the message in the caller's language.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from billing.api.serializers import ErrorSerializer
from config import clock

from ..models import Booking, ClassSession
from ..services import attendance
from ..services import booking as booking_services
from . import serializers as s

REFUSED = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input."),
    409: OpenApiResponse(ErrorSerializer, description="Refused by a booking rule."),
}


@extend_schema_view(
    list=extend_schema(
        summary="Sessions by date range, type and location, with availability",
        parameters=[s.SessionQuerySerializer],
    )
)
class SessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.SessionSerializer
    queryset = ClassSession.objects.all()
    filter_backends: list[Any] = []
    required_permission: str | None = None

    def get_queryset(self) -> QuerySet[ClassSession]:
        queryset = ClassSession.objects.select_related(
            "class_type", "room__location", "instructor"
        ).annotate(waitlisted=Count("bookings", filter=Q(bookings__status="waitlisted")))
        if self.action != "list":
            return queryset.order_by("starts_at", "pk")
        query = s.SessionQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        start = query.validated_data.get("start") or clock.today()
        end = query.validated_data.get("end") or start + dt.timedelta(days=6)
        queryset = queryset.filter(
            starts_at__gte=clock.local_midnight(start),
            starts_at__lt=clock.local_midnight(end + dt.timedelta(days=1)),
        )
        if "class_type" in query.validated_data:
            queryset = queryset.filter(class_type__code=query.validated_data["class_type"])
        if "location" in query.validated_data:
            queryset = queryset.filter(room__location_id=query.validated_data["location"])
        return queryset.order_by("starts_at", "pk")

    def get_permissions(self) -> Any:
        self.required_permission = {
            "roster": "classes.view_booking",
            "attendance": "classes.change_booking",
        }.get(self.action or "")
        return super().get_permissions()

    @extend_schema(
        summary="The session's roster (staff)", responses={200: s.BookingSerializer(many=True)}
    )
    @action(detail=True, methods=["get"])
    def roster(self, request: Request, pk: str | None = None) -> Response:
        session = self.get_object()
        return Response(s.BookingSerializer(attendance.roster(session), many=True).data)

    @extend_schema(
        summary="Mark a booked member attended, or undo it (staff)",
        request=s.AttendanceSerializer,
        responses={200: s.BookingSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def attendance(self, request: Request, pk: str | None = None) -> Response:
        session = self.get_object()
        body = s.AttendanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        booking = Booking.objects.filter(pk=body.validated_data["booking"], session=session).first()
        if booking is None:
            return Response(
                {"code": "not_found", "message": "No such booking in this session."},
                status=status.HTTP_404_NOT_FOUND,
            )
        done = attendance.mark_attended(
            booking.pk, actor=request.user, attended=body.validated_data["attended"]
        )
        return Response(s.BookingSerializer(done).data)


@extend_schema_view(
    create=extend_schema(
        summary="Book a member, or join the waitlist when the class is full",
        request=s.BookRequestSerializer,
        responses={201: s.BookingSerializer, **REFUSED},
    )
)
class BookingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.BookingSerializer
    queryset = Booking.objects.select_related("member").order_by("-pk")
    filterset_fields = ["session", "member", "status"]
    required_permission: str | None = None

    def get_permissions(self) -> Any:
        self.required_permission = {
            "cancel": "classes.change_booking",
            "accept_offer": "classes.change_booking",
        }.get(self.action or "")
        return super().get_permissions()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.BookRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        made = booking_services.book(
            data["member"],
            data["session"].pk,
            source="staff",
            actor=request.user,
            override=data["override_window"],
            override_reason=data.get("reason", ""),
            spot=data.get("spot"),
            waitlist=data["waitlist"],
            session=data["session"],
        )
        return Response(s.BookingSerializer(made).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a booking or leave the waitlist",
        request=None,
        responses={200: s.BookingSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        booking = self.get_object()
        done = booking_services.cancel(booking.pk, actor=request.user)
        return Response(s.BookingSerializer(done).data)

    @extend_schema(
        summary="Take a place offered from the waitlist",
        request=None,
        responses={200: s.BookingSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"], url_path="accept-offer")
    def accept_offer(self, request: Request, pk: str | None = None) -> Response:
        booking = self.get_object()
        done = booking_services.accept_offer(booking.pk)
        return Response(s.BookingSerializer(done).data)
