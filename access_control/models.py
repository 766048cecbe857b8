"""Doors, devices, credentials and the log of every access attempt.

Invariants live here as constraints; every workflow lives in ``access_control.services``.
Locations and zones live in ``billing.places`` (classes and POS use them too); they are
importable from here as well, as the gate's code always named them.  Device API keys
are stored only as a SHA-256 hash.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.places import (  # noqa: F401  (re-exported: see the docstring)
    AntiPassback,
    Location,
    Zone,
    default_time_zone,
    validate_time_zone,
)
from config.dates import format_datetime

from .reasons import reason_message


class Door(models.Model):
    """A physical opening into a zone; devices may be mounted at one."""

    zone = models.ForeignKey(
        Zone, on_delete=models.PROTECT, related_name="doors", verbose_name=_("zone")
    )
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        verbose_name = _("door")
        verbose_name_plural = _("doors")
        constraints = [models.UniqueConstraint(fields=["zone", "name"], name="door_name_per_zone")]

    def __str__(self) -> str:
        return self.name


class DeviceKind(models.TextChoices):
    READER = "reader", _("Reader")
    TURNSTILE = "turnstile", _("Turnstile")
    DOOR = "door", _("Door controller")
    KIOSK = "kiosk", _("Kiosk")


class DeviceDirection(models.TextChoices):
    IN = "in", _("In")
    OUT = "out", _("Out")
    BOTH = "both", _("Both")


class Direction(models.TextChoices):
    IN = "in", _("In")
    OUT = "out", _("Out")


class CredentialFormat(models.TextChoices):
    """How a device's reader writes RFID numbers (see ``access_control.credentials``)."""

    AUTO = "auto", _("Recognise automatically")
    HEX = "hex", _("UID in hexadecimal")
    WIEGAND26 = "wiegand26", _("Wiegand-26 (facility:card or decimal)")
    WIEGAND34 = "wiegand34", _("Wiegand-34 decimal")


class Device(models.Model):
    """A reader, turnstile, door controller or kiosk, with its own revocable API key.

    Only ``key_hash`` (SHA-256 of the key) and the key's public ``key_prefix`` are kept;
    the key itself is shown once, when it is created or rotated.
    """

    name = models.CharField(_("name"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=DeviceKind.choices)
    direction = models.CharField(
        _("direction"), max_length=4, choices=DeviceDirection.choices, default=DeviceDirection.IN
    )
    zone = models.ForeignKey(
        Zone, on_delete=models.PROTECT, related_name="devices", verbose_name=_("zone")
    )
    door = models.ForeignKey(
        Door,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="devices",
        verbose_name=_("door"),
    )
    credential_format = models.CharField(
        _("reader output"),
        max_length=10,
        choices=CredentialFormat.choices,
        default=CredentialFormat.AUTO,
    )
    key_prefix = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("key hash")
    )
    key_created_at = models.DateTimeField(_("key created"), editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("added"))

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["zone__name", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.door_id and self.zone_id and self.door and self.door.zone_id != self.zone_id:
            raise ValidationError({"door": _("The door must belong to the device's zone.")})


class CredentialKind(models.TextChoices):
    RFID = "rfid", _("RFID card or fob")
    BARCODE = "barcode", _("Barcode")
    QR = "qr", _("Member QR pass")


class CredentialStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    LOST = "lost", _("Lost")
    REVOKED = "revoked", _("Revoked")


class Credential(models.Model):
    """Something a member presents at a reader.  ``value`` is normalised (see
    ``access_control.credentials``); a QR pass's value is its public id, and the code the
    member shows is derived from it and the time."""

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="credentials",
        verbose_name=_("member"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=CredentialKind.choices)
    value = models.CharField(_("value"), max_length=64)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=CredentialStatus.choices,
        default=CredentialStatus.ACTIVE,
    )
    label = models.CharField(_("label"), max_length=80, blank=True)
    issued_at = models.DateTimeField(_("issued"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"],
                condition=Q(status="active"),
                name="credential_active_value_unique",
                violation_error_message=_("Another member's active credential has this value."),
            ),
            models.CheckConstraint(
                condition=Q(status="active", revoked_at__isnull=True)
                | (~Q(status="active") & Q(revoked_at__isnull=False)),
                name="credential_revoked_at_matches_status",
            ),
        ]
        indexes = [models.Index(fields=["value"], name="credential_value")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class Decision(models.TextChoices):
    GRANTED = "granted", _("Granted")
    DENIED = "denied", _("Denied")


class EventSource(models.TextChoices):
    ONLINE = "online", _("Device, online")
    OFFLINE = "offline", _("Device, offline (uploaded later)")
    MANUAL = "manual", _("Manual check-in")
    OVERRIDE = "override", _("Staff override")


class AccessEvent(models.Model):
    """One access attempt and its decision: every attempt is logged, granted or not.

    ``pack_purchase``/``pack_day`` mark the event that used a pack's visit for a local
    date; the unique constraint makes that happen once per pack and day, however many
    devices, retries and uploads report entries.
    """

    device = models.ForeignKey(
        Device,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("device"),
    )
    zone = models.ForeignKey(
        Zone, on_delete=models.PROTECT, related_name="events", verbose_name=_("zone")
    )
    credential = models.ForeignKey(
        Credential,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("credential"),
    )
    presented = models.CharField(_("presented"), max_length=128, blank=True)
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="access_events",
        verbose_name=_("member"),
    )
    decision = models.CharField(_("decision"), max_length=8, choices=Decision.choices)
    reason = models.CharField(_("reason"), max_length=32)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    occurred_at = models.DateTimeField(_("time"))
    recorded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("recorded"))
    device_event_id = models.CharField(_("device event id"), max_length=64, null=True, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=EventSource.choices)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff"),
    )
    override_reason = models.CharField(_("override reason"), max_length=300, blank=True)
    overrides = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="overridden_by",
        verbose_name=_("overrides"),
    )
    pack_purchase = models.ForeignKey(
        "billing.PackPurchase",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("pack visit used"),
    )
    pack_day = models.DateField(null=True, blank=True, verbose_name=_("pack day used"))

    class Meta:
        verbose_name = _("access event")
        verbose_name_plural = _("access events")
        ordering = ["-occurred_at", "-pk"]
        permissions = [("override_access", "Can let a denied member in, with a reason")]
        constraints = [
            # NULL ids never collide, so events without one are unconstrained.
            models.UniqueConstraint(
                fields=["device", "device_event_id"], name="access_event_device_event_once"
            ),
            models.UniqueConstraint(
                fields=["pack_purchase", "pack_day"],
                condition=Q(pack_day__isnull=False),
                name="access_event_pack_visit_once_a_day",
            ),
            models.CheckConstraint(
                condition=Q(pack_day__isnull=True) | Q(pack_purchase__isnull=False),
                name="access_event_pack_day_has_pack",
            ),
            models.CheckConstraint(
                condition=~Q(source="override") | ~Q(override_reason=""),
                name="access_event_override_has_reason",
            ),
        ]
        indexes = [
            # The live feed, overall and per zone.
            models.Index(fields=["-occurred_at"], name="access_event_feed"),
            models.Index(fields=["zone", "-occurred_at"], name="access_event_zone_feed"),
            # Anti-passback and occupancy: a member's latest pass in a zone.
            models.Index(
                fields=["member", "zone", "-occurred_at"],
                condition=Q(decision="granted"),
                name="access_event_member_passes",
            ),
            models.Index(
                fields=["zone", "occurred_at"],
                condition=Q(decision="granted", direction="in"),
                name="access_event_zone_entries",
            ),
            # Pack visits: today's for a member, and new ones for the allowlist delta.
            models.Index(
                fields=["member", "pack_day"],
                condition=Q(pack_day__isnull=False),
                name="access_event_member_pack_day",
            ),
            models.Index(
                fields=["id"],
                condition=Q(pack_day__isnull=False),
                name="access_event_pack_visits",
            ),
        ]

    def __str__(self) -> str:
        # Admin titles and links show it: in the active time zone and language.
        why = reason_message(self.reason, None)
        return f"{format_datetime(self.occurred_at)} {self.get_decision_display()}: {why}"

    @property
    def granted(self) -> bool:
        return self.decision == Decision.GRANTED


