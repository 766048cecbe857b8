"""``seed_demo`` gives access control a site, devices with working keys, and a credential
for every state, each of which the gate answers as the manifest says."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command

from access_control.keys import key_hash
from access_control.models import Credential, Device, Zone

from .helpers import check, device_client

# The overdue member's story commits day by day (billing and dunning act after commit).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _migrated_data() -> None:
    """The roles and the dunning policy that migrations seed (a committed test's flush
    wiped them)."""
    from tests.browser.seeds import seed_migrated_data

    seed_migrated_data()


@pytest.fixture(autouse=True)
def clock():
    """Wednesday 08:00 in Bangkok: before the off-peak window opens."""
    import time_machine

    with time_machine.travel(dt.datetime(2027, 2, 3, 1, 0, tzinfo=dt.UTC), tick=False) as t:
        yield t


def seed(tmp_path, name="demo.json"):
    manifest = tmp_path / name
    call_command("seed_demo", members=30, json=manifest, no_progress=True)
    return json.loads(manifest.read_text())


def test_every_demo_credential_gets_the_answer_the_manifest_promises(tmp_path):
    manifest = seed(tmp_path)
    devices = {device["name"]: device for device in manifest["devices"]}
    assert {d["zone"] for d in devices.values()} == {"gym-floor", "studio", "pool"}
    assert {(d["zone"], d["direction"]) for d in devices.values()} >= {
        ("gym-floor", "in"),
        ("gym-floor", "out"),
        ("pool", "in"),
        ("pool", "out"),
    }
    assert any(d["kind"] == "kiosk" for d in devices.values())
    states = {c["state"]: c for c in manifest["credentials"]}
    assert {c["device"] for c in states.values()} == {"gym-floor-in"}
    gate = device_client(devices["gym-floor-in"]["key"])
    assert set(states) == {
        "active",
        "outside_off_peak_hours",
        "frozen",
        "suspended_overdue",
        "cancelled",
        "pack_exhausted",
        "unknown",
    }
    for state, entry in states.items():
        assert check(gate, entry["credential"])["reason"] == entry["expect"], state
    assert not Credential.objects.filter(value=states["unknown"]["credential"]).exists()


def test_the_off_peak_card_is_admitted_inside_its_windows_as_the_manifest_says(tmp_path, clock):
    manifest = seed(tmp_path)
    (entry,) = [c for c in manifest["credentials"] if c["state"] == "outside_off_peak_hours"]
    gate = device_client({d["name"]: d for d in manifest["devices"]}[entry["device"]]["key"])
    assert check(gate, entry["credential"])["reason"] == entry["expect"] == "outside_hours"
    clock.move_to(dt.datetime(2027, 2, 3, 4, 0, tzinfo=dt.UTC))  # Wednesday 11:00 Bangkok
    assert check(gate, entry["credential"])["reason"] == entry["expect_in_windows"] == "granted"


def test_reseeding_reuses_the_device_keys_and_duplicates_nothing(tmp_path):
    first = seed(tmp_path, "one.json")
    counts = (Device.objects.count(), Zone.objects.count(), Credential.objects.count())
    second = seed(tmp_path, "two.json")
    assert second["devices"] == first["devices"]
    assert second["credentials"] == first["credentials"]
    assert (Device.objects.count(), Zone.objects.count(), Credential.objects.count()) == counts
    for device in first["devices"]:
        stored = Device.objects.get(name=device["name"])
        assert stored.key_hash == key_hash(device["key"])
        assert device["key"] not in repr(Device.objects.filter(pk=stored.pk).values().get())


def test_demo_members_with_a_membership_get_a_card(tmp_path):
    seed(tmp_path)
    from members.demo import DEMO_EMAIL_DOMAIN
    from members.models import Member

    with_membership = Member.objects.filter(
        email__endswith=f"@{DEMO_EMAIL_DOMAIN}", memberships__isnull=False
    ).distinct()
    assert with_membership.exists()
    assert not with_membership.filter(credentials__isnull=True).exists()
