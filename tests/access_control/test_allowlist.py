"""``GET /api/v1/access/allowlist``: a full list first, then deltas with removals."""

from __future__ import annotations

import datetime as dt

import pytest

from access_control.models import CredentialKind, Device
from access_control.services import credential_issue, credential_replace, credential_revoke
from billing.models import PlanEntitlement
from billing.services import memberships as ms
from tests.billing.factories import PlanFactory
from tests.factories import MemberFactory

from .helpers import NOW, TODAY, card, device_client
from .test_rules import past_due, visit_pack

pytestmark = pytest.mark.django_db
ALLOWLIST = "/api/v1/access/allowlist"


def sync(client, cursor=None):
    response = client.get(ALLOWLIST, {"cursor": cursor} if cursor else {})
    assert response.status_code == 200, response.content
    return response.json()


def values(page):
    return {entry["credential"] for entry in page["credentials"]}


def removed(page):
    return {item["credential"] for item in page["removed"]}


def test_the_first_call_lists_every_credential_that_may_enter(reader, member_with):
    card(member_with().member, "04000001")
    card(MemberFactory(), "04000002")  # no membership
    page = sync(reader)
    assert page["full"] is True
    assert values(page) == {"04000001"}
    (entry,) = page["credentials"]
    assert entry["kind"] == "rfid"
    assert entry["access"] == [
        {"source": "membership", "windows": [], "valid_from": "2027-02-03", "valid_until": None}
    ]
    assert page["zone"]["time_zone"] == "Asia/Bangkok"
    assert page["next_cursor"]


def test_a_device_only_sees_its_own_zone(zone, make_zone, make_device, member_with):
    studio = make_zone("studio")
    studio_only = PlanFactory()
    PlanEntitlement.objects.create(plan=studio_only, zone_code="studio")
    card(member_with(plan=studio_only).member, "04000003")
    card(member_with().member, "04000004")  # a plan without rules: every zone
    floor = device_client(make_device(zone, "floor")[1])
    studio_reader = device_client(make_device(studio, "studio")[1])
    assert values(sync(floor)) == {"04000004"}
    assert values(sync(studio_reader)) == {"04000003", "04000004"}
    assert sync(studio_reader)["zone"]["code"] == "studio"


def test_a_cursor_from_another_zones_device_gets_a_full_list(zone, make_zone, make_device):
    floor = device_client(make_device(zone, "floor")[1])
    pool = device_client(make_device(make_zone("pool"), "pool")[1])
    cursor = sync(floor)["next_cursor"]
    assert sync(pool, cursor)["full"] is True


def test_entries_carry_their_time_windows_and_end_date(reader, member_with):
    plan = PlanFactory(interval="week")
    PlanEntitlement.objects.create(
        plan=plan,
        zone_code="gym-floor",
        weekdays="12345",
        start_time=dt.time(10),
        end_time=dt.time(16),
    )
    membership = member_with(plan=plan)
    ms.membership_cancel(membership, at_period_end=True)
    card(membership.member, "04000005")
    (entry,) = sync(reader)["credentials"]
    assert entry["access"] == [
        {
            "source": "membership",
            "windows": [{"weekdays": "12345", "start": "10:00", "end": "16:00"}],
            "valid_from": "2027-02-03",
            "valid_until": "2027-02-09",  # the membership ends on the 10th
        }
    ]


def test_pack_holders_are_listed_with_visits_left(reader):
    member = MemberFactory()
    visit_pack(member, remaining=4)
    card(member, "04000006")
    (entry,) = sync(reader)["credentials"]
    (grant,) = entry["access"]
    assert (grant["source"], grant["remaining"], grant["used_today"]) == ("pack", 4, False)
    assert grant["used_on"] is None
    assert grant["valid_until"] == (TODAY + dt.timedelta(days=60)).isoformat()


def test_qr_passes_come_with_their_key_for_offline_checks(reader, active_member):
    from access_control.credentials import qr_pass_key

    qr = credential_issue(active_member, kind=CredentialKind.QR)
    (entry,) = sync(reader)["credentials"]
    assert entry["qr_key"] == qr_pass_key(qr.value).hex()


def test_nothing_changed_means_an_empty_delta(reader, member_with, clock):
    card(member_with().member, "04000007")
    clock.move_to(NOW + dt.timedelta(minutes=10))  # older than the re-read overlap
    first = sync(reader)
    clock.move_to(NOW + dt.timedelta(minutes=11))
    delta = sync(reader, first["next_cursor"])
    assert (delta["full"], delta["credentials"], delta["removed"]) == (False, [], [])


def test_a_revoked_credential_is_removed_in_the_next_delta(reader, member_with, clock):
    lost = card(member_with().member, "04000008")
    kept = card(member_with().member, "04000009")
    clock.move_to(NOW + dt.timedelta(minutes=10))
    first = sync(reader)
    assert values(first) == {"04000008", "04000009"}
    clock.move_to(NOW + dt.timedelta(minutes=20))
    credential_revoke(lost, lost=True)
    delta = sync(reader, first["next_cursor"])
    assert delta["full"] is False
    assert removed(delta) == {"04000008"}
    assert values(delta) == set()  # the other member did not change: not sent again
    assert kept.value not in removed(delta)


