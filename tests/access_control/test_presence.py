"""Who is inside: each member's latest granted pass per zone, kept with the events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from access_control.models import AccessEvent, DeviceDirection, ZonePresence
from access_control.presence import presence_rebuild
from access_control.selectors import zones_occupancy

from .helpers import NOW, card, check, device_client
from .test_offline import offline, upload

pytestmark = pytest.mark.django_db


def presence(member):
    return ZonePresence.objects.filter(member=member).values_list("direction", "at", "event_id")


def test_every_granted_pass_moves_the_members_row_and_a_denial_does_not(
    zone, make_device, active_member, clock
):
    entry = device_client(make_device(zone, "in")[1])
    exit_ = device_client(make_device(zone, "out", direction=DeviceDirection.OUT)[1])
    card(active_member, "04A1B2C3")
    first = check(entry, "04A1B2C3")
    assert list(presence(active_member)) == [("in", NOW, first["event_id"])]
    clock.move_to(NOW + dt.timedelta(minutes=40))
    out = check(exit_, "04A1B2C3")
    assert list(presence(active_member)) == [
        ("out", NOW + dt.timedelta(minutes=40), out["event_id"])
    ]
    check(entry, "04FFFFFF")  # unknown: denied, no member
    assert ZonePresence.objects.count() == 1


def test_an_offline_upload_never_moves_a_row_back_in_time(zone, make_device, active_member):
    exit_ = device_client(make_device(zone, "out", direction=DeviceDirection.OUT)[1])
    entry = device_client(make_device(zone, "in")[1])
    card(active_member, "04A1B2C3")
    left = check(exit_, "04A1B2C3")  # online, now
    # The entry reader was offline: its older entry arrives after the exit.
    upload(entry, offline("late-1", "04A1B2C3", 50))
    assert list(presence(active_member)) == [("out", NOW, left["event_id"])]
    assert [n for _, n in zones_occupancy(NOW)] == [0]


def test_an_offline_upload_of_newer_passes_moves_the_row_to_the_latest(
    zone, make_device, active_member
):
    entry = device_client(make_device(zone, "in")[1])
    card(active_member, "04A1B2C3")
    upload(entry, offline("a", "04A1B2C3", 50), offline("b", "04A1B2C3", 10))
    latest = AccessEvent.objects.get(device_event_id="b")
    assert list(presence(active_member)) == [("in", latest.occurred_at, latest.pk)]
    assert [n for _, n in zones_occupancy(NOW)] == [1]


def test_a_rebuild_from_the_events_gives_the_rows_the_passes_kept(
    zone, make_device, member_with, clock
):
    entry = device_client(make_device(zone, "in")[1])
    exit_ = device_client(make_device(zone, "out", direction=DeviceDirection.OUT)[1])
    members = [member_with().member for _ in range(3)]
    for n, member in enumerate(members):
        card(member, f"0400000{n}")
        check(entry, f"0400000{n}")
    clock.move_to(NOW + dt.timedelta(minutes=5))
    check(exit_, "04000001")
    kept = sorted(ZonePresence.objects.values_list("member_id", "direction", "at", "event_id"))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {ZonePresence._meta.db_table}")
    assert presence_rebuild() == 3
    rebuilt = sorted(ZonePresence.objects.values_list("member_id", "direction", "at", "event_id"))
    assert rebuilt == kept
    assert [d for _, d, _, _ in kept].count("in") == 2
