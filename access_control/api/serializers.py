"""Access API shapes: validated inputs for the services, and the documented outputs.

Inputs are strict: strings must be JSON strings (``12345`` is not a credential), flags
must be JSON booleans, and control characters are refused, so nothing a device sends by
mistake is stored or reaches the database as something else.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config import clock

from ..models import DeviceDirection, Direction
from ..reasons import GRANTING, Reason, WarningCode

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DIRECTIONS = [str(d.value) for d in Direction]
REASONS = [r.value for r in Reason]


class StrictCharField(serializers.CharField):
    """A JSON string only, without control characters."""

    default_error_messages = {
        "invalid": _("Send a string."),
        "control": _("Control characters are not allowed."),
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if _CONTROL.search(data):
            self.fail("control")
        return str(super().to_internal_value(data))


def _choice(values: list[str], **kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=[(value, value) for value in values], **kwargs)


@extend_schema_field(
    {"type": "string", "description": "One of the `reason` codes of a check's response."}
)
class ReasonInputField(serializers.ChoiceField):
    """A reason code sent by a device.  Documented as a string: the schema's one enum of
    reason codes belongs to the check response (two would collide with other apps')."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(value, value) for value in REASONS], **kwargs)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": _("Send true or false.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time with its UTC offset (``Z`` or ``+07:00``).

    A device's wall-clock time without an offset is ambiguous (it would be read as UTC,
    seven hours off in Bangkok, and could move a visit to another day), so it is refused.
    """

    default_error_messages = {
        "naive": _(
            "Send the time with its UTC offset, for example 2027-02-03T10:00:00+07:00: "
            "a time without one is ambiguous."
        ),
    }

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


# --- Check ----------------------------------------------------------------------------


class CheckRequestSerializer(serializers.Serializer):
    credential = StrictCharField(
        max_length=128, help_text="What the reader read: a card number, barcode or QR text."
    )
    direction = _choice(
        DIRECTIONS,
        required=False,
        help_text="`in` or `out`, for two-way devices; a one-way device's own is used.",
    )
    device_event_id = StrictCharField(
        max_length=64,
        required=False,
        help_text="The device's id for this read: a retry with the same id returns the "
        "original decision and logs nothing new.",
    )


class MemberPayloadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    member_number = serializers.IntegerField()
    photo_url = serializers.CharField(allow_null=True)
    alerts = serializers.ListField(child=serializers.CharField())


class WarningSerializer(serializers.Serializer):
    code = _choice([code.value for code in WarningCode])
    message = serializers.CharField()


class CheckResponseSerializer(serializers.Serializer):
    granted = serializers.BooleanField()
    reason = _choice(REASONS)
    message = serializers.CharField(help_text="Short, in the member's language.")
    member = MemberPayloadSerializer(allow_null=True)
    warnings = WarningSerializer(many=True)
    event_id = serializers.IntegerField()


# --- Allowlist ------------------------------------------------------------------------


class WindowSerializer(serializers.Serializer):
    weekdays = serializers.CharField(help_text="ISO weekday digits: 1 Monday … 7 Sunday.")
    start = serializers.CharField(allow_null=True, help_text="HH:MM local; null: all day.")
    end = serializers.CharField(allow_null=True, help_text="HH:MM local, exclusive.")


class GrantSerializer(serializers.Serializer):
    # Declared fields leave the class body, so this does not shadow ``Field.source``.
    source = _choice(["membership", "pack"])  # type: ignore[assignment]
    windows = WindowSerializer(many=True, help_text="Empty: any time.")
    valid_from = serializers.DateField(help_text="First local date.")
    valid_until = serializers.DateField(allow_null=True, help_text="Last local date; null: open.")
    pack_id = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    remaining = serializers.IntegerField(required=False, help_text="Pack visits left.")
    used_today = serializers.BooleanField(
        required=False,
        help_text="The visit of the day this list was generated is already used "
        "(see `used_on`, which stays right after midnight).",
    )
    used_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Packs: the local day whose visit is already taken (entries are free "
        "that day only); null if none today.",
    )


class AllowlistEntrySerializer(serializers.Serializer):
    credential = serializers.CharField()
    kind = serializers.CharField()
    member_id = serializers.IntegerField()
    member_number = serializers.IntegerField()
    name = serializers.CharField()
    language = serializers.CharField(help_text="The member's language (`en`, `th`).")
    access = GrantSerializer(many=True)
    qr_key = serializers.CharField(
        required=False, help_text="QR passes: the hex HMAC key to check codes offline."
    )


class RemovedSerializer(serializers.Serializer):
    kind = serializers.CharField()
    credential = serializers.CharField()


class AllowlistZoneSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    time_zone = serializers.CharField()
    anti_passback = serializers.CharField()
    anti_passback_minutes = serializers.IntegerField()


class AllowlistDeviceSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    # A string, not an enum: the schema's one enum named "direction" is a pass's.
    direction = serializers.CharField(help_text="The way it reads: `in`, `out` or `both`.")


class AllowlistSerializer(serializers.Serializer):
    full = serializers.BooleanField(help_text="true: replace everything held for this zone.")
    zone = AllowlistZoneSerializer()
    device = AllowlistDeviceSerializer(help_text="The device asking: decide offline as it reads.")
    language = serializers.CharField(
        help_text="The gym's language, for offline messages to cards that are not listed."
    )
    generated_at = serializers.DateTimeField()
    next_cursor = serializers.CharField()
    credentials = AllowlistEntrySerializer(many=True)
    removed = RemovedSerializer(many=True)


# --- Offline events -------------------------------------------------------------------


class OfflineEventSerializer(serializers.Serializer):
    """One decision made offline.  ``context["device"]`` is the uploading device."""

    device_event_id = StrictCharField(max_length=64)
    credential = StrictCharField(max_length=128)
    occurred_at = AwareDateTimeField(
        help_text="When it happened: ISO 8601 with its UTC offset (`Z` or `+07:00`); a time "
        "without one is refused."
    )
    granted = StrictBooleanField()
    direction = _choice(DIRECTIONS, required=False)
    reason = ReasonInputField(required=False)

    def validate_occurred_at(self, value: dt.datetime) -> dt.datetime:
        now = clock.now()
        if value > now + dt.timedelta(seconds=int(settings.ACCESS_OFFLINE_MAX_CLOCK_SKEW_SECONDS)):
            raise serializers.ValidationError(_("This is in the future: check the device clock."))
        if value < now - dt.timedelta(days=int(settings.ACCESS_OFFLINE_MAX_AGE_DAYS)):
            raise serializers.ValidationError(_("This is too old to upload."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        device = self.context["device"]
        direction = attrs.get("direction")
        if direction and device.direction not in (DeviceDirection.BOTH, direction):
            raise serializers.ValidationError(
                {"direction": [_("This device only reads its own direction.")]}
            )
        reason = attrs.get("reason")
        if reason and (reason in GRANTING) != attrs["granted"]:
            raise serializers.ValidationError(
                {"reason": [_("This reason does not match the decision.")]}
            )
        return attrs


class EventsUploadSerializer(serializers.Serializer):
    """For the schema; the view validates item by item to name each bad field."""

    events = OfflineEventSerializer(many=True)


class UploadResultSerializer(serializers.Serializer):
    device_event_id = serializers.CharField()
    status = _choice(["created", "duplicate"])
    event_id = serializers.IntegerField()
    pack_visit = serializers.BooleanField(help_text="This entry used a pack's visit.")


class EventsUploadResultSerializer(serializers.Serializer):
    results = UploadResultSerializer(many=True)


# --- Occupancy ------------------------------------------------------------------------


class ZoneOccupancySerializer(serializers.Serializer):
    zone = serializers.CharField(help_text="The zone's code.")
    name = serializers.CharField()
    location = serializers.CharField()
    capacity = serializers.IntegerField(allow_null=True)
    occupancy = serializers.IntegerField()


class OccupancySerializer(serializers.Serializer):
    as_of = serializers.DateTimeField()
    zones = ZoneOccupancySerializer(many=True)