def test_a_replacement_card_arrives_as_the_lost_one_leaves(reader, member_with, clock):
    lost = card(member_with().member, "0400000A")
    first = sync(reader)
    clock.move_to(NOW + dt.timedelta(minutes=10))
    credential_replace(lost, value="0400000B", input_format="hex")
    delta = sync(reader, first["next_cursor"])
    assert (values(delta), removed(delta)) == ({"0400000B"}, {"0400000A"})


def test_a_suspension_in_billing_removes_the_member_in_the_next_delta(
    reader, member_with, committed, clock
):
    membership = member_with()
    card(membership.member, "0400000C")
    unpaid = past_due(membership, committed)
    first = sync(reader)
    assert values(first) == {"0400000C"}  # past due still enters, with a warning
    clock.move_to(NOW + dt.timedelta(hours=1))
    ms.membership_suspend(membership)
    delta = sync(reader, first["next_cursor"])
    assert removed(delta) == {"0400000C"}
    # And back when the invoice is paid.
    clock.move_to(NOW + dt.timedelta(hours=2))
    from billing.services.invoices import payment_record_manual

    with committed():
        payment_record_manual(unpaid, amount=unpaid.amount_due, source="cash")
    again = sync(reader, delta["next_cursor"])
    assert (values(again), removed(again)) == ({"0400000C"}, set())


def test_a_new_membership_and_a_new_pack_arrive_in_the_delta(reader, member_with, clock):
    member, pack_holder = MemberFactory(), MemberFactory()
    card(member, "0400000D")
    card(pack_holder, "0400000E")
    first = sync(reader)
    assert values(first) == set()
    clock.move_to(NOW + dt.timedelta(hours=1))
    member_with(member=member)
    visit_pack(pack_holder, remaining=1)
    assert values(sync(reader, first["next_cursor"])) == {"0400000D", "0400000E"}


def test_a_pack_visit_used_elsewhere_reaches_the_other_devices(zone, make_device, reader, clock):
    member = MemberFactory()
    visit_pack(member, remaining=1)
    card(member, "0400000F")
    first = sync(reader)
    clock.move_to(NOW + dt.timedelta(minutes=5))
    other = device_client(make_device(zone, "other")[1])
    assert (
        other.post("/api/v1/access/check", {"credential": "0400000F"}, format="json").json()[
            "reason"
        ]
        == "granted_pack"
    )
    (entry,) = sync(reader, first["next_cursor"])["credentials"]
    assert entry["access"][0]["remaining"] == 0
    assert entry["access"][0]["used_today"] is True
    assert entry["access"][0]["used_on"] == TODAY.isoformat()


def test_a_change_committed_late_is_still_seen(reader, member_with, clock):
    """A change whose row was written before the last sync (its transaction committed
    after) is read again: deltas re-read the recent past."""
    first = sync(reader)
    membership = member_with()  # written "at" the time of the first sync
    card(membership.member, "04000010")
    clock.move_to(NOW + dt.timedelta(seconds=30))
    assert values(sync(reader, first["next_cursor"])) == {"04000010"}


@pytest.mark.parametrize("cursor", ["garbage", "a:b:c"])
def test_an_unreadable_cursor_gets_a_full_list(reader, cursor):
    assert sync(reader, cursor)["full"] is True


def test_a_plan_entitlement_change_gets_a_full_list(reader, member_with, clock):
    plan = PlanFactory()
    card(member_with(plan=plan).member, "04000011")
    first = sync(reader)
    PlanEntitlement.objects.create(plan=plan, zone_code="pool")
    page = sync(reader, first["next_cursor"])
    assert (page["full"], values(page)) == (True, set())


def test_an_old_cursor_gets_a_full_list(reader, clock):
    first = sync(reader)
    clock.move_to(NOW + dt.timedelta(hours=25))
    assert sync(reader, first["next_cursor"])["full"] is True


def test_syncing_records_that_the_device_was_seen(reader):
    sync(reader)
    assert Device.objects.get(name="gym-floor-in").last_seen == NOW


def test_the_allowlist_needs_a_device_key(zone):
    from rest_framework.test import APIClient

    assert APIClient().get(ALLOWLIST).status_code == 401


def test_moving_to_a_plan_without_this_zone_removes_the_member_here(
    zone, make_zone, make_device, member_with, committed, clock
):
    studio_only = PlanFactory(price=200_000)
    PlanEntitlement.objects.create(plan=studio_only, zone_code="studio")
    membership = member_with()  # a plan without rules: every zone
    card(membership.member, "04000020")
    floor = device_client(make_device(zone, "floor")[1])
    studio = device_client(make_device(make_zone("studio"), "studio")[1])
    on_floor, in_studio = sync(floor), sync(studio)
    assert values(on_floor) == values(in_studio) == {"04000020"}
    clock.move_to(NOW + dt.timedelta(minutes=10))
    with committed():
        ms.membership_upgrade(membership, studio_only)
    on_floor = sync(floor, on_floor["next_cursor"])
    assert (values(on_floor), removed(on_floor)) == (set(), {"04000020"})
    in_studio = sync(studio, in_studio["next_cursor"])
    assert (values(in_studio), removed(in_studio)) == ({"04000020"}, set())
    # A card issued after the move was never the floor's: the floor never hears of it.
    clock.move_to(NOW + dt.timedelta(minutes=20))
    card(membership.member, "04000021")
    assert "04000021" not in removed(sync(floor, on_floor["next_cursor"]))
    assert "04000021" in values(sync(studio, in_studio["next_cursor"]))


