"""``POST /api/v1/access/check``: device keys, bad input, retries, speed, and freshness."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from access_control.keys import key_hash
from access_control.models import AccessEvent, Device, DeviceDirection
from access_control.services import device_revoke, device_rotate_key
from billing.models import Invoice, InvoiceStatus, PackPurchase
from billing.services import memberships as ms
from billing.services.invoices import payment_record_manual
from tests.connections import health_checks_counted, request_starts, server_drops_connection
from tests.factories import MemberFactory

from .helpers import NOW, card, check, device_client
from .test_rules import past_due, visit_pack

pytestmark = pytest.mark.django_db
CHECK = "/api/v1/access/check"


# --- Device keys -----------------------------------------------------------------------


def test_missing_wrong_and_malformed_keys_get_401_with_a_stable_code(device_key):
    cases = [
        (APIClient(), "device_key_missing"),
        (device_client("not-a-key"), "device_key_invalid"),
        (device_client(device_key + "x"), "device_key_invalid"),
    ]
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {device_key}")
    cases.append((bearer, "device_key_invalid"))
    for client, code in cases:
        response = client.post(CHECK, {"credential": "04A1B2C3"}, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == code
        assert response["WWW-Authenticate"].startswith("Device")
    assert AccessEvent.objects.count() == 0


def test_device_keys_are_stored_only_as_a_hash(zone, make_device):
    device, key = make_device(zone, "hash-check")
    row = Device.objects.filter(pk=device.pk).values().get()
    assert key not in repr(row)
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(row["key_prefix"] + ".")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM access_control_device")
        assert key not in repr(cursor.fetchall())


def test_a_revoked_key_gets_401_at_once_even_after_it_was_cached(reader, zone, active_member):
    card(active_member, "04A1B2C3")
    assert check(reader, "04A1B2C3")["granted"] is True  # the device is cached now
    device_revoke(Device.objects.get(name="gym-floor-in"))
    response = reader.post(CHECK, {"credential": "04A1B2C3"}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "device_key_invalid")


def test_a_revocation_the_cache_never_heard_of_applies_within_a_minute(
    reader, zone, active_member, clock, settings
):
    card(active_member, "04A1B2C3")
    assert check(reader, "04A1B2C3")["granted"] is True  # the device is cached now
    check(reader, "04A1B2C3")  # ... and its last_seen written
    # Revoked while the cache was unreachable: the generation was never bumped.
    Device.objects.filter(name="gym-floor-in").update(revoked_at=NOW)
    assert reader.post(CHECK, {"credential": "04A1B2C3"}, format="json").status_code == 200
    clock.move_to(NOW + dt.timedelta(seconds=settings.ACCESS_DEVICE_SEEN_INTERVAL_SECONDS))
    # The last_seen write finds the key revoked and drops the cached device ...
    assert reader.post(CHECK, {"credential": "04A1B2C3"}, format="json").status_code == 200
    # ... so from the next request on the device is refused.
    response = reader.post(CHECK, {"credential": "04A1B2C3"}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "device_key_invalid")
    assert Device.objects.get(name="gym-floor-in").last_seen == NOW


def test_rotating_a_key_retires_the_old_one_at_once(reader, device_key, active_member):
    card(active_member, "04A1B2C3")
    check(reader, "04A1B2C3")
    device = Device.objects.get(key_hash=key_hash(device_key))
    new_key = device_rotate_key(device)
    assert reader.post(CHECK, {"credential": "04A1B2C3"}, format="json").status_code == 401
    assert check(device_client(new_key), "04A1B2C3")["granted"] is True


def test_last_seen_is_written_at_most_once_a_minute(reader, device_key, clock):
    device = Device.objects.get(key_hash=key_hash(device_key))
    for _ in range(3):
        check(reader, "04FFFFFF")
    device.refresh_from_db()
    assert device.last_seen == NOW
    clock.move_to(NOW + dt.timedelta(seconds=30))
    check(reader, "04FFFFFF")
    device.refresh_from_db()
    assert device.last_seen == NOW
    clock.move_to(NOW + dt.timedelta(seconds=61))
    check(reader, "04FFFFFF")
    device.refresh_from_db()
    assert device.last_seen == NOW + dt.timedelta(seconds=61)


# --- Bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "credential"),
        ({"credential": ""}, "credential"),
        ({"credential": "   "}, "credential"),
        ({"credential": "A" * 129}, "credential"),
        ({"credential": 12345678}, "credential"),
        ({"credential": ["04A1B2C3"]}, "credential"),
        ({"credential": None}, "credential"),
        ({"credential": "04A1\x00B2C3"}, "credential"),
        ({"credential": "04A1B2C3", "direction": "sideways"}, "direction"),
        ({"credential": "04A1B2C3", "direction": 1}, "direction"),
        ({"credential": "04A1B2C3", "device_event_id": 42}, "device_event_id"),
        ({"credential": "04A1B2C3", "device_event_id": "x" * 65}, "device_event_id"),
        ({"credential": "04A1B2C3", "direction": "out"}, "direction"),  # an entry-only gate
        ([{"credential": "04A1B2C3"}], "non_field_errors"),
    ],
)
def test_bad_bodies_get_400_with_a_field_error_and_store_nothing(reader, body, field):
    response = reader.post(CHECK, body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "invalid"
    assert field in payload["fields"], payload
    assert AccessEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"credential": "04A1', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"null", "application/json"),
        (b"", "application/json"),
    ],
)
def test_malformed_json_gets_400_and_stores_nothing(reader, raw, content_type):
    response = reader.generic("POST", CHECK, raw, content_type=content_type)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"parse_error", "invalid"}
    assert response.json()["fields"]
    assert AccessEvent.objects.count() == 0


@pytest.mark.parametrize("path", [CHECK, "/api/v1/access/events"])
def test_json_nested_too_deeply_for_python_is_a_parse_error(reader, path):
    deep = b'{"credential": "04A1B2C3", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    response = reader.generic("POST", path, deep, content_type="application/json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "parse_error"
    assert payload["fields"] == {"non_field_errors": ["The body is not valid JSON."]}
    assert AccessEvent.objects.count() == 0


def test_a_parse_error_says_so_without_the_decoders_internals(reader):
    response = reader.generic("POST", CHECK, b'{"credential": ', content_type="application/json")
    assert response.json()["message"] == "The body is not valid JSON."


@pytest.mark.parametrize("raw", ["¹²³¹²³", "②③④", "１２３４５６７８"])
def test_unusual_unicode_digits_are_an_unknown_credential_not_an_error(reader, active_member, raw):
    card(active_member, "00BC614E")  # 12345678 as Wiegand-34
    response = reader.post(CHECK, {"credential": raw}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["granted"], response.json()["reason"]) == (
        False,
        "unknown_credential",
    )


def test_an_address_under_the_api_that_does_not_exist_is_a_json_404(reader):
    response = reader.post(f"{CHECK}/", {"credential": "04A1B2C3"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert AccessEvent.objects.count() == 0


@pytest.mark.parametrize("path", [CHECK, "/api/v1/access/events"])
def test_an_oversized_body_gets_413_and_stores_nothing(reader, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    raw = b'{"credential": "' + b"A" * 2_000 + b'"}'
    response = reader.generic("POST", path, raw, content_type="application/json")
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "payload_too_large"
    assert AccessEvent.objects.count() == 0


def test_a_body_that_is_not_json_is_refused_and_stores_nothing(reader):
    response = reader.post(CHECK, {"credential": "04A1B2C3"})  # multipart form
    assert response.status_code == 415
    assert AccessEvent.objects.count() == 0


# --- Retries ---------------------------------------------------------------------------


def test_a_retry_with_the_same_device_event_id_returns_the_original_and_logs_nothing(
    reader, active_member, clock
):
    card(active_member, "04A1B2C3")
    first = check(reader, "04A1B2C3", device_event_id="evt-1")
    assert AccessEvent.objects.count() == 1
    # Whatever happens meanwhile, the retry answers what was decided then.
    ms.membership_cancel(active_member.memberships.get(), at_period_end=False)
    clock.move_to(NOW + dt.timedelta(seconds=5))
    again = check(reader, "04A1B2C3", device_event_id="evt-1")
    assert again == first
    assert AccessEvent.objects.count() == 1
    assert check(reader, "04A1B2C3", device_event_id="evt-2")["reason"] == "membership_cancelled"


def test_a_retried_unknown_credential_is_logged_once(reader):
    first = check(reader, "04EEEEEE", device_event_id="evt-9")
    assert check(reader, "04EEEEEE", device_event_id="evt-9") == first
    assert AccessEvent.objects.count() == 1


@pytest.mark.parametrize("retried_with", ["04EEEEEE", "04A1B2C3"])
def test_a_device_event_id_sent_again_always_answers_what_was_recorded(
    reader, active_member, retried_with
):
    """Whatever the body of a retry says, its answer is the stored original's."""
    card(active_member, "04A1B2C3")
    original = check(reader, "04A1B2C3", device_event_id="evt-10")
    assert (original["granted"], original["reason"]) == (True, "granted")
    again = check(reader, retried_with, device_event_id="evt-10")
    assert (again["granted"], again["reason"], again["event_id"]) == (
        True,
        "granted",
        original["event_id"],
    )
    unknown = check(reader, "04EEEEEE", device_event_id="evt-11")
    assert check(reader, "04A1B2C3", device_event_id="evt-11")["reason"] == (unknown["reason"])
    assert unknown["reason"] == "unknown_credential"
    assert AccessEvent.objects.count() == 2


