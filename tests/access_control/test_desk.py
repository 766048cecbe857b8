"""What the front desk does: manual check-in, overrides, lost cards, devices, occupancy."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from access_control.errors import CredentialNotAllowed, DeviceNotAllowed, OverrideNotAllowed
from access_control.models import AccessEvent, Credential, CredentialStatus, DeviceDirection
from access_control.selectors import access_events_recent
from access_control.services import (
    credential_issue,
    credential_replace,
    credential_revoke,
    device_revoke,
    device_rotate_key,
    manual_check_in,
    override_denial,
)
from access_control.services import credentials as credential_services
from billing.services import memberships as ms
from members import roles
from tests.concurrency import at_once
from tests.factories import MemberFactory

from .helpers import NOW, card, check, device_client

pytestmark = pytest.mark.django_db


# --- Manual check-in and overrides -----------------------------------------------------


def test_manual_check_in_runs_the_rules_and_is_logged_as_manual(zone, active_member, make_staff):
    desk = make_staff(roles.FRONT_DESK)
    result = manual_check_in(active_member, zone, desk)
    assert (result.granted, result.reason) == (True, "granted")
    event = AccessEvent.objects.get(pk=result.event_id)
    assert (event.source, event.staff_user, event.device, event.member) == (
        "manual",
        desk,
        None,
        active_member,
    )


def test_manual_check_in_of_a_frozen_member_is_a_logged_denial(zone, member_with, make_staff):
    from tests.billing.factories import PlanFactory

    membership = member_with(plan=PlanFactory(freezes_per_year=1))
    ms.membership_freeze(
        membership, starts_on=NOW.date(), ends_on=NOW.date() + dt.timedelta(days=10)
    )
    result = manual_check_in(membership.member, zone, make_staff(roles.FRONT_DESK))
    assert (result.granted, result.reason) == (False, "membership_frozen")
    assert AccessEvent.objects.get(pk=result.event_id).decision == "denied"


def test_an_override_needs_a_reason_and_is_logged_with_the_staff_user(reader, make_staff, clock):
    member = MemberFactory()
    card(member, "04A1B2C3")
    denied = AccessEvent.objects.get(pk=check(reader, "04A1B2C3")["event_id"])
    desk = make_staff(roles.FRONT_DESK)
    with pytest.raises(OverrideNotAllowed) as refused:
        override_denial(denied, desk, "   ")
    assert refused.value.reason == "reason_required"
    clock.move_to(NOW + dt.timedelta(minutes=1))
    override = override_denial(denied, desk, "Membership paid in cash, receipt 123")
    assert (override.decision, override.reason, override.source) == (
        "granted",
        "staff_override",
        "override",
    )
    assert (override.overrides, override.staff_user, override.member) == (denied, desk, member)
    assert override.override_reason == "Membership paid in cash, receipt 123"
    with pytest.raises(OverrideNotAllowed) as twice:
        override_denial(denied, desk, "again")
    assert twice.value.reason == "already_overridden"
    with pytest.raises(OverrideNotAllowed) as granted:
        override_denial(override, desk, "why")
    assert granted.value.reason == "not_denied"


def test_overriding_needs_the_permission(reader, make_staff):
    from django.contrib.auth import get_user_model

    card(MemberFactory(), "04A1B2C3")
    denied = AccessEvent.objects.get(pk=check(reader, "04A1B2C3")["event_id"])
    nobody = get_user_model().objects.create_user("intern", password="pw", is_staff=True)
    with pytest.raises(OverrideNotAllowed) as refused:
        override_denial(denied, nobody, "I said so")
    assert refused.value.reason == "no_permission"


def test_an_override_counts_the_member_as_inside(zone, make_device, make_staff):
    zone.capacity = 1
    zone.save()
    client = device_client(make_device(zone, "in")[1])
    member = MemberFactory()
    card(member, "04A1B2C3")
    denied = AccessEvent.objects.get(pk=check(client, "04A1B2C3")["event_id"])
    override_denial(denied, make_staff(roles.FRONT_DESK), "Guest of the owner")
    from access_control.selectors import zones_occupancy

    assert [(z.code, n) for z, n in zones_occupancy(NOW)] == [("gym-floor", 1)]


def test_the_live_feed_lists_the_newest_first_and_can_show_denials_only(
    reader, active_member, clock
):
    card(active_member, "04A1B2C3")
    check(reader, "04A1B2C3")
    clock.move_to(NOW + dt.timedelta(seconds=10))
    check(reader, "04FFFFFF")
    feed = list(access_events_recent())
    assert [e.reason for e in feed] == ["unknown_credential", "granted"]
    assert [e.reason for e in access_events_recent(denied_only=True)] == ["unknown_credential"]


# --- Credentials -----------------------------------------------------------------------


def test_a_lost_card_is_revoked_and_replaced_in_one_step(reader, active_member):
    old = card(active_member, "04A1B2C3")
    new = credential_replace(old, value="04D4E5F6", input_format="hex")
    old.refresh_from_db()
    assert (old.status, old.revoked_at) == (CredentialStatus.LOST, NOW)
    assert (new.member, new.value, new.status) == (active_member, "04D4E5F6", "active")
    assert check(reader, "04A1B2C3")["reason"] == "credential_revoked"
    assert check(reader, "04D4E5F6")["reason"] == "granted"


def test_only_an_active_card_is_replaced(active_member):
    old = card(active_member, "04A1B2C3")
    submitted_twice = Credential.objects.get(pk=old.pk)  # the same form, posted again
    credential_replace(old, value="04D4E5F6", input_format="hex")
    revoked = card(active_member, "04A1B2C4")
    credential_revoke(revoked)
    for gone in (old, submitted_twice, revoked):
        with pytest.raises(CredentialNotAllowed) as refused:
            credential_replace(gone, value="04D4E5F7", input_format="hex")
        assert refused.value.reason == "not_active"
    active = Credential.objects.filter(member=active_member, status=CredentialStatus.ACTIVE)
    assert list(active.values_list("value", flat=True)) == ["04D4E5F6"]


@pytest.mark.django_db(transaction=True)
def test_two_replacements_of_one_card_at_once_issue_one_new_card(monkeypatch):
    member = MemberFactory()
    old = card(member, "04A1B2C3")
    real_issue = credential_services.credential_issue

    def slow_issue(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # the second click arrives while the first is replacing
        return real_issue(*args, **kwargs)

    monkeypatch.setattr(credential_services, "credential_issue", slow_issue)
    values = iter(["04D4E5F6", "04D4E5F7"])
    outcomes = at_once(
        lambda: credential_replace(
            Credential.objects.get(pk=old.pk), value=next(values), input_format="hex"
        )
    )
    assert "not_active" in outcomes
    assert Credential.objects.filter(member=member, status=CredentialStatus.ACTIVE).count() == 1


def test_a_refused_number_says_in_the_desks_language_what_is_wrong(active_member):
    attempts = [
        ("rfid", "auto", "12345678"),
        ("rfid", "hex", "zz:zz:zz"),
        ("rfid", "wiegand26", "256:1"),
        ("rfid", "wiegand34", "99999999999"),
        ("barcode", "auto", "GYM 0001"),
    ]
    messages = []
    for kind, input_format, value in attempts:
        with translation.override("th"), pytest.raises(CredentialNotAllowed) as refused:
            credential_issue(active_member, kind=kind, value=value, input_format=input_format)
        assert refused.value.reason == "invalid_value"
        assert refused.value.extra["problem"], "the normaliser's words stay, for the API"
        messages.append(refused.value.message)
    assert len(set(messages)) == len(attempts), "each kind and format says what it wants"
    assert all(message.startswith("นี่ไม่ใช่") for message in messages), messages


def test_an_active_value_cannot_be_issued_twice(active_member):
    card(active_member, "04A1B2C3")
    with pytest.raises(CredentialNotAllowed) as taken:
        card(MemberFactory(), "04:A1:B2:C3")
    assert taken.value.reason == "value_in_use"


def test_a_digits_only_number_must_name_its_form(active_member):
    with pytest.raises(CredentialNotAllowed) as ambiguous:
        credential_issue(active_member, kind="rfid", value="3735928559")
    assert ambiguous.value.reason == "invalid_value"
    issued = credential_issue(
        active_member, kind="rfid", value="3735928559", input_format="wiegand34"
    )
    assert issued.value == "DEADBEEF"


def test_revoking_is_idempotent(active_member):
    credential = card(active_member, "04A1B2C3")
    credential_revoke(credential)
    first = credential.revoked_at
    credential_revoke(credential, lost=True)
    credential.refresh_from_db()
    assert (credential.status, credential.revoked_at) == ("revoked", first)


# --- Devices ---------------------------------------------------------------------------


def test_a_revoked_device_cannot_get_a_new_key(zone, make_device):
    device, _ = make_device(zone, "gone")
    device_revoke(device)
    with pytest.raises(DeviceNotAllowed):
        device_rotate_key(device)


def test_moving_a_device_to_another_zone_applies_at_once(zone, make_zone, make_device):
    device, key = make_device(zone, "mobile")
    client = device_client(key)
    assert client.get("/api/v1/access/allowlist").json()["zone"]["code"] == "gym-floor"
    device.zone = make_zone("pool")
    device.save()
    assert client.get("/api/v1/access/allowlist").json()["zone"]["code"] == "pool"


# --- Occupancy -------------------------------------------------------------------------


def test_occupancy_is_entries_without_a_later_exit(zone, make_device, member_with, api_as):
    entry = device_client(make_device(zone, "in")[1])
    exit_ = device_client(make_device(zone, "out", direction=DeviceDirection.OUT)[1])
    for value in ("04000001", "04000002", "04000003"):
        card(member_with().member, value)
        check(entry, value)
    check(exit_, "04000002")
    check(entry, "04000001")  # in twice: still one person
    response = api_as(roles.FRONT_DESK).get("/api/v1/access/occupancy")
    assert response.status_code == 200
    (floor,) = response.json()["zones"]
    assert (floor["zone"], floor["occupancy"], floor["location"]) == ("gym-floor", 2, "Sukhumvit")


def test_occupancy_forgets_entries_from_yesterday(zone, reader, active_member, clock, api_as):
    card(active_member, "04A1B2C3")
    check(reader, "04A1B2C3")
    clock.move_to(NOW + dt.timedelta(days=1))
    (floor,) = api_as(roles.FRONT_DESK).get("/api/v1/access/occupancy").json()["zones"]
    assert floor["occupancy"] == 0


def test_occupancy_is_for_staff_with_the_permission(zone, make_staff):
    anonymous = APIClient().get("/api/v1/access/occupancy")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"].startswith("Basic")
    wrong = APIClient(HTTP_AUTHORIZATION="Basic bm9ib2R5Om5vcGU=")  # nobody:nope
    assert wrong.get("/api/v1/access/occupancy").status_code == 401
    from django.contrib.auth import get_user_model

    client = APIClient()
    client.force_authenticate(
        get_user_model().objects.create_user("plain", password="pw", is_staff=True)
    )
    assert client.get("/api/v1/access/occupancy").status_code == 403
