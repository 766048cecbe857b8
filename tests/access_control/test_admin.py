"""The front desk's access screens: the live feed, check-in, overrides, cards and devices.

Each role sees what its job needs (``members.roles``): the front desk checks members in,
watches the feed, overrides denials and replaces lost cards; only a manager manages
devices.  Every change goes through a service, and what a service refuses is a message
on the page, never a server error.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule

from access_control.keys import key_hash
from access_control.models import (
    AccessEvent,
    Credential,
    CredentialStatus,
    Device,
)
from access_control.services import manual_check_in
from billing.models import Location, Zone
from config.middleware import GymTimeZoneMiddleware
from members import hooks, roles
from members.models import Member
from tests.factories import MemberFactory

from .helpers import NOW, card, check, device_client

pytestmark = pytest.mark.django_db
EVENTS = "/admin/access_control/accessevent/"
FEED = f"{EVENTS}feed/"
FEED_DATA = f"{EVENTS}feed/data/"
CHECK_IN = f"{EVENTS}check-in/"
CREDENTIALS = "/admin/access_control/credential/"
DEVICES = "/admin/access_control/device/"
THAI = {"HTTP_ACCEPT_LANGUAGE": "th"}


@pytest.fixture
def login(make_staff):
    def as_role(role):
        client = Client()
        client.force_login(make_staff(role))
        return client

    return as_role


@pytest.fixture
def desk(login):
    return login(roles.FRONT_DESK)


@pytest.fixture
def manager(login):
    return login(roles.MANAGER)


def staff_with(*codenames: str) -> Client:
    """A staff login holding exactly these ``access_control`` permissions."""
    user = get_user_model().objects.create_user(
        username=f"staff-{'-'.join(codenames) or 'none'}", password="pw", is_staff=True
    )
    group = Group.objects.create(name=f"only {' '.join(codenames) or 'nothing'}")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="access_control", codename__in=codenames)
    )
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def breadcrumbs(response) -> str:
    match = re.search(r'<div class="breadcrumbs">(.*?)</div>', response.content.decode(), re.S)
    assert match, "the page has no breadcrumbs"
    return match.group(1)


def labels(response) -> list[str]:
    return re.findall(r"<label[^>]*>([^<]+)</label>", response.content.decode())


# --- The live feed ----------------------------------------------------------------------


def test_the_feed_lists_the_latest_attempts_newest_first_with_denials_and_reasons(
    desk, reader, active_member, clock
):
    card(active_member, "04A1B2C3")
    check(reader, "04A1B2C3")
    clock.move_to(NOW + dt.timedelta(seconds=5))
    check(reader, "04FFFFFF")  # unknown

    page = desk.get(FEED)
    assert page.status_code == 200
    html = page.content.decode()
    assert active_member.full_name in html
    assert 'class="denied"' in html and "unknown_credential" in html

    reply = desk.get(FEED_DATA)
    assert "no-store" in reply["Cache-Control"]
    data = reply.json()
    first, second = data["events"]
    assert (first["granted"], first["reason"], first["presented"]) == (
        False,
        "unknown_credential",
        "04FFFFFF",
    )
    assert first["message"] == "Card not recognised. Please see the front desk."
    assert first["override_url"].endswith(f"/{first['id']}/override/")
    assert (second["granted"], second["member_name"], second["member_number"]) == (
        True,
        active_member.full_name,
        active_member.member_number,
    )
    assert second["time"] == "10:00:00"  # the gym's local time
    assert "04FFFFFF" in data["rows_html"] and "Gym-Floor" in data["occupancy_html"]
    assert {z["zone"]: z["inside"] for z in data["occupancy"]} == {"gym-floor": 1}


def test_the_feed_filters_by_zone_and_to_denials(desk, zone, make_zone, make_device, active_member):
    studio = make_zone("studio")
    card(active_member, "04A1B2C3")
    check(device_client(make_device(zone)[1]), "04A1B2C3")
    check(device_client(make_device(studio)[1]), "04A1B2C3")
    check(device_client(make_device(studio)[1]), "04FFFFFF")

    in_studio = desk.get(FEED_DATA, {"zone": studio.pk}).json()["events"]
    assert [(e["zone"], e["granted"]) for e in in_studio] == [("Studio", False), ("Studio", True)]
    denials = desk.get(FEED_DATA, {"denied": "1"}).json()["events"]
    assert [e["reason"] for e in denials] == ["unknown_credential"]
    assert f'value="{studio.pk}" selected' in desk.get(FEED, {"zone": studio.pk}).content.decode()


def test_the_feed_shows_the_members_photo_and_reads_a_fixed_number_of_queries(
    desk, reader, django_assert_max_num_queries
):
    for n in range(15):
        member = MemberFactory()
        Member.objects.filter(pk=member.pk).update(photo=f"members/{n}.jpg")
        card(member, f"04A1B2{n:02X}")
        check(reader, f"04A1B2{n:02X}")
    with django_assert_max_num_queries(10):
        events = desk.get(FEED_DATA).json()["events"]
    assert len(events) == 15
    assert events[0]["photo_url"].endswith("members/14.jpg")


def test_the_feed_and_the_log_show_each_attempt_in_its_own_locations_time(
    desk, reader, make_device, clock
):
    london = Location.objects.create(name="Shoreditch", time_zone="Europe/London")
    abroad = Zone.objects.create(location=london, code="london-floor", name="London floor")
    london_reader = device_client(make_device(abroad, "london-in")[1])
    clock.move_to(dt.datetime(2027, 2, 3, 20, 0, 5, tzinfo=dt.UTC))
    check(reader, "04FFFFFF")  # Bangkok: already Thursday
    check(london_reader, "04EEEEEE")  # London: still Wednesday evening
    rows = desk.get(FEED_DATA).json()["events"]
    assert {(r["zone"], r["day"], r["time"]) for r in rows} == {
        ("Gym-Floor", "2027-02-04", "03:00:05"),
        ("London floor", "2027-02-03", "20:00:05"),
    }
    by_zone = {r["zone"]: r["at"] for r in rows}
    assert by_zone["London floor"] == "2027-02-03T20:00:05+00:00"
    log = desk.get(EVENTS).content.decode()
    assert "2027-02-04 03:00:05" in log and "2027-02-03 20:00:05" in log


def test_the_feed_refreshes_itself_and_works_without_javascript(desk):
    html = desk.get(FEED).content.decode()
    assert 'data-url="/admin/access_control/accessevent/feed/data/?' in html
    assert '<noscript><meta http-equiv="refresh"' in html


def test_odd_ids_in_addresses_are_ignored_not_errors(desk):
    for params in ({"zone": "99999999999999999999"}, {"zone": "²"}, {"zone": "๑"}):
        assert desk.get(FEED_DATA, params).status_code == 200, params
    for params in ({"member": "99999999999999999999", "event": "²"}, {"event": "1" * 30}):
        assert desk.get(CHECK_IN, params).status_code == 200, params
    assert desk.get(f"{CREDENTIALS}add/", {"member": "99999999999999999999"}).status_code == 200


def test_the_feed_and_check_in_need_their_permissions():
    nobody = staff_with()
    for url in (FEED, FEED_DATA, CHECK_IN, EVENTS):
        assert nobody.get(url).status_code == 403, url
    viewer = staff_with("view_accessevent")
    assert viewer.get(FEED).status_code == 200
    assert viewer.get(CHECK_IN).status_code == 403


def test_the_event_list_filters_and_finds_a_card_in_any_form(desk, reader, active_member):
    card(active_member, "04A1B2C3")
    check(reader, "04A1B2C3")
    check(reader, "04FFFFFF")
    for query in (
        {"decision__exact": "denied"},
        {"reason": "unknown_credential"},
        {"source__exact": "online"},
        {"occurred_at__gte": "2027-02-03 00:00:00+07:00"},
        {"zone__id__exact": Zone.objects.get().pk},
    ):
        assert desk.get(EVENTS, query).status_code == 200, query
    denied = desk.get(EVENTS, {"reason": "unknown_credential"})
    assert list(denied.context["cl"].result_list) == [AccessEvent.objects.get(decision="denied")]
    by_card = desk.get(EVENTS, {"q": "04:a1:b2:c3"}).context["cl"].result_list
    by_name = desk.get(EVENTS, {"q": active_member.last_name}).context["cl"].result_list
    assert [e.member for e in by_card] == [e.member for e in by_name] == [active_member]
    assert [e.presented for e in desk.get(EVENTS, {"q": "04FFFFFF"}).context["cl"].result_list] == [
        "04FFFFFF"
    ]


def test_the_access_log_and_the_credential_list_show_their_search_box(desk):
    for url in (EVENTS, CREDENTIALS):
        html = desk.get(url).content.decode()
        assert 'id="searchbar"' in html and 'id="searchbar_helptext"' in html, url


def test_the_access_log_names_reasons_in_the_desks_language(desk, zone):
    manual_check_in(MemberFactory(), zone, None)
    html = desk.get(EVENTS, **THAI).content.decode()
    assert '<a href="?reason=no_membership">ไม่มีสมาชิกภาพ</a>' in html  # the filter
    assert (
        '<td class="field-reason_display"><span title="ไม่มีสมาชิกภาพที่ใช้งานได้ '
        'กรุณาติดต่อเคาน์เตอร์">ไม่มีสมาชิกภาพ</span></td>'
    ) in html
    assert ">no_membership<" not in html and ">no membership<" not in html


def test_an_events_page_shows_the_gyms_local_time_in_the_desks_language(desk, zone):
    denied = manual_check_in(MemberFactory(), zone, None)  # 03:00 UTC, 10:00 in Bangkok
    page = desk.get(f"{EVENTS}{denied.event_id}/change/")
    assert "Feb. 3, 2027, 10 a.m." in page.content.decode()
    assert "3 a.m." not in page.content.decode()
    thai = desk.get(f"{EVENTS}{denied.event_id}/change/", **THAI)
    crumbs = breadcrumbs(thai)
    assert "3 ก.พ. 2570 10:00 ปฏิเสธ: ไม่มีสมาชิกภาพที่ใช้งานได้" in crumbs  # the Buddhist year
    assert "03:00" not in crumbs and "denied" not in crumbs and "no_membership" not in crumbs
    assert {"วันที่ใช้แพ็กเกจ:", "บันทึกเมื่อ:"} <= set(labels(thai))
    assert ">no_membership<" not in thai.content.decode()


def test_the_override_page_names_the_denial_in_local_time_and_the_desks_language(desk, zone):
    denied = manual_check_in(MemberFactory(), zone, None)
    page = desk.get(f"{EVENTS}{denied.event_id}/override/", **THAI)
    crumbs = breadcrumbs(page)
    assert "3 ก.พ. 2570 10:00 ปฏิเสธ: ไม่มีสมาชิกภาพที่ใช้งานได้" in crumbs  # the Buddhist year
    assert "03:00" not in crumbs and "denied" not in crumbs
    assert page.context["summary"].startswith("ถูกปฏิเสธเมื่อ 2027-02-03 10:00:00 ที่ Gym-Floor")
    assert "no_membership" not in page.context["summary"]


def test_events_are_read_only(desk, reader, make_staff):
    check(reader, "04FFFFFF")
    event = AccessEvent.objects.get()
    assert desk.get(f"{EVENTS}add/").status_code == 403
    assert desk.get(f"{EVENTS}{event.pk}/delete/").status_code == 403
    page = desk.get(f"{EVENTS}{event.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    owner = Client()
    owner.force_login(make_staff(roles.OWNER))
    assert owner.get(f"{EVENTS}add/").status_code == 403


# --- Manual check-in and overrides --------------------------------------------------------


def test_the_desk_checks_a_member_in_and_sees_the_decision(desk, zone, active_member):
    response = desk.post(CHECK_IN, {"member": active_member.pk, "zone": zone.pk, "direction": "in"})
    event = AccessEvent.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{CHECK_IN}?event={event.pk}&zone={zone.pk}"
    assert (event.source, event.decision, event.staff_user.username) == (
        "manual",
        "granted",
        "front_desk",
    )
    page = desk.get(response["Location"])
    assert page.context["result"].granted
    assert active_member.full_name in page.content.decode()
    assert texts(page) == [f"{active_member.full_name} checked in."]


def test_a_denied_check_in_shows_the_reason_and_the_override_form(desk, zone):
    stranger = MemberFactory()  # no membership
    desk.post(CHECK_IN, {"member": stranger.pk, "zone": zone.pk, "direction": "in"})
    event = AccessEvent.objects.get()
    page = desk.get(CHECK_IN, {"event": event.pk, "zone": zone.pk})
    html = page.content.decode()
    assert 'data-reason="no_membership"' in html
    assert "No membership" in html  # the desk's label, not the member's message
    assert "Please see the front desk" not in html
    assert f"/{event.pk}/override/?next=" in html


def test_the_check_in_form_is_prefilled_from_the_feed_and_refuses_bad_input(desk, zone):
    member = MemberFactory()
    form = desk.get(CHECK_IN, {"member": member.pk, "zone": zone.pk}).context["form"]
    assert (form.initial["member"], form.initial["zone"]) == (member.pk, zone.pk)
    response = desk.post(CHECK_IN, {"member": 999999, "zone": zone.pk, "direction": "sideways"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"member", "direction"}
    assert not AccessEvent.objects.exists()


def test_an_override_needs_a_reason_and_is_logged_with_the_staff_user(desk, zone):
    stranger = MemberFactory()
    denied = manual_check_in(stranger, zone, None)
    url = f"{EVENTS}{denied.event_id}/override/"
    back = f"{CHECK_IN}?event={denied.event_id}"

    blank = desk.post(f"{url}?next={back}", {"reason": "  "})
    assert blank.status_code == 200 and blank.context["form"].errors
    assert not AccessEvent.objects.filter(source="override").exists()

    done = desk.post(f"{url}?next={back}", {"reason": "Paid in cash, receipt 88"})
    assert (done.status_code, done["Location"]) == (302, back)
    override = AccessEvent.objects.get(source="override")
    assert (override.overrides_id, override.staff_user.username, override.override_reason) == (
        denied.event_id,
        "front_desk",
        "Paid in cash, receipt 88",
    )
    row = desk.get(FEED_DATA).json()["events"][1]
    assert (row["override_url"], row["overridden_by"]) == ("", "front_desk")

    again = desk.post(url, {"reason": "twice"})
    assert again.status_code == 200
    assert "This denial is already overridden." in texts(again)


def test_an_override_is_refused_without_the_permission(zone):
    denied = manual_check_in(MemberFactory(), zone, None)
    viewer = staff_with("view_accessevent", "add_accessevent")
    url = f"{EVENTS}{denied.event_id}/override/"
    assert viewer.get(url).status_code == 403
    assert viewer.post(url, {"reason": "Friend of mine"}).status_code == 403
    assert not AccessEvent.objects.filter(source="override").exists()
    assert viewer.get(FEED_DATA).json()["events"][0]["override_url"] == ""


def test_an_unsafe_next_address_is_ignored(desk, zone):
    denied = manual_check_in(MemberFactory(), zone, None)
    response = desk.post(
        f"{EVENTS}{denied.event_id}/override/?next=https://evil.example/",
        {"reason": "Paid"},
    )
    assert response["Location"] == f"{EVENTS}{denied.event_id}/change/"


def test_refusals_read_in_the_desks_language_without_codes(desk, zone):
    holder, member = MemberFactory(), MemberFactory()
    card(holder, "A0000001")
    issue = {"member": member.pk, "kind": "rfid", "input_format": "hex"}
    taken = desk.post(f"{CREDENTIALS}add/", {**issue, "value": "a0000001"}, **THAI)
    not_hex = desk.post(f"{CREDENTIALS}add/", {**issue, "value": "zz:zz:zz"}, **THAI)
    denied = manual_check_in(member, zone, None)
    desk.get(desk.post(f"{EVENTS}{denied.event_id}/override/", {"reason": "Paid"})["Location"])
    twice = desk.post(f"{EVENTS}{denied.event_id}/override/", {"reason": "again"}, **THAI)
    refusals = [*texts(taken), *texts(not_hex), *texts(twice)]
    assert refusals == [
        "หมายเลข A0000001 เป็นของบัตรผ่านอื่นที่ใช้งานอยู่แล้ว",
        "นี่ไม่ใช่ UID ของบัตรแบบเลขฐานสิบหก: ต้องเป็นเลขฐานสิบหก 6 ถึง 20 หลัก และมีจำนวนหลักเป็นเลขคู่",
        "การปฏิเสธนี้ได้รับการยกเว้นไปแล้ว",
    ]
    for response, text in zip((taken, not_hex, twice), refusals, strict=True):
        assert response.context["form"].non_field_errors() == [text]


def test_the_event_page_offers_override_and_check_in(desk, zone):
    denied = manual_check_in(MemberFactory(), zone, None)
    html = desk.get(f"{EVENTS}{denied.event_id}/change/").content.decode()
    assert f"{denied.event_id}/override/" in html
    assert "check-in/?member=" in html


def test_the_member_page_checks_the_member_in_and_opens_their_access_log(desk, zone):
    member = MemberFactory()
    manual_check_in(member, zone, None)
    manual_check_in(MemberFactory(), zone, None)
    html = desk.get(f"/admin/members/member/{member.pk}/change/").content.decode()
    check_in = f"{CHECK_IN}?member={member.pk}"
    log = f"{EVENTS}?member__id__exact={member.pk}"
    assert check_in in html and log in html
    assert desk.get(check_in).status_code == 200
    listed = desk.get(log)
    assert listed.status_code == 200
    assert {event.member_id for event in listed.context["cl"].result_list} == {member.pk}


def test_the_member_page_opens_the_members_cards_and_issues_a_new_one(desk):
    member = MemberFactory()
    mine = card(member, "04A1B2C3")
    card(MemberFactory(), "04D4E5F6")
    html = desk.get(f"/admin/members/member/{member.pk}/change/").content.decode()
    cards = f"{CREDENTIALS}?member__id__exact={member.pk}"
    issue = f"{CREDENTIALS}add/?member={member.pk}"
    assert cards in html and issue in html
    listed = desk.get(cards)
    assert list(listed.context["cl"].result_list) == [mine]
    assert f"{CREDENTIALS}{mine.pk}/change/" in listed.content.decode()
    page = desk.get(f"{CREDENTIALS}{mine.pk}/change/").content.decode()
    assert f"{CREDENTIALS}{mine.pk}/replace/" in page  # the lost-card flow
    assert desk.get(issue).context["form"].initial == {"member": str(member.pk)}


def test_the_member_page_offers_only_what_the_user_may_do(zone):
    member = MemberFactory()
    user = get_user_model().objects.create_user(username="clerk", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="members", codename="view_member")
    )
    viewer = Client()
    viewer.force_login(user)
    html = viewer.get(f"/admin/members/member/{member.pk}/change/").content.decode()
    assert "check-in/?member=" not in html and "member__id__exact" not in html
    assert CREDENTIALS not in html


# --- Card numbers on the member list ------------------------------------------------------


def test_the_member_list_finds_a_member_by_card_number_in_any_form(desk):
    holder, other = MemberFactory(), MemberFactory()
    card(holder, "00BC614E")  # 12345678 as Wiegand-34
    card(other, "7BB26E")  # 123:45678 as Wiegand-26, or 8106606
    barcode = card(other, "GYM-000123", kind="barcode")
    assert any(f.__name__ == "card_search_terms" for f in hooks.member_search_terms)

    def found(term):
        response = desk.get("/admin/members/member/", {"q": term})
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    assert found("00:bc:61:4e") == [holder]
    assert found("12345678") == [holder]
    assert found("123:45678") == found("8106606") == [other]
    assert found(barcode.value) == [other]
    assert found("04FFFFFF") == []


def test_the_check_in_member_picker_finds_a_member_by_card(desk):
    holder = MemberFactory()
    card(holder, "04A1B2C3")
    MemberFactory()
    response = desk.get(
        "/admin/autocomplete/",
        {
            "app_label": "access_control",
            "model_name": "accessevent",
            "field_name": "member",
            "term": "04 a1 b2 c3",
        },
    )
    assert [r["id"] for r in response.json()["results"]] == [str(holder.pk)]


def test_a_lost_cards_number_still_finds_whose_it_was(desk):
    holder = MemberFactory()
    lost = card(holder, "04A1B2C3")
    desk.post(f"{CREDENTIALS}{lost.pk}/revoke/", {"why": "lost"})
    response = desk.get("/admin/members/member/", {"q": "04A1B2C3"})
    assert list(response.context["cl"].result_list) == [holder]


# --- Credentials ----------------------------------------------------------------------------


def test_the_desk_issues_a_card_from_any_printed_form(desk):
    member = MemberFactory()
    response = desk.post(
        f"{CREDENTIALS}add/",
        {"member": member.pk, "kind": "rfid", "value": "04:a1:b2:c3", "input_format": "auto"},
    )
    credential = Credential.objects.get()
    assert response["Location"] == f"{CREDENTIALS}{credential.pk}/change/"
    assert (credential.member, credential.value, credential.issued_by.username) == (
        member,
        "04A1B2C3",
        "front_desk",
    )
    qr = desk.post(
        f"{CREDENTIALS}add/", {"member": member.pk, "kind": "qr", "input_format": "auto"}
    )
    assert qr.status_code == 302 and Credential.objects.filter(kind="qr").count() == 1


def test_issuing_refuses_ambiguous_or_taken_numbers_on_the_page(desk):
    member = MemberFactory()
    card(MemberFactory(), "04A1B2C3")
    ambiguous = desk.post(
        f"{CREDENTIALS}add/",
        {"member": member.pk, "kind": "rfid", "value": "12345678", "input_format": "auto"},
    )
    assert ambiguous.status_code == 200
    assert "for a number of digits only, choose its format" in " ".join(texts(ambiguous))
    taken = desk.post(
        f"{CREDENTIALS}add/",
        {"member": member.pk, "kind": "rfid", "value": "04a1b2c3", "input_format": "hex"},
    )
    assert taken.status_code == 200
    assert texts(taken) == ["Another active credential already has the number 04A1B2C3."]
    empty = desk.post(f"{CREDENTIALS}add/", {"member": member.pk, "kind": "rfid", "value": ""})
    assert empty.status_code == 200 and "value" in empty.context["form"].errors
    assert Credential.objects.filter(member=member).count() == 0


def test_a_lost_card_is_revoked_and_replaced_in_one_step(desk, reader, active_member):
    lost = card(active_member, "04A1B2C3", label="Blue fob")
    response = desk.post(
        f"{CREDENTIALS}{lost.pk}/replace/",
        {"kind": "rfid", "value": "04D4E5F6", "input_format": "hex", "label": ""},
    )
    new = Credential.objects.get(status=CredentialStatus.ACTIVE)
    assert response["Location"] == f"{CREDENTIALS}{new.pk}/change/"
    lost.refresh_from_db()
    assert (lost.status, new.value, new.label, new.member) == (
        "lost",
        "04D4E5F6",
        "Blue fob",
        active_member,
    )
    assert check(reader, "04A1B2C3")["reason"] == "credential_revoked"
    assert check(reader, "04D4E5F6")["granted"] is True


def test_a_refused_replacement_leaves_the_old_card_working(desk, active_member):
    lost = card(active_member, "04A1B2C3")
    card(MemberFactory(), "04D4E5F6")
    response = desk.post(
        f"{CREDENTIALS}{lost.pk}/replace/",
        {"kind": "rfid", "value": "04D4E5F6", "input_format": "hex"},
    )
    assert response.status_code == 200
    assert texts(response) == ["Another active credential already has the number 04D4E5F6."]
    lost.refresh_from_db()
    assert lost.status == CredentialStatus.ACTIVE


def test_a_lost_or_revoked_card_is_not_replaced_again(desk, active_member):
    lost = card(active_member, "04A1B2C3")
    replace = f"{CREDENTIALS}{lost.pk}/replace/"
    first = desk.post(replace, {"kind": "rfid", "value": "04D4E5F6", "input_format": "hex"})
    assert first.status_code == 302
    page = desk.get(f"{CREDENTIALS}{lost.pk}/change/").content.decode()
    assert replace not in page and f"{lost.pk}/revoke/" not in page
    again = desk.post(replace, {"kind": "rfid", "value": "04D4E5F7", "input_format": "hex"}, **THAI)
    assert again.status_code == 200
    assert texts(again) == ["บัตรผ่านนี้สูญหายหรือถูกยกเลิกไปแล้ว"]
    active = Credential.objects.filter(member=active_member, status=CredentialStatus.ACTIVE)
    assert list(active.values_list("value", flat=True)) == ["04D4E5F6"]


def test_revoking_and_bulk_marking_lost(desk, active_member):
    one, two, three = (card(active_member, f"04A1B2C{n}") for n in range(3))
    assert desk.get(f"{CREDENTIALS}{one.pk}/revoke/").status_code == 200
    one.refresh_from_db()
    assert one.status == "active", "a GET changes nothing"
    desk.post(f"{CREDENTIALS}{one.pk}/revoke/", {"why": "revoked"})
    desk.post(
        CREDENTIALS,
        {"action": "mark_lost", "_selected_action": [two.pk, three.pk]},
    )
    assert dict(Credential.objects.values_list("pk", "status")) == {
        one.pk: "revoked",
        two.pk: "lost",
        three.pk: "lost",
    }


def test_the_credential_list_finds_a_card_by_its_wiegand_number(desk, active_member):
    wanted = card(active_member, "7BB26E")
    card(active_member, "04A1B2C3")
    found = desk.get(CREDENTIALS, {"q": "123:45678"}).context["cl"].result_list
    assert list(found) == [wanted]
    by_member = desk.get(CREDENTIALS, {"q": active_member.last_name}).context["cl"].result_list
    assert len(by_member) == 2
    assert desk.get(f"{CREDENTIALS}{wanted.pk}/delete/").status_code == 403


# --- Devices ----------------------------------------------------------------------------------


def test_the_front_desk_cannot_manage_devices(desk, zone, make_device):
    device, _key = make_device(zone)
    for url in (
        DEVICES,
        f"{DEVICES}add/",
        f"{DEVICES}{device.pk}/change/",
        f"{DEVICES}{device.pk}/rotate-key/",
        f"{DEVICES}{device.pk}/revoke/",
    ):
        assert desk.get(url).status_code == 403, url
    assert desk.post(f"{DEVICES}{device.pk}/revoke/").status_code == 403
    device.refresh_from_db()
    assert device.revoked_at is None


def test_a_new_device_shows_its_key_once_and_never_its_hash(manager, zone):
    response = manager.post(
        f"{DEVICES}add/",
        {
            "name": "Studio door",
            "kind": "door",
            "direction": "both",
            "zone": zone.pk,
            "credential_format": "wiegand26",
        },
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    ((device, key),) = response.context["keys"]
    assert device.key_hash == key_hash(key)
    assert key in response.content.decode()
    assert check(device_client(key), "04FFFFFF")["reason"] == "unknown_credential"
    page = manager.get(f"{DEVICES}{device.pk}/change/").content.decode()
    listing = manager.get(DEVICES).content.decode()
    for html in (page, listing):
        assert key not in html and device.key_hash not in html
        assert device.key_prefix in html


def test_a_bad_new_device_is_a_form_error(manager, zone, make_device):
    make_device(zone, "Taken")
    response = manager.post(
        f"{DEVICES}add/", {"name": "Taken", "kind": "reader", "direction": "in", "zone": zone.pk}
    )
    assert response.status_code == 200 and "name" in response.context["form"].errors
    assert Device.objects.count() == 1


def test_rotating_a_key_shows_the_new_one_once_and_the_old_one_stops(manager, zone, make_device):
    device, old = make_device(zone)
    confirm = manager.get(f"{DEVICES}{device.pk}/rotate-key/")
    assert confirm.status_code == 200
    assert check(device_client(old), "04FFFFFF")["granted"] is False, "GET changes nothing"
    response = manager.post(f"{DEVICES}{device.pk}/rotate-key/")
    ((_device, new),) = response.context["keys"]
    assert new != old and new in response.content.decode()
    reply = device_client(old).post("/api/v1/access/check", {"credential": "04FF"}, format="json")
    assert reply.status_code == 401
    assert check(device_client(new), "04FFFFFF")["reason"] == "unknown_credential"


def test_revoking_a_device_stops_its_key_and_it_cannot_be_rotated_back(manager, zone, make_device):
    device, key = make_device(zone)
    response = manager.post(f"{DEVICES}{device.pk}/revoke/")
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.revoked_at is not None
    reply = device_client(key).post("/api/v1/access/check", {"credential": "04FF"}, format="json")
    assert reply.status_code == 401
    rotate = manager.post(f"{DEVICES}{device.pk}/rotate-key/")
    assert rotate.status_code == 200 and "revoked" in " ".join(texts(rotate))


def test_bulk_key_rotation_shows_every_new_key(manager, zone, make_device):
    first, _ = make_device(zone, "a")
    second, _ = make_device(zone, "b")
    response = manager.post(
        DEVICES, {"action": "rotate_keys", "_selected_action": [first.pk, second.pk]}
    )
    keys = dict((device.name, key) for device, key in response.context["keys"])
    assert set(keys) == {"a", "b"}
    for name, key in keys.items():
        assert Device.objects.get(name=name).key_hash == key_hash(key)


def test_bulk_rotation_and_revocation_are_in_each_devices_history(manager, zone, make_device):
    first, _ = make_device(zone, "a")
    second, _ = make_device(zone, "b")
    both = [first.pk, second.pk]
    manager.post(DEVICES, {"action": "rotate_keys", "_selected_action": both})
    manager.post(DEVICES, {"action": "revoke_devices", "_selected_action": both})
    manager.post(DEVICES, {"action": "revoke_devices", "_selected_action": both})  # no-op
    history = LogEntry.objects.order_by("pk")
    assert [(e.object_repr, e.get_change_message(), e.user.username) for e in history] == [
        ("a", "Rotated the API key.", "manager"),
        ("b", "Rotated the API key.", "manager"),
        ("a", "Revoked the API key.", "manager"),
        ("b", "Revoked the API key.", "manager"),
    ]
    assert "Rotated the API key." in manager.get(f"{DEVICES}{first.pk}/history/").content.decode()


def test_a_manager_edits_a_devices_settings(manager, zone, make_device):
    device, key = make_device(zone)
    response = manager.post(
        f"{DEVICES}{device.pk}/change/",
        {
            "name": "Main gate",
            "kind": "turnstile",
            "direction": "both",
            "zone": zone.pk,
            "credential_format": "auto",
        },
    )
    assert response.status_code == 302
    device.refresh_from_db()
    assert (device.name, device.direction, device.key_hash) == ("Main gate", "both", key_hash(key))


# --- Places ---------------------------------------------------------------------------------


def test_the_desk_sees_zones_and_only_the_owner_changes_them(desk, zone, make_staff):
    assert desk.get("/admin/billing/zone/").status_code == 200
    assert desk.get("/admin/billing/location/").status_code == 200
    assert desk.get("/admin/billing/zone/add/").status_code == 403
    owner = Client()
    owner.force_login(make_staff(roles.OWNER))
    response = owner.post(
        f"/admin/billing/zone/{zone.pk}/change/",
        {
            "location": zone.location_id,
            "code": zone.code,
            "name": "Gym floor",
            "capacity": "2",
            "anti_passback": "none",
            "anti_passback_minutes": "5",
            "doors-TOTAL_FORMS": "1",
            "doors-INITIAL_FORMS": "0",
            "doors-0-name": "Main door",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    zone.refresh_from_db()
    assert (zone.capacity, zone.doors.get().name) == (2, "Main door")


def test_the_old_addresses_of_places_lead_to_billing(desk, zone):
    """Locations and zones moved to billing (``billing.places``); bookmarks still work."""
    moved = desk.get(f"/admin/access_control/zone/{zone.pk}/change/?_changelist_filters=q")
    assert (moved.status_code, moved["Location"]) == (
        301,
        f"/admin/billing/zone/{zone.pk}/change/?_changelist_filters=q",
    )
    assert desk.get("/admin/access_control/location/", follow=True).status_code == 200
    assert desk.get("/admin/access_control/device/").status_code == 403  # not moved: no redirect


def test_every_access_screen_opens_for_the_owner(make_staff, zone, make_device, active_member):
    owner = Client()
    owner.force_login(make_staff(roles.OWNER))
    device, _key = make_device(zone)
    credential = card(active_member, "04A1B2C3")
    event = manual_check_in(active_member, zone, None)
    pages = [
        EVENTS,
        FEED,
        CHECK_IN,
        f"{EVENTS}{event.event_id}/change/",
        CREDENTIALS,
        f"{CREDENTIALS}add/",
        f"{CREDENTIALS}{credential.pk}/change/",
        f"{CREDENTIALS}{credential.pk}/replace/",
        DEVICES,
        f"{DEVICES}add/",
        f"{DEVICES}{device.pk}/change/",
        "/admin/billing/zone/",
        f"/admin/billing/zone/{zone.pk}/change/",
        "/admin/billing/location/add/",
        "/admin/access_control/",
    ]
    for url in pages:
        assert owner.get(url).status_code == 200, url


def test_every_label_on_the_access_records_is_in_the_desks_language(
    make_staff, zone, make_device, active_member
):
    owner = Client()
    owner.force_login(make_staff(roles.OWNER))
    device, _key = make_device(zone)
    credential = card(active_member, "04A1B2C3")
    event = manual_check_in(active_member, zone, None)
    for url in (
        f"{EVENTS}{event.event_id}/change/",
        f"{CREDENTIALS}{credential.pk}/change/",
        f"{DEVICES}{device.pk}/change/",
    ):
        found = labels(owner.get(url, **THAI))
        assert found and [label for label in found if re.search("[A-Za-z]", label)] == [], url


# --- Time at the desk -------------------------------------------------------------------


def test_only_the_admin_reads_and_shows_times_in_the_gyms_time_zone():
    seen = {}

    def view(request):
        seen[request.path] = timezone.get_current_timezone_name()
        return HttpResponse()

    middleware = GymTimeZoneMiddleware(view)
    for path in ("/admin/access_control/accessevent/", "/api/v1/ping", "/pay/x"):
        middleware(RequestFactory().get(path))
    assert seen == {
        "/admin/access_control/accessevent/": "Asia/Bangkok",
        "/api/v1/ping": "UTC",
        "/pay/x": "UTC",
    }
    assert timezone.get_current_timezone_name() == "UTC"


def test_a_time_typed_in_the_admin_is_the_gyms_and_is_stored_in_utc():
    root = Client()
    root.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    response = root.post(
        "/admin/django_celery_beat/clockedschedule/add/",
        {
            "clocked_time_0": "2027-02-03",
            "clocked_time_1": "10:00:00",
            "periodictask_set-TOTAL_FORMS": "0",
            "periodictask_set-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["errors"]
    schedule = ClockedSchedule.objects.get()
    assert schedule.clocked_time == NOW  # 10:00 in Bangkok
    page = root.get(f"/admin/django_celery_beat/clockedschedule/{schedule.pk}/change/")
    form = page.context["adminform"].form
    assert form["clocked_time"].value() == NOW
    assert 'value="10:00:00"' in page.content.decode()