class ZonePresence(models.Model):
    """A member's latest granted pass in a zone: who is inside, and the last pass that
    anti-passback compares with.

    Derived from the access events and kept with them (``access_control.presence``):
    every granted event with a member updates its row unless the row already holds a
    later pass (an offline upload can arrive after newer passes).  Reading it costs the
    same however many passes the zone has seen today, where counting the day's events
    grew with the traffic.  ``event_id`` orders passes made in the same instant.
    """

    zone = models.ForeignKey(
        Zone, on_delete=models.CASCADE, related_name="+", verbose_name=_("zone")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    at = models.DateTimeField(_("time"))
    event_id = models.BigIntegerField(verbose_name=_("event ID"))

    class Meta:
        verbose_name = _("zone presence")
        verbose_name_plural = _("zone presences")
        constraints = [
            models.UniqueConstraint(fields=["zone", "member"], name="zone_presence_once"),
        ]
        indexes = [
            # Occupancy: the members whose last pass into the zone is a recent entry.
            models.Index(
                fields=["zone", "at"], condition=Q(direction="in"), name="zone_presence_inside"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.direction} {self.zone_id} {self.at:%Y-%m-%d %H:%M}"


class AllowlistListing(models.Model):
    """A credential once sent to a zone's devices in their allowlist.

    Written when an allowlist page lists it (``access_control.allowlist``), and only
    ever read to bound the removals a delta names: a device is told to drop only what
    its zone's devices could have been sent, never another zone's credentials.  Rows stay
    (a device may hold the credential until a removal reaches it); they go with the
    credential or the zone.
    """

    zone = models.ForeignKey(
        Zone, on_delete=models.CASCADE, related_name="+", verbose_name=_("zone")
    )
    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="+", verbose_name=_("credential")
    )

    class Meta:
        verbose_name = _("allowlist entry")
        verbose_name_plural = _("allowlist entries")
        constraints = [
            models.UniqueConstraint(fields=["zone", "credential"], name="allowlist_listing_once"),
        ]

    def __str__(self) -> str:
        return f"{self.credential_id} in {self.zone_id}"
