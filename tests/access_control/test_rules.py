"""Every rule of the access decision, in order, and every warning: the gate's specification.

Memberships are made through billing's services; the clock stands at Wednesday 10:00
in Bangkok (03:00 UTC).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from access_control.engine import AccessDecision, GateFacts, ZoneSnapshot, decide
from access_control.models import (
    AccessEvent,
    AntiPassback,
    Decision,
    DeviceDirection,
    Location,
    Zone,
)
from access_control.reasons import Reason, WarningCode
from access_control.services import credential_issue, credential_revoke
from billing.models import Pack, PackPurchase, PlanEntitlement
from billing.services import memberships as ms
from billing.services.invoices import LineSpec, invoice_create
from billing.services.payments import invoice_charge
from members.services import alert_resolve, note_add
from tests.billing.factories import PlanFactory
from tests.billing.factories import card as payment_card
from tests.factories import MemberFactory

from .helpers import NOW, TODAY, card, check, device_client

pytestmark = pytest.mark.django_db
BANGKOK = dt.timezone(dt.timedelta(hours=7))


def at_bangkok(hour: int, minute: int = 0, day: dt.date = TODAY) -> dt.datetime:
    return dt.datetime.combine(
        day, dt.time(hour, minute), tzinfo=dt.timezone(dt.timedelta(hours=7))
    )


# --- 1–3: the credential --------------------------------------------------------------


def test_unknown_credential_is_denied_and_logged_without_a_member(reader):
    body = check(reader, "04FFFFFFFF")
    assert (body["granted"], body["reason"], body["member"]) == (False, "unknown_credential", None)
    event = AccessEvent.objects.get(pk=body["event_id"])
    assert (event.decision, event.member_id, event.presented) == ("denied", None, "04FFFFFFFF")


def test_lost_card_is_credential_revoked_and_its_replacement_works(reader, active_member):
    old = card(active_member, "04A1B2C3")
    credential_revoke(old, lost=True)
    body = check(reader, "04:a1:b2:c3")
    assert (body["granted"], body["reason"]) == (False, "credential_revoked")
    assert body["member"]["member_number"] == active_member.member_number
    card(active_member, "04A1B2C3")  # the same number, issued again: the active one wins
    assert check(reader, "04A1B2C3")["reason"] == "granted"


def test_a_revoked_card_is_credential_revoked_for_its_still_active_member(reader, active_member):
    revoked = card(active_member, "04A1B2C4")
    credential_revoke(revoked)
    assert revoked.status == "revoked"
    body = check(reader, "04A1B2C4")
    assert (body["granted"], body["reason"]) == (False, "credential_revoked")
    assert body["member"]["member_number"] == active_member.member_number
    event = AccessEvent.objects.get(pk=body["event_id"])
    assert (event.decision, event.credential_id, event.member_id) == (
        "denied",
        revoked.pk,
        active_member.pk,
    )


def test_a_qr_code_from_two_minutes_ago_is_refused_and_a_fresh_one_admits(
    reader, active_member, clock
):
    from access_control.services import qr_pass_current

    qr = credential_issue(active_member, kind="qr")
    stale = qr_pass_current(qr, NOW - dt.timedelta(minutes=2))
    recent = qr_pass_current(qr, NOW - dt.timedelta(seconds=30))
    body = check(reader, stale)
    assert (body["granted"], body["reason"]) == (False, "qr_expired")
    assert check(reader, recent)["reason"] == "granted"
    assert check(reader, qr_pass_current(qr))["reason"] == "granted"


# --- 4: the membership's state ---------------------------------------------------------


def test_no_membership(reader):
    member = MemberFactory()
    card(member, "04000001")
    assert check(reader, "04000001")["reason"] == "no_membership"


def test_a_sign_up_never_paid_for_is_no_membership(reader, member_with):
    membership = member_with(token="tok_decline_insufficient_funds")
    assert membership.status == "pending"
    card(membership.member, "04000002")
    assert check(reader, "04000002")["reason"] == "no_membership"


def test_membership_frozen(reader, member_with):
    membership = member_with(plan=PlanFactory(freezes_per_year=2))
    ms.membership_freeze(membership, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=14))
    card(membership.member, "04000003")
    body = check(reader, "04000003")
    assert (body["granted"], body["reason"]) == (False, "membership_frozen")


def test_a_freeze_starting_today_applies_even_before_the_daily_job(reader, member_with, clock):
    membership = member_with(plan=PlanFactory(freezes_per_year=2))
    starts = TODAY + dt.timedelta(days=1)
    ms.membership_freeze(membership, starts_on=starts, ends_on=starts + dt.timedelta(days=14))
    card(membership.member, "04000004")
    assert check(reader, "04000004")["reason"] == "granted"
    clock.move_to(NOW + dt.timedelta(days=1))
    assert check(reader, "04000004")["reason"] == "membership_frozen"


def past_due(membership, committed):
    """The member's card declines a charge on the membership: it is past due."""
    with committed():
        declining = payment_card(membership.payer, "tok_decline_insufficient_funds")
        invoice = invoice_create(
            member=membership.payer,
            currency="THB",
            reason="fee",
            specs=[LineSpec("fee", "Locker", 30_000, 700, True)],
            membership_id=membership.pk,
            apply_account=False,
        )
        invoice_charge(invoice, method=declining)
    membership.refresh_from_db()
    assert membership.status == "past_due"
    return invoice