def test_event_ids_are_per_device(zone, make_device, active_member):
    card(active_member, "04A1B2C3")
    one = device_client(make_device(zone, "a")[1])
    two = device_client(make_device(zone, "b")[1])
    assert (
        check(one, "04A1B2C3", device_event_id="1")["event_id"]
        != check(two, "04A1B2C3", device_event_id="1")["event_id"]
    )


def test_a_retried_pack_entry_takes_one_visit(reader):
    member = MemberFactory()
    purchase = visit_pack(member, remaining=3)
    card(member, "04A1B2C3")
    first = check(reader, "04A1B2C3", device_event_id="p-1")
    assert check(reader, "04A1B2C3", device_event_id="p-1") == first
    purchase.refresh_from_db()
    assert purchase.remaining == 2


# --- Freshness: billing's changes apply at the very next check -------------------------


def test_suspension_and_payment_apply_at_the_very_next_check(reader, member_with, committed):
    membership = member_with()
    card(membership.member, "04A1B2C3")
    unpaid = past_due(membership, committed)
    assert check(reader, "04A1B2C3")["reason"] == "granted"  # grace period
    ms.membership_suspend(membership)
    assert check(reader, "04A1B2C3")["reason"] == "membership_suspended"
    with committed():
        payment_record_manual(unpaid, amount=unpaid.amount_due, source="cash")
    assert not Invoice.objects.filter(membership=membership, status=InvoiceStatus.OPEN).exists()
    body = check(reader, "04A1B2C3")
    assert (body["granted"], body["reason"], body["warnings"]) == (True, "granted", [])