def test_a_delta_never_names_another_zones_or_a_non_members_credentials(
    zone, make_zone, make_device, member_with, clock
):
    studio_only = PlanFactory()
    PlanEntitlement.objects.create(plan=studio_only, zone_code="studio")
    dancer = member_with(plan=studio_only)
    first_card = card(dancer.member, "04000030")
    pack_holder = MemberFactory()
    visit_pack(pack_holder, remaining=5, code="studio-5", zone_code="studio")
    card(pack_holder, "04000031")
    prospect = MemberFactory()  # no membership, no pack
    floor = device_client(make_device(zone, "floor")[1])
    studio = device_client(make_device(make_zone("studio"), "studio")[1])
    on_floor, in_studio = sync(floor), sync(studio)
    assert values(on_floor) == set()
    assert values(in_studio) == {"04000030", "04000031"}

    clock.move_to(NOW + dt.timedelta(minutes=10))
    credential_replace(first_card, value="04000032", input_format="hex")  # lost; a new card
    card(prospect, "04000033")
    visit_pack(pack_holder, remaining=1, code="studio-1", zone_code="studio")
    ms.membership_cancel(dancer, at_period_end=False)
    credential_revoke(card(pack_holder, "04000034"))

    delta = sync(floor, on_floor["next_cursor"])
    assert (delta["full"], delta["credentials"], delta["removed"]) == (False, [], [])
    # The studio drops what it held, and hears of nothing it never held.
    delta = sync(studio, in_studio["next_cursor"])
    assert (values(delta), removed(delta)) == ({"04000031"}, {"04000030"})


def test_a_credential_first_sent_in_a_delta_is_removed_by_a_later_one(reader, member_with, clock):
    first = sync(reader)
    clock.move_to(NOW + dt.timedelta(minutes=10))
    membership = member_with()
    card(membership.member, "04000040")
    arrived = sync(reader, first["next_cursor"])
    assert values(arrived) == {"04000040"}
    clock.move_to(NOW + dt.timedelta(minutes=20))
    ms.membership_cancel(membership, at_period_end=False)
    assert removed(sync(reader, arrived["next_cursor"])) == {"04000040"}


def test_a_card_number_handed_on_is_not_removed_from_its_new_holder(reader, member_with, clock):
    first_holder, new_holder = member_with().member, member_with().member
    old = card(first_holder, "04000050")
    listed = sync(reader)
    clock.move_to(NOW + dt.timedelta(minutes=10))
    credential_revoke(old, lost=True)
    gone = sync(reader, listed["next_cursor"])
    assert removed(gone) == {"04000050"}
    clock.move_to(NOW + dt.timedelta(minutes=20))
    card(new_holder, "04000050")  # the desk hands the returned card to someone else
    arrived = sync(reader, gone["next_cursor"])
    assert values(arrived) == {"04000050"}
    clock.move_to(NOW + dt.timedelta(minutes=30))
    again = sync(reader, arrived["next_cursor"])  # re-read: within the overlap
    clock.move_to(NOW + dt.timedelta(minutes=40))
    settled = sync(reader, again["next_cursor"])
    assert (settled["credentials"], settled["removed"]) == ([], [])  # nothing touched now
    clock.move_to(NOW + dt.timedelta(minutes=50))
    card(first_holder, "04000051")  # the first holder changes again
    delta = sync(reader, settled["next_cursor"])
    assert "04000051" in values(delta)
    assert removed(delta) == set()  # the new holder's entry stays on the device


def test_a_card_handed_on_in_one_delta_arrives_for_its_new_holder(reader, member_with, clock):
    first_holder, new_holder = member_with().member, member_with().member
    old = card(first_holder, "04000052")
    listed = sync(reader)
    clock.move_to(NOW + dt.timedelta(minutes=10))
    credential_revoke(old, lost=True)
    card(new_holder, "04000052")
    delta = sync(reader, listed["next_cursor"])
    (entry,) = delta["credentials"]
    assert (entry["credential"], entry["member_id"]) == ("04000052", new_holder.pk)
    assert removed(delta) == set()


def test_a_card_handed_on_to_someone_without_access_leaves_the_device(reader, member_with, clock):
    first_holder = member_with().member
    old = card(first_holder, "04000053")
    listed = sync(reader)
    clock.move_to(NOW + dt.timedelta(minutes=10))
    credential_revoke(old, lost=True)
    card(MemberFactory(), "04000053")  # no membership: never listed here
    delta = sync(reader, listed["next_cursor"])
    assert (values(delta), removed(delta)) == (set(), {"04000053"})