def test_membership_suspended_for_overdue_payment(reader, member_with, committed):
    membership = member_with()
    past_due(membership, committed)
    ms.membership_suspend(membership)
    card(membership.member, "04000005")
    body = check(reader, "04000005")
    assert (body["granted"], body["reason"]) == (False, "membership_suspended")


def test_membership_cancelled(reader, member_with):
    membership = member_with()
    ms.membership_cancel(membership, at_period_end=False)
    card(membership.member, "04000006")
    assert check(reader, "04000006")["reason"] == "membership_cancelled"


# --- 5–6: the plan's zones and hours ---------------------------------------------------


def test_zone_not_included(reader, member_with):
    plan = PlanFactory()
    PlanEntitlement.objects.create(plan=plan, zone_code="pool")
    card(member_with(plan=plan).member, "04000007")
    assert check(reader, "04000007")["reason"] == "zone_not_included"


def test_an_entitlement_for_every_zone_admits_here(reader, member_with):
    plan = PlanFactory()
    PlanEntitlement.objects.create(plan=plan, zone_code="")
    card(member_with(plan=plan).member, "04000008")
    assert check(reader, "04000008")["reason"] == "granted"


@pytest.mark.parametrize(
    ("utc", "bangkok", "reason"),
    [
        ((2, 30), "09:30", "outside_hours"),
        ((3, 30), "10:30", "granted"),
        ((8, 59), "15:59", "granted"),
        ((9, 0), "16:00", "outside_hours"),
    ],
)
def test_time_windows_are_read_in_the_locations_time_zone(
    reader, member_with, clock, utc, bangkok, reason
):
    plan = PlanFactory()
    PlanEntitlement.objects.create(
        plan=plan,
        zone_code="gym-floor",
        weekdays="12345",
        start_time=dt.time(10, 0),
        end_time=dt.time(16, 0),
    )
    card(member_with(plan=plan).member, "04000009")
    moment = dt.datetime(2027, 2, 3, *utc, tzinfo=dt.UTC)
    assert moment.astimezone(BANGKOK).strftime("%H:%M") == bangkok
    clock.move_to(moment)
    assert check(reader, "04000009")["reason"] == reason


