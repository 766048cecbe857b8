"""Locations, zones and doors: the site plan the gate reads.

These are configuration, edited as records.  Every save or delete invalidates the
devices cached by the access API (see ``access_control.apps``), so a change of a zone's
capacity or anti-passback applies at the next check.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..models import Door, Location, Zone


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone")
    search_fields = ("name",)


class DoorInline(admin.TabularInline):
    model = Door
    extra = 0


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "location",
        "capacity",
        "anti_passback",
        "anti_passback_minutes",
        "device_count",
    )
    list_filter = ("location", "anti_passback")
    search_fields = ("name", "code")
    list_select_related = ("location",)
    inlines = (DoorInline,)
    fields = (
        ("location", "code", "name"),
        "capacity",
        ("anti_passback", "anti_passback_minutes"),
        "class_check_in",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Zone]:
        return super().get_queryset(request).annotate(devices_n=Count("devices"))

    @admin.display(description=_("devices"), ordering="devices_n")
    def device_count(self, obj: Zone) -> int:
        return int(getattr(obj, "devices_n", 0))
