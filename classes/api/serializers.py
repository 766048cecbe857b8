"""Classes' API shapes.  Inputs are bounded; outputs read money as money."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from billing.api.serializers import RefusingCardNumbers
from billing.money import format_amount
from config.api.fields import RowByKeyField
from config.inputs import clean_text
from members.models import Member

from ..models import Booking, ClassSession

MAX_RANGE_DAYS = 62


class SessionQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First local date (default today).")
    end = serializers.DateField(required=False, help_text="Last local date (default start + 6).")
    class_type = serializers.SlugField(required=False, max_length=40)
    location = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        for name, value in (("start", start), ("end", end)):
            if value is not None and not dt.date(2000, 1, 1) <= value <= dt.date(2100, 1, 1):
                raise serializers.ValidationError({name: "Out of range."})
        if start and end and (end < start or (end - start).days > MAX_RANGE_DAYS):
            raise serializers.ValidationError(
                {"end": f"Must be on or after start, at most {MAX_RANGE_DAYS} days later."}
            )
        return attrs


class SessionSerializer(serializers.ModelSerializer):
    class_type = serializers.CharField(source="class_type.code", read_only=True)
    class_name = serializers.SerializerMethodField()
    class_name_th = serializers.CharField(source="class_type.name_th", read_only=True)
    room = serializers.CharField(source="room.name", read_only=True)
    location = serializers.IntegerField(source="room.location_id", read_only=True)
    instructor = serializers.CharField(source="instructor.name", read_only=True, default=None)
    places_left = serializers.SerializerMethodField()
    waitlisted = serializers.IntegerField(read_only=True, default=0)
    drop_in_price = serializers.SerializerMethodField()

    class Meta:
        model = ClassSession
        fields = [
            "id",
            "class_type",
            "class_name",
            "class_name_th",
            "starts_at",
            "ends_at",
            "room",
            "location",
            "instructor",
            "status",
            "capacity",
            "booked_count",
            "places_left",
            "waitlisted",
            "drop_in_price",
        ]

    def get_class_name(self, obj: ClassSession) -> str:
        return obj.class_type.name

    def get_places_left(self, obj: ClassSession) -> int:
        return obj.places_left

    def get_drop_in_price(self, obj: ClassSession) -> str | None:
        kind = obj.class_type
        return format_amount(kind.drop_in_price, kind.currency) if kind.drop_in_price else None


class BookingSerializer(serializers.ModelSerializer):
    member_number = serializers.IntegerField(source="member.member_number", read_only=True)
    member_name = serializers.CharField(source="member.full_name", read_only=True)

    class Meta:
        model = Booking
        fields = [
            "id",
            "session",
            "member",
            "member_number",
            "member_name",
            "status",
            "source",
            "paid_by",
            "spot",
            "waitlist_position",
            "offer_expires_at",
            "booked_at",
            "cancelled_at",
            "attended_at",
        ]
        read_only_fields = fields


class BookRequestSerializer(RefusingCardNumbers):
    # Read once, with what the booking rules need (the service does not read it again),
    # each in one prepared statement (a booking's hot path).
    session = RowByKeyField(model=ClassSession, related=("class_type", "room__location"))
    member = RowByKeyField(model=Member)
    spot = serializers.IntegerField(required=False, min_value=1, max_value=500)
    waitlist = serializers.BooleanField(
        default=True, help_text="Join the waitlist when the class is full (else refuse: full)."
    )
    override_window = serializers.BooleanField(default=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)

    def validate_reason(self, value: str) -> str:
        return clean_text(value)


class AttendanceSerializer(serializers.Serializer):
    booking = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    attended = serializers.BooleanField(default=True)