@pytest.mark.parametrize(
    ("utc", "london", "reason"),
    [
        # Winter: London is on UTC; Bangkok (the gym's default zone) is 7 hours ahead.
        ((2027, 2, 3, 3, 0), "Wed 03:00", "outside_hours"),  # 10:00 in Bangkok
        ((2027, 2, 3, 10, 30), "Wed 10:30", "granted"),  # 17:30 in Bangkok
        ((2027, 2, 3, 16, 0), "Wed 16:00", "outside_hours"),
        ((2027, 3, 26, 9, 30), "Fri 09:30", "outside_hours"),
        # British Summer Time from Sunday 28 March: an hour ahead of UTC.
        ((2027, 3, 29, 9, 30), "Mon 10:30", "granted"),
        ((2027, 3, 29, 15, 30), "Mon 16:30", "outside_hours"),
    ],
)
def test_time_windows_are_read_in_the_zones_own_location_not_the_gyms_default(
    make_device, member_with, clock, utc, london, reason
):
    site = Location.objects.create(name="Shoreditch", time_zone="Europe/London")
    floor = Zone.objects.create(location=site, code="london-floor", name="London floor")
    reader = device_client(make_device(floor, "london-in")[1])
    plan = PlanFactory()
    PlanEntitlement.objects.create(
        plan=plan,
        zone_code="london-floor",
        weekdays="12345",
        start_time=dt.time(10, 0),
        end_time=dt.time(16, 0),
    )
    card(member_with(plan=plan).member, "0400000B")
    moment = dt.datetime(*utc, tzinfo=dt.UTC)
    assert moment.astimezone(ZoneInfo("Europe/London")).strftime("%a %H:%M") == london
    clock.move_to(moment)
    assert check(reader, "0400000B")["reason"] == reason


def test_weekday_windows_follow_the_local_date_across_midnight_utc(reader, member_with, clock):
    """Saturday 06:00 in Bangkok is still Friday 23:00 UTC: the weekend window applies."""
    plan = PlanFactory()
    PlanEntitlement.objects.create(
        plan=plan, zone_code="gym-floor", weekdays="67", start_time=dt.time(5), end_time=dt.time(9)
    )
    card(member_with(plan=plan).member, "0400000A")
    clock.move_to(dt.datetime(2027, 2, 5, 23, 0, tzinfo=dt.UTC))  # Sat 06:00 Bangkok
    assert check(reader, "0400000A")["reason"] == "granted"
    clock.move_to(dt.datetime(2027, 2, 5, 1, 0, tzinfo=dt.UTC))  # Fri 08:00 Bangkok
    assert check(reader, "0400000A")["reason"] == "outside_hours"


# --- 7: packs --------------------------------------------------------------------------


def visit_pack(member, remaining=10, **fields):
    pack = Pack.objects.get_or_create(
        code=fields.pop("code", "visits-10"),
        defaults={
            "name": "10 visits",
            "kind": fields.pop("kind", "visits"),
            "price": 250_000,
            "quantity": 10,
            "zone_code": fields.pop("zone_code", ""),
        },
    )[0]
    return PackPurchase.objects.create(
        member=member,
        pack=pack,
        remaining=remaining,
        valid_from=fields.pop("valid_from", TODAY - dt.timedelta(days=3)),
        expires_on=fields.pop("expires_on", TODAY + dt.timedelta(days=60)),
    )


def test_a_visit_pack_loses_one_visit_per_day_on_the_first_entry(reader, clock):
    member = MemberFactory()
    purchase = visit_pack(member, remaining=2)
    card(member, "0400000B")
    first = check(reader, "0400000B")
    assert (first["granted"], first["reason"]) == (True, "granted_pack")
    clock.move_to(NOW + dt.timedelta(hours=3))
    assert check(reader, "0400000B")["reason"] == "granted_pack"
    purchase.refresh_from_db()
    assert purchase.remaining == 1  # two entries today, one visit
    clock.move_to(NOW + dt.timedelta(days=1))
    assert check(reader, "0400000B")["reason"] == "granted_pack"
    purchase.refresh_from_db()
    assert purchase.remaining == 0
    assert AccessEvent.objects.filter(pack_purchase=purchase).count() == 2
    clock.move_to(NOW + dt.timedelta(days=2))
    assert check(reader, "0400000B")["reason"] == "pack_exhausted"


def test_pack_exhausted(reader):
    member = MemberFactory()
    visit_pack(member, remaining=0)
    card(member, "0400000C")
    body = check(reader, "0400000C")
    assert (body["granted"], body["reason"]) == (False, "pack_exhausted")


