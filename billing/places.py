"""Places: the gym's locations and the zones inside them.

Several apps need them (access control puts doors and readers in zones, classes puts
rooms in locations, POS puts stations there), and sibling apps never import each other,
so places live here, below them all.  A zone's ``code`` is also the name billing's plans
and packs grant it by (``PlanEntitlement.zone_code`` and ``Pack.zone_code``).

These models used to belong to ``access_control``; migration ``billing`` 0008 took
them over, renaming their tables in place, without copying a row.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


@cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _time_zone_names():
        raise ValidationError(
            _("Unknown time zone %(value)s; use an IANA name such as Asia/Bangkok."),
            code="unknown_time_zone",
            params={"value": value},
        )


def default_time_zone() -> str:
    return str(settings.GYM_TIME_ZONE)


class Location(models.Model):
    """A gym site.  Plan time windows and class times are read in its time zone."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local(self, instant: dt.datetime) -> dt.datetime:
        """``instant`` on this location's wall clock."""
        return instant.astimezone(self.tz)


class AntiPassback(models.TextChoices):
    NONE = "none", _("Off")
    TIMED = "timed", _("Same direction twice within the set minutes")
    STRICT = "strict", _("Strict: no re-entry without an exit")


class Zone(models.Model):
    """An area behind readers: the gym floor, a studio, the pool."""

    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="zones", verbose_name=_("location")
    )
    code = models.SlugField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("The code plans and packs use for this zone, e.g. gym-floor."),
    )
    name = models.CharField(_("name"), max_length=120)
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    anti_passback = models.CharField(
        _("anti-passback"), max_length=8, choices=AntiPassback.choices, default=AntiPassback.NONE
    )
    anti_passback_minutes = models.PositiveSmallIntegerField(_("anti-passback minutes"), default=5)
    class_check_in = models.BooleanField(
        _("class check-in"),
        default=False,
        help_text=_("A grant here marks members booked into a class in this zone attended."),
    )

    class Meta:
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        ordering = ["location__name", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(anti_passback="timed") | Q(anti_passback_minutes__gte=1),
                name="zone_timed_passback_has_minutes",
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=1),
                name="zone_capacity_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name
