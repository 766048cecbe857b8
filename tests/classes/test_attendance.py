"""Attendance: the roster, walk-ins, and a gate grant in the class's zone."""

from __future__ import annotations

import datetime as dt

import pytest

from access_control.models import DeviceDirection, DeviceKind
from access_control.services import device_create
from access_control.services.checks import access_check
from access_control.services.devices import device_authenticate
from billing.models import Zone
from classes.models import Booking
from classes.services import attendance
from classes.services import booking as svc
from config import clock
from config.clock import travel_to
from tests.access_control.helpers import card

pytestmark = pytest.mark.django_db


def test_a_gate_grant_in_the_rooms_zone_marks_the_booked_member_attended(
    make_member, make_session, room, django_capture_on_commit_callbacks
):
    studio = Zone.objects.create(
        location=room.location, code="studio-1", name="Studio 1", class_check_in=True
    )
    room.zone = studio
    room.save()
    _device, key = device_create(
        zone=studio, name="studio-door", kind=DeviceKind.TURNSTILE, direction=DeviceDirection.IN
    )
    member, other = make_member(), make_member()
    session = make_session(hours=2)
    later = make_session(hours=6)
    booking = svc.book(member, session.pk)
    later_booking = svc.book(member, later.pk)
    not_booked = svc.book(other, later.pk)
    card(member, "04A1B2C3")
    with travel_to(session.starts_at - dt.timedelta(minutes=10)):
        identity = device_authenticate(key)
        with django_capture_on_commit_callbacks(execute=True):
            result = access_check(identity, credential="04A1B2C3")
    assert result.granted
    booking.refresh_from_db()
    later_booking.refresh_from_db()
    not_booked.refresh_from_db()
    assert booking.status == "attended"
    assert later_booking.status == "booked"  # outside that class's check-in window
    assert not_booked.status == "booked"


def test_the_roster_ticks_and_walk_ins(make_member, make_session, make_staff):
    session = make_session(hours=0.5, capacity=2)
    booked = svc.book(make_member(), session.pk)
    desk = make_staff("Front desk")
    attendance.mark_attended(booked.pk, actor=desk)
    walk_in = attendance.walk_in(make_member(), session.pk, actor=desk)
    assert (walk_in.status, walk_in.source) == ("attended", "walk_in")
    roster = attendance.roster(session)
    assert {b.pk for b in roster} == {booked.pk, walk_in.pk}
    assert {b.status for b in roster} == {"attended"}
    assert clock.now() < session.starts_at
    assert Booking.objects.get(pk=booked.pk).attended_at is not None