def test_a_day_pass_admits_all_day_and_only_its_zone(reader, make_zone, make_device):
    member = MemberFactory()
    visit_pack(
        member,
        remaining=1,
        code="day-pass",
        kind="day_pass",
        zone_code="gym-floor",
        valid_from=TODAY,
        expires_on=TODAY,
    )
    card(member, "0400000D")
    assert check(reader, "0400000D")["reason"] == "granted_pack"
    assert check(reader, "0400000D")["reason"] == "granted_pack"
    pool = device_client(make_device(make_zone("pool"))[1])
    assert check(pool, "0400000D")["reason"] == "no_membership"


def test_a_pack_covers_hours_the_plan_does_not(reader, member_with, clock):
    plan = PlanFactory()
    PlanEntitlement.objects.create(
        plan=plan, zone_code="gym-floor", start_time=dt.time(12), end_time=dt.time(14)
    )
    membership = member_with(plan=plan)
    purchase = visit_pack(membership.member, remaining=3)
    card(membership.member, "0400000E")
    assert check(reader, "0400000E")["reason"] == "granted_pack"
    clock.move_to(at_bangkok(12, 30))
    assert check(reader, "0400000E")["reason"] == "granted"
    purchase.refresh_from_db()
    assert purchase.remaining == 2


def test_a_pack_does_not_admit_a_suspended_member(reader, member_with, committed):
    membership = member_with()
    past_due(membership, committed)
    ms.membership_suspend(membership)
    visit_pack(membership.member, remaining=5)
    card(membership.member, "0400000F")
    assert check(reader, "0400000F")["reason"] == "membership_suspended"


# --- 8: anti-passback ------------------------------------------------------------------


def test_timed_anti_passback_refuses_the_same_direction_within_the_minutes(
    zone, make_device, active_member, clock
):
    zone.anti_passback, zone.anti_passback_minutes = AntiPassback.TIMED, 5
    zone.save()
    entry = device_client(make_device(zone, "in")[1])
    card(active_member, "04000010")
    assert check(entry, "04000010")["reason"] == "granted"
    clock.move_to(NOW + dt.timedelta(minutes=2))
    body = check(entry, "04000010")
    assert (body["granted"], body["reason"]) == (False, "anti_passback")
    clock.move_to(NOW + dt.timedelta(minutes=6))
    assert check(entry, "04000010")["reason"] == "granted"


def test_strict_anti_passback_needs_an_exit_before_the_next_entry(
    zone, make_device, active_member, clock
):
    zone.anti_passback = AntiPassback.STRICT
    zone.save()
    entry = device_client(make_device(zone, "in")[1])
    exit_ = device_client(make_device(zone, "out", direction=DeviceDirection.OUT)[1])
    card(active_member, "04000011")
    assert check(entry, "04000011")["reason"] == "granted"
    clock.move_to(NOW + dt.timedelta(hours=2))
    assert check(entry, "04000011")["reason"] == "anti_passback"
    assert check(exit_, "04000011")["reason"] == "granted"
    assert check(exit_, "04000011")["reason"] == "anti_passback"  # two exits
    assert check(entry, "04000011")["reason"] == "granted"
    # A new local day starts clean.
    clock.move_to(at_bangkok(8, day=TODAY + dt.timedelta(days=1)))
    assert check(entry, "04000011")["reason"] == "granted"


def test_anti_passback_off_allows_repeated_entries(reader, active_member):
    card(active_member, "04000012")
    assert [check(reader, "04000012")["reason"] for _ in range(3)] == ["granted"] * 3


# --- 9–10: staff stop and capacity -----------------------------------------------------


def test_staff_stop_alert_denies_until_resolved_and_other_alerts_only_show(reader, active_member):
    note_add(member=active_member, body="Prefers a female trainer", is_alert=True)
    stop = note_add(member=active_member, body="STOP: ID check pending", is_alert=True)
    card(active_member, "04000013")
    body = check(reader, "04000013")
    assert (body["granted"], body["reason"]) == (False, "staff_stop")
    assert body["member"]["alerts"] == ["STOP: ID check pending", "Prefers a female trainer"]
    alert_resolve(stop)
    body = check(reader, "04000013")
    assert (body["granted"], body["member"]["alerts"]) == (True, ["Prefers a female trainer"])