# --- Speed: at most three SQL statements per check -------------------------------------


def count_queries(client: APIClient, credential: str, **body: object) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        check(client, credential, **body)
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_a_check_runs_at_most_three_queries_cold_or_warm(
    reader, member_with, clock, django_assert_max_num_queries
):
    membership = member_with()
    card(membership.member, "04A1B2C3")
    cold = count_queries(reader, "04A1B2C3")  # loads the device, decides, logs
    assert len(cold) <= 3, cold
    stale = count_queries(reader, "04A1B2C3")  # writes last_seen, decides, logs
    assert len(stale) <= 3, stale
    warm = count_queries(reader, "04A1B2C3", device_event_id="q-1")  # decides, logs
    assert len(warm) <= 2, warm
    replay = count_queries(reader, "04A1B2C3", device_event_id="q-1")  # the read says it all
    assert len(replay) == 1, replay
    assert len(count_queries(reader, "04000000")) <= 2  # unknown credentials too


@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_the_check_read_is_one_statement_with_every_rule_switched_on(
    zone, make_device, member_with
):
    zone.capacity, zone.anti_passback = 50, "strict"
    zone.save()
    client = device_client(make_device(zone, "busy")[1])
    membership = member_with()
    card(membership.member, "04A1B2C3")
    check(client, "04A1B2C3")
    check(client, "04A1B2C3")
    queries = count_queries(client, "04A1B2C3", device_event_id="z")
    assert len(queries) == 2, queries
    assert queries[0].startswith("SELECT")
    # The event's INSERT also moves the member's presence in the zone forward.
    assert queries[1].startswith("WITH inserted AS (INSERT"), queries[1]
    assert "access_control_zonepresence" in queries[1]


