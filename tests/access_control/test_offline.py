"""``POST /api/v1/access/events``: decisions made offline, uploaded once and only once."""

from __future__ import annotations

import datetime as dt

import pytest

from access_control.models import AccessEvent, DeviceDirection
from tests.factories import MemberFactory

from .helpers import NOW, card, check, device_client
from .test_rules import visit_pack

pytestmark = pytest.mark.django_db
EVENTS = "/api/v1/access/events"


def offline(event_id, credential, minutes_ago, granted=True, **extra):
    return {
        "device_event_id": event_id,
        "credential": credential,
        "occurred_at": (NOW - dt.timedelta(minutes=minutes_ago)).isoformat(),
        "granted": granted,
        **extra,
    }


def upload(client, *events, status=200):
    response = client.post(EVENTS, {"events": list(events)}, format="json")
    assert response.status_code == status, response.content
    return response.json()


def test_an_upload_is_stored_once_however_often_it_is_sent(reader, active_member):
    card(active_member, "04A1B2C3")
    batch = [
        offline("e1", "04A1B2C3", 30),
        offline("e2", "04FFFFFF", 20, granted=False, reason="unknown_credential"),
    ]
    first = upload(reader, *batch)
    assert [r["status"] for r in first["results"]] == ["created", "created"]
    again = upload(reader, *batch, offline("e3", "04A1B2C3", 10))
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate", "created"]
    assert [r["event_id"] for r in again["results"][:2]] == [
        r["event_id"] for r in first["results"]
    ]
    events = AccessEvent.objects.order_by("occurred_at")
    assert events.count() == 3
    e1 = events.first()
    assert (e1.source, e1.member_id, e1.decision, e1.occurred_at) == (
        "offline",
        active_member.pk,
        "granted",
        NOW - dt.timedelta(minutes=30),
    )
    assert AccessEvent.objects.get(device_event_id="e2").reason == "unknown_credential"


def test_an_event_repeated_inside_one_batch_is_stored_once(reader, active_member):
    card(active_member, "04A1B2C3")
    result = upload(reader, offline("e1", "04A1B2C3", 5), offline("e1", "04A1B2C3", 5))
    assert [r["status"] for r in result["results"]] == ["created", "duplicate"]
    assert AccessEvent.objects.count() == 1


def test_offline_entries_take_one_pack_visit_per_day(reader, clock):
    member = MemberFactory()
    purchase = visit_pack(member, remaining=5)
    card(member, "04A1B2C3")
    yesterday = 24 * 60
    result = upload(
        reader,
        offline("a", "04A1B2C3", yesterday + 60),
        offline("b", "04A1B2C3", yesterday + 30),  # the same day: free
        offline("c", "04A1B2C3", 60),
        offline("d", "04A1B2C3", 30, granted=False),  # refused: costs nothing
    )
    assert [r["pack_visit"] for r in result["results"]] == [True, False, True, False]
    purchase.refresh_from_db()
    assert purchase.remaining == 3
    upload(reader, offline("a", "04A1B2C3", yesterday + 60))  # a retry changes nothing
    purchase.refresh_from_db()
    assert purchase.remaining == 3
    # The reader is online again: today's visit is already used.
    assert check(reader, "04A1B2C3")["reason"] == "granted_pack"
    purchase.refresh_from_db()
    assert purchase.remaining == 3


def test_an_online_visit_today_is_not_charged_again_by_an_upload(reader):
    member = MemberFactory()
    purchase = visit_pack(member, remaining=5)
    card(member, "04A1B2C3")
    check(reader, "04A1B2C3")
    result = upload(reader, offline("x", "04A1B2C3", 1))
    assert result["results"][0]["pack_visit"] is False
    purchase.refresh_from_db()
    assert purchase.remaining == 4


def test_members_covered_by_their_membership_use_no_pack_visits(reader, active_member):
    purchase = visit_pack(active_member, remaining=5)
    card(active_member, "04A1B2C3")
    upload(reader, offline("m", "04A1B2C3", 15))
    purchase.refresh_from_db()
    assert purchase.remaining == 5


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"credential": 1234}, "credential"),
        ({"granted": "yes"}, "granted"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": (NOW + dt.timedelta(hours=1)).isoformat()}, "occurred_at"),
        ({"occurred_at": (NOW - dt.timedelta(days=90)).isoformat()}, "occurred_at"),
        ({"device_event_id": "x" * 65}, "device_event_id"),
        ({"direction": "out"}, "direction"),  # an entry-only reader
        ({"reason": "granted", "granted": False}, "reason"),
        ({"reason": "made_up"}, "reason"),
    ],
)
def test_one_bad_event_refuses_the_whole_batch_and_names_it(reader, bad, field):
    good = offline("ok", "04A1B2C3", 5)
    response = reader.post(
        EVENTS, {"events": [good, {**offline("bad", "04A1B2C3", 4), **bad}]}, format="json"
    )
    assert response.status_code == 400
    assert f"events.1.{field}" in response.json()["fields"]
    assert AccessEvent.objects.count() == 0


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2027-02-03T09:55:00",  # Bangkok's wall clock, or UTC? It cannot say.
        "2027-02-03T02:55:00.123456",
        "2027-02-03 02:55",
    ],
)
def test_a_time_without_its_utc_offset_is_refused_and_stores_nothing(reader, occurred_at):
    bad = {**offline("naive", "04A1B2C3", 5), "occurred_at": occurred_at}
    response = reader.post(EVENTS, {"events": [offline("ok", "04A1B2C3", 6), bad]}, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "invalid"
    assert payload["fields"] == {
        "events.1.occurred_at": [
            "Send the time with its UTC offset, for example 2027-02-03T10:00:00+07:00: "
            "a time without one is ambiguous."
        ]
    }
    assert AccessEvent.objects.count() == 0


def test_the_missing_offset_is_explained_in_thai_too(reader):
    bad = {**offline("naive", "04A1B2C3", 5), "occurred_at": "2027-02-03T09:55:00"}
    response = reader.post(EVENTS, {"events": [bad]}, format="json", HTTP_ACCEPT_LANGUAGE="th")
    assert response.status_code == 400
    (message,) = response.json()["fields"]["events.0.occurred_at"]
    assert message.startswith("กรุณาส่งเวลาพร้อมส่วนต่างเวลาจาก UTC")


@pytest.mark.parametrize("occurred_at", ["2027-02-03T02:55:00Z", "2027-02-03T09:55:00+07:00"])
def test_a_time_with_its_offset_is_stored_as_that_instant(reader, occurred_at):
    upload(reader, {**offline("aware", "04A1B2C3", 0), "occurred_at": occurred_at})
    assert AccessEvent.objects.get().occurred_at == NOW - dt.timedelta(minutes=5)


@pytest.mark.parametrize("body", [{}, {"events": []}, {"events": "x"}, [], {"events": [1]}])
def test_malformed_batches_are_refused(reader, body):
    response = reader.post(EVENTS, body, format="json")
    assert response.status_code == 400
    assert AccessEvent.objects.count() == 0


def test_a_two_way_device_uploads_exits(zone, make_device, active_member):
    kiosk = device_client(make_device(zone, "kiosk", direction=DeviceDirection.BOTH)[1])
    card(active_member, "04A1B2C3")
    upload(kiosk, offline("in", "04A1B2C3", 60), offline("out", "04A1B2C3", 5, direction="out"))
    directions = AccessEvent.objects.order_by("occurred_at").values_list("direction", flat=True)
    assert list(directions) == ["in", "out"]
