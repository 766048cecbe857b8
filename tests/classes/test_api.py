"""API v1: sessions with availability; book, cancel, waitlist, accept an offer; rosters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from classes.models import Booking
from classes.services import booking as svc
from config import clock

pytestmark = pytest.mark.django_db


def test_sessions_by_date_range_type_and_location_with_availability(
    api_as, make_member, make_session, make_type
):
    spin = make_type("spin")
    yoga_session = make_session(hours=24, capacity=2)
    make_session(hours=30, class_type=spin)
    make_session(hours=24 * 20)  # outside the default week
    svc.book(make_member(), yoga_session.pk)
    client = api_as("Front desk")
    body = client.get("/api/v1/classes/sessions/").json()
    assert body["count"] == 2
    first = body["results"][0]
    assert (first["class_type"], first["booked_count"], first["places_left"]) == ("yoga", 1, 1)
    only_spin = client.get("/api/v1/classes/sessions/", {"class_type": "spin"}).json()
    assert [row["class_type"] for row in only_spin["results"]] == ["spin"]
    later = (clock.today() + dt.timedelta(days=20)).isoformat()
    ranged = client.get("/api/v1/classes/sessions/", {"start": later, "end": later}).json()
    assert ranged["count"] == 1
    location = yoga_session.room.location_id
    assert client.get("/api/v1/classes/sessions/", {"location": location}).json()["count"] == 2


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2027-06-10", "end": "2027-06-01"},
        {"start": "2027-01-01", "end": "2027-12-31"},
        {"start": "not-a-date"},
        {"location": "-1"},
        {"start": "1900-01-01"},
    ],
)
def test_bad_ranges_are_a_clear_400(api_as, params):
    response = api_as("Front desk").get("/api/v1/classes/sessions/", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_book_waitlist_cancel_and_refusals(api_as, make_member, make_session):
    session = make_session(capacity=1)
    client = api_as("Front desk")
    first, second = make_member(), make_member()
    booked = client.post(
        "/api/v1/classes/bookings/", {"session": session.pk, "member": first.pk}, format="json"
    )
    assert booked.status_code == 201
    assert booked.json()["status"] == "booked"
    again = client.post(
        "/api/v1/classes/bookings/", {"session": session.pk, "member": first.pk}, format="json"
    )
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["reason"]) == ("booking_refused", "already_booked")
    waiting = client.post(
        "/api/v1/classes/bookings/", {"session": session.pk, "member": second.pk}, format="json"
    )
    assert waiting.json()["status"] == "waitlisted"
    cancelled = client.post(f"/api/v1/classes/bookings/{booked.json()['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert Booking.objects.get(pk=waiting.json()["id"]).status == "booked"  # promoted
    left = client.post(f"/api/v1/classes/bookings/{waiting.json()['id']}/cancel/")
    assert left.status_code == 200


def test_refusals_read_in_thai(api_as, make_member, make_session):
    client = api_as("Front desk")
    response = client.post(
        "/api/v1/classes/bookings/",
        {"session": make_session().pk, "member": make_member(status="frozen").pk},
        format="json",
        HTTP_ACCEPT_LANGUAGE="th",
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "membership_frozen"
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in response.json()["message"])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"session": "x", "member": 1},
        {"session": 999999, "member": 999999},
        {"session": 1, "member": 1, "spot": 0},
        {"session": 1, "member": 1, "reason": "bad\x00reason"},
    ],
)
def test_hostile_booking_input_is_a_400(api_as, body):
    response = api_as("Front desk").post("/api/v1/classes/bookings/", body, format="json")
    assert response.status_code == 400


def test_accept_an_offer_after_the_cutoff(api_as, make_member, make_session):
    session = make_session(hours=1, capacity=1)
    holder = svc.book(make_member(), session.pk)
    waiting = svc.book(make_member(), session.pk)
    svc.cancel(holder.pk)
    client = api_as("Front desk")
    accepted = client.post(f"/api/v1/classes/bookings/{waiting.pk}/accept-offer/")
    assert (accepted.status_code, accepted.json()["status"]) == (200, "booked")
    again = client.post(f"/api/v1/classes/bookings/{waiting.pk}/accept-offer/")
    assert (again.status_code, again.json()["reason"]) == (409, "no_offer")


def test_rosters_and_attendance_are_for_staff_only(api_as, make_member, make_session):
    session = make_session(hours=0.5)
    booking = svc.book(make_member(), session.pk)
    desk = api_as("Front desk")
    roster = desk.get(f"/api/v1/classes/sessions/{session.pk}/roster/").json()
    assert [row["id"] for row in roster] == [booking.pk]
    marked = desk.post(
        f"/api/v1/classes/sessions/{session.pk}/attendance/", {"booking": booking.pk}, format="json"
    )
    assert marked.json()["status"] == "attended"
    assert APIClient().get(f"/api/v1/classes/sessions/{session.pk}/roster/").status_code == 401
    member_user = get_user_model().objects.create_user("a-member", password="pw-for-tests-only")
    as_member = APIClient()
    as_member.force_authenticate(member_user)
    assert as_member.get("/api/v1/classes/sessions/").status_code == 403
    assert as_member.post("/api/v1/classes/bookings/", {"session": session.pk}).status_code == 403


def test_the_schema_names_every_classes_endpoint(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = set(schema["paths"])
    for path in (
        "/api/v1/classes/sessions/",
        "/api/v1/classes/sessions/{id}/roster/",
        "/api/v1/classes/sessions/{id}/attendance/",
        "/api/v1/classes/bookings/",
        "/api/v1/classes/bookings/{id}/cancel/",
        "/api/v1/classes/bookings/{id}/accept-offer/",
    ):
        assert path in paths, path