@pytest.mark.django_db(transaction=True)
def test_a_pack_holders_first_entry_also_runs_three_queries(zone, make_device, clock):
    device, key = make_device(zone, "packs")
    client = device_client(key)
    member = MemberFactory()
    purchase = visit_pack(member, remaining=2)
    card(member, "04A1B2C3")
    check(client, "04FFFFFF")
    check(client, "04FFFFFF")  # the device is cached and its last_seen written
    clock.move_to(NOW + dt.timedelta(minutes=5))  # last_seen is due again
    queries = count_queries(client, "04A1B2C3")
    assert len(queries) <= 3, queries
    claim = next(q for q in queries if q.startswith("WITH inserted AS (INSERT"))
    assert "synchronous_commit" not in claim, "a pack visit's claim is written durably"
    assert PackPurchase.objects.get(pk=purchase.pk).remaining == 1
    device.refresh_from_db()
    assert device.last_seen == NOW  # the deduction took the third statement ...
    assert len(count_queries(client, "04A1B2C3")) <= 3  # ... and the next check writes it
    device.refresh_from_db()
    assert device.last_seen == NOW + dt.timedelta(minutes=5)


@pytest.mark.django_db(transaction=True)
def test_a_check_on_a_kept_connection_sends_no_select_1_and_survives_a_lost_connection(
    zone, make_device, member_with, monkeypatch
):
    client = device_client(make_device(zone, "kept")[1])
    membership = member_with()
    card(membership.member, "04A1B2C3")
    check(client, "04FFFFFF")
    check(client, "04FFFFFF")  # the device is cached and seen, the connection kept
    with health_checks_counted(monkeypatch) as checks:
        request_starts()
        queries = count_queries(client, "04A1B2C3")
        # Django's health check would add a SELECT 1 before these on every request.
        assert (checks, len(queries)) == ([], 2), queries
        # The database drops the kept connection (a restart): the reader still gets its
        # answer, on a new connection, and the pass is logged once.
        before = AccessEvent.objects.filter(presented="04A1B2C3").count()
        server_drops_connection()
        request_starts()
        body = check(client, "04A1B2C3")
        assert (body["granted"], body["reason"]) == (True, "granted")
        assert AccessEvent.objects.filter(presented="04A1B2C3").count() == before + 1
        assert checks == []
        # Cold: the device read from the database is the first statement.
        cache.clear()
        server_drops_connection()
        request_starts()
        body = check(client, "04A1B2C3")
        assert (body["granted"], body["reason"]) == (True, "granted")
        assert checks == []


@pytest.mark.django_db(transaction=True)
def test_the_gate_log_does_not_wait_for_the_disk(zone, make_device, member_with):
    client = device_client(make_device(zone, "quick")[1])
    membership = member_with()
    card(membership.member, "04A1B2C3")
    queries = count_queries(client, "04A1B2C3")
    insert = next(q for q in queries if q.startswith("WITH inserted AS (INSERT"))
    assert "set_config('synchronous_commit', 'off', true)" in insert
    assert AccessEvent.objects.filter(member=membership.member, reason="granted").count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on", "only that statement's own transaction"