def test_zone_full_until_someone_leaves(zone, make_device, member_with):
    zone.capacity = 1
    zone.save()
    entry = device_client(make_device(zone, "in")[1])
    exit_ = device_client(make_device(zone, "out", direction=DeviceDirection.OUT)[1])
    first, second = member_with().member, member_with().member
    card(first, "04000014")
    card(second, "04000015")
    assert check(entry, "04000014")["reason"] == "granted"
    body = check(entry, "04000015")
    assert (body["granted"], body["reason"]) == (False, "zone_full")
    assert check(exit_, "04000014")["reason"] == "granted"
    assert check(entry, "04000015")["reason"] == "granted"


def test_exits_are_never_held_for_membership_reasons(zone, make_device):
    exit_ = device_client(make_device(zone, "out", direction=DeviceDirection.OUT)[1])
    card(MemberFactory(), "04000016")
    assert check(exit_, "04000016")["reason"] == "granted"


# --- Warnings --------------------------------------------------------------------------


def test_grace_period_warning_for_a_past_due_member(reader, member_with, committed):
    membership = member_with()
    past_due(membership, committed)
    card(membership.member, "04000017")
    body = check(reader, "04000017")
    assert body["granted"] is True
    assert [w["code"] for w in body["warnings"]] == ["grace_period"]


def test_grace_period_warning_from_the_dunning_access_warning(reader, member_with):
    membership = member_with()
    ms.membership_set_restrictions(membership, access_warning=True)
    card(membership.member, "04000018")
    assert [w["code"] for w in check(reader, "04000018")["warnings"]] == ["grace_period"]


def test_card_expiring_warning(reader, member_with):
    membership = member_with(token="tok_expiring_ok")  # expires at the end of this month
    card(membership.member, "04000019")
    body = check(reader, "04000019")
    assert body["granted"] is True
    assert [w["code"] for w in body["warnings"]] == ["card_expiring"]


def test_membership_ending_warning(reader, member_with):
    membership = member_with(plan=PlanFactory(interval="week"))
    ms.membership_cancel(membership, at_period_end=True)
    membership.refresh_from_db()
    assert membership.cancel_at == TODAY + dt.timedelta(days=7)
    card(membership.member, "0400001A")
    body = check(reader, "0400001A")
    assert body["granted"] is True
    assert [w["code"] for w in body["warnings"]] == ["membership_ending"]


def test_no_warnings_for_a_member_in_good_standing(reader, active_member):
    card(active_member, "0400001B")
    assert check(reader, "0400001B")["warnings"] == []


# --- Messages --------------------------------------------------------------------------


def test_messages_are_in_the_members_language(reader, member_with, committed):
    thai = member_with(member=MemberFactory(language="th"))
    past_due(thai, committed)
    card(thai.member, "0400001C")
    body = check(reader, "0400001C")
    assert body["message"] == "ยินดีต้อนรับ!"
    assert body["warnings"][0]["message"] == "คุณมียอดค้างชำระ กรุณาชำระที่เคาน์เตอร์"
    english = member_with(member=MemberFactory(language="en"))
    card(english.member, "0400001D")
    assert check(reader, "0400001D")["message"] == "Welcome!"


def test_every_reason_and_warning_has_a_thai_message():
    from access_control.reasons import reason_message, warning_message

    thai = "\u0e00-\u0e7f"
    import re

    for reason in Reason:
        with translation.override("en"):
            english = reason_message(reason, "en")
        assert re.search(f"[{thai}]", reason_message(reason, "th")), reason
        assert english != reason_message(reason, "th")
    for code in WarningCode:
        assert re.search(f"[{thai}]", warning_message(code, "th")), code


# --- The engine alone: rule order ------------------------------------------------------


def test_the_first_failing_rule_is_the_reason():
    zone = ZoneSnapshot(1, "gym-floor", "Gym", 1, AntiPassback.NONE, 5, 1, "Asia/Bangkok")
    facts = GateFacts(now=NOW, zone=zone, direction="in", credential_status="lost", occupancy=5)
    assert decide(facts) == AccessDecision(granted=False, reason=Reason.CREDENTIAL_REVOKED)
    active = GateFacts(now=NOW, zone=zone, direction="in", credential_status="active", occupancy=5)
    assert decide(active).reason == Reason.NO_MEMBERSHIP
    assert Decision.DENIED == "denied"