# --- Readers that write Wiegand decimal numbers ------------------------------------------


@pytest.mark.parametrize(
    ("credential_format", "presented", "holder_card", "hex_reading"),
    [
        ("wiegand26", "12345678", "BC614E", "12345678"),  # 24 data bits: 0xBC614E
        ("wiegand26", "188:24910", "BC614E", None),  # the same card as facility:card
        ("wiegand34", "0003735928559", "DEADBEEF", None),  # 32 bits, printed zero-padded
        ("wiegand34", "12345678", "00BC614E", "12345678"),
    ],
)
def test_a_wiegand_reader_finds_the_card_by_its_decimal_number(
    zone, make_device, member_with, credential_format, presented, holder_card, hex_reading
):
    holder = member_with().member
    card(holder, holder_card)
    if hex_reading:  # the same digits read as hex are someone else's card
        card(member_with().member, hex_reading)
    client = device_client(make_device(zone, credential_format=credential_format)[1])
    body = check(client, presented)
    assert (body["granted"], body["reason"]) == (True, "granted")
    assert body["member"]["member_number"] == holder.member_number
    event = AccessEvent.objects.get(pk=body["event_id"])
    assert (event.credential.value, event.presented) == (holder_card, presented)


# --- The API's schema ------------------------------------------------------------------


def test_the_schema_documents_the_four_access_endpoints(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    documented = {path: set(paths.get(path, {})) - {"parameters"} for path in ACCESS_PATHS}
    assert documented == ACCESS_PATHS
    check_body = paths["/api/v1/access/check"]["post"]["requestBody"]["content"]
    assert "application/json" in check_body


ACCESS_PATHS = {
    "/api/v1/access/check": {"post"},
    "/api/v1/access/allowlist": {"get"},
    "/api/v1/access/events": {"post"},
    "/api/v1/access/occupancy": {"get"},
}


# --- A two-way device ------------------------------------------------------------------


def test_a_two_way_device_takes_the_direction_from_the_request(zone, make_device, active_member):
    kiosk = device_client(make_device(zone, "kiosk", direction=DeviceDirection.BOTH)[1])
    card(active_member, "04A1B2C3")
    entry = check(kiosk, "04A1B2C3")
    leave = check(kiosk, "04A1B2C3", direction="out")
    directions = dict(
        AccessEvent.objects.filter(pk__in=[entry["event_id"], leave["event_id"]]).values_list(
            "pk", "direction"
        )
    )
    assert directions == {entry["event_id"]: "in", leave["event_id"]: "out"}


def test_the_member_payload_has_what_the_desk_shows(reader, active_member):
    from django.core.files.base import ContentFile

    active_member.photo.save("face.jpg", ContentFile(b"jpeg"), save=True)
    card(active_member, "04A1B2C3")
    member = check(reader, "04A1B2C3")["member"]
    assert member["name"] == active_member.full_name
    assert member["member_number"] == active_member.member_number
    assert member["photo_url"].startswith("http://testserver/")
    assert member["alerts"] == []


def test_a_database_outage_is_a_503_so_the_device_uses_its_allowlist(reader, monkeypatch):
    from django.db import OperationalError

    from access_control.services import checks

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    reader.post(CHECK, {"credential": "04FFFFFF"}, format="json")  # the device is cached
    monkeypatch.setattr(checks, "gate_read", down)
    response = reader.post(CHECK, {"credential": "04A1B2C3"}, format="json")
    assert (response.status_code, response.json()["code"]) == (503, "service_unavailable")


def test_unknown_readers_hear_the_language_they_ask_for(reader):
    response = reader.post(
        CHECK, {"credential": "04FFFFFF"}, format="json", HTTP_ACCEPT_LANGUAGE="th"
    )
    assert response.json()["message"] == "ไม่รู้จักบัตรนี้ กรุณาติดต่อเคาน์เตอร์"
