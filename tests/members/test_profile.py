"""The member page is a profile the desk reads and acts from; editing is its own page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from access_control.models import Location, Zone
from access_control.services import manual_check_in
from billing.models import Invoice, InvoiceStatus
from billing.services.invoices import LineSpec, invoice_create
from members import roles, services
from members.models import Member, MemberNote, Sequence
from members.services import MEMBER_NUMBER_SEQUENCE
from tests.access_control.helpers import card as access_card
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2027, 2, 3, 3, 0, tzinfo=dt.UTC)  # 10:00 in Bangkok


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk(make_staff):
    client = Client()
    client.force_login(make_staff(roles.FRONT_DESK))
    return client


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def zone(db):
    location = Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")
    return Zone.objects.create(location=location, code="gym-floor", name="Gym floor")


def profile(client, member, **headers):
    return client.get(f"/admin/members/member/{member.pk}/change/", **headers)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_viewing_is_a_profile_and_editing_is_its_own_page(desk, committed):
    with committed():
        membership = signed_up(plan=PlanFactory(name="Monthly Gold", price=80_000))
    member = membership.member

    page = profile(desk, member)

    html = text(page)
    assert page.status_code == 200
    assert 'id="member_form"' not in html  # no form to read a member through
    assert member.full_name in html and f"#{member.member_number}" in html
    assert 'data-status="active"' in html
    assert "Monthly Gold" in html
    assert "฿800.00" in html  # the next payment, as money
    assert f"/admin/members/member/{member.pk}/edit/" in html

    form = desk.get(f"/admin/members/member/{member.pk}/edit/")
    assert 'id="member_form"' in form.content.decode()
    data = {
        **{key: value for key, value in form.context["adminform"].form.initial.items() if value},
        "first_name": "Renamed",
        "last_name": member.last_name,
        "language": "en",
        "country": "TH",
        "notes-TOTAL_FORMS": "0",
        "notes-INITIAL_FORMS": "0",
        "signatures-TOTAL_FORMS": "0",
        "signatures-INITIAL_FORMS": "0",
    }
    data.pop("household", None)
    saved = desk.post(f"/admin/members/member/{member.pk}/edit/", data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else ""
    assert saved["Location"] == f"/admin/members/member/{member.pk}/change/"
    member.refresh_from_db()
    assert member.first_name == "Renamed"


def test_the_header_card_shows_balance_last_visit_household_and_alerts_first(desk, committed, zone):
    with committed():
        membership = signed_up(plan=PlanFactory(price=150_000))
    member = membership.member
    invoice_create(
        member=member,
        currency="THB",
        reason="fee",
        specs=[LineSpec("fee", "Towel", 15_000, 700, True)],
    )
    partner = MemberFactory(first_name="Nok")
    household = services.household_create(payer=member, name="Thongdee family")
    services.household_add_member(household, partner)
    services.note_add(member=member, body="See staff: ID check", is_alert=True)
    manual_check_in(member, zone, None)

    html = text(profile(desk, member))

    assert html.index("See staff: ID check") < html.index('id="member-card"')  # alerts on top
    assert 'class="gym-alert"' in html
    assert "฿150.00" in html  # owed on the open fee invoice
    assert "Today, 10:00" in html  # the last visit, in the gym's time
    assert "Thongdee family" in html and "Nok" in html
    assert "Pays for the household" in html


def test_an_alert_is_resolved_from_the_profile(desk):
    member = MemberFactory()
    note = services.note_add(member=member, body="Locker key", is_alert=True)
    response = desk.post(f"/admin/members/member/{member.pk}/alerts/{note.pk}/resolve/")
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.resolved_at is not None
    assert 'class="gym-alert"' not in text(profile(desk, member))
    assert desk.get(f"/admin/members/member/{member.pk}/alerts/{note.pk}/resolve/").status_code == (
        405
    )


def test_a_note_is_added_from_the_profile_and_control_characters_are_refused(desk):
    member = MemberFactory()
    desk.post(f"/admin/members/member/{member.pk}/notes/add/", {"body": "Prefers mornings"})
    desk.post(f"/admin/members/member/{member.pk}/notes/add/", {"body": "bad\x07bell"})
    assert list(MemberNote.objects.filter(member=member).values_list("body", flat=True)) == [
        "Prefers mornings"
    ]


def test_the_actions_and_record_links_name_the_member(desk, committed):
    with committed():
        membership = signed_up()
    member = membership.member
    html = text(profile(desk, member))
    name = member.full_name
    for label in (
        f"Memberships of {name}",
        f"Invoices of {name}",
        f"Access log of {name}",
        f"Cards and passes of {name}",
    ):
        assert label in html, label
    assert f"/admin/access_control/accessevent/check-in/?member={member.pk}" in html
    assert f"/admin/billing/membership/{membership.pk}/freeze/?next=" in html
    assert f"/admin/billing/membership/{membership.pk}/cancel/?next=" in html
    assert f"/admin/billing/paymentmethod/new-card/{member.pk}/" in html
    assert "Add membership" not in html  # a live membership already

    prospect = MemberFactory()
    prospect_html = text(profile(desk, prospect))
    assert f"/admin/billing/membership/add/?member={prospect.pk}" in prospect_html
    # Nothing owed: billing's "Take payment" is not offered (the POS's "Take payment at the
    # till" is, on every member page).
    assert "Take payment" not in prospect_html.replace("Take payment at the till", "")


def test_someone_who_may_only_look_sees_no_actions(committed):
    with committed():
        member = signed_up(token=None).member
    user = get_user_model().objects.create_user(username="looker", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="members", codename="view_member")
    )
    client = Client()
    client.force_login(user)
    html = text(profile(client, member))
    assert member.full_name in html
    for hidden in ("Take payment", "Check in", "Edit details", "Send pay link", "Balance owed"):
        assert hidden not in html, hidden


def test_the_profile_reads_a_fixed_number_of_queries(
    desk, committed, zone, django_assert_max_num_queries
):
    with committed():
        member = signed_up(token=None).member
    household = services.household_create(payer=member)
    for n in range(5):
        services.household_add_member(household, MemberFactory())
        services.note_add(member=member, body=f"alert {n}", is_alert=True)
        manual_check_in(member, zone, None)
    with django_assert_max_num_queries(40):
        assert profile(desk, member).status_code == 200


def test_the_profile_reads_in_thai(desk, committed):
    with committed():
        member = signed_up(token=None).member
    html = text(profile(desk, member, HTTP_ACCEPT_LANGUAGE="th"))
    for thai in ("ยอดค้างชำระ", "รับชำระเงิน", "เช็คอิน", "แก้ไขข้อมูล", "ชำระครั้งถัดไป"):
        assert thai in html, thai


# --- The member list and search -----------------------------------------------------------


def _member_numbered(number: int) -> Member:
    Sequence.objects.update_or_create(
        name=MEMBER_NUMBER_SEQUENCE, defaults={"last_value": number - 1}
    )
    return MemberFactory()


def test_an_exact_member_number_lists_first(desk):
    later = _member_numbered(1202)
    Member.objects.filter(pk=later.pk).update(email="junior.1002@kids.example.com")
    wanted = _member_numbered(1002)
    phone = MemberFactory(phone="+66811002000")  # a phone number containing it
    assert wanted.member_number == 1002

    listed = desk.get("/admin/members/member/", {"q": "1002"}).context["cl"].result_list

    assert next(iter(listed)) == wanted
    assert set(listed) == {wanted, later, phone}


def test_the_list_shows_the_status_beside_the_name(desk):
    member = MemberFactory()
    html = text(desk.get("/admin/members/member/"))
    (cell,) = re.findall(r'<td class="field-full_name_display">(.*?)</td>', html)
    assert member.full_name in cell and 'data-status="prospect"' in cell


def test_the_home_search_goes_straight_to_a_single_member(desk):
    member = MemberFactory()
    access_card(member, "04A1B2C3")
    MemberFactory(first_name="Somchai")
    MemberFactory(first_name="Somchai")

    by_card = desk.get("/admin/members/member/", {"go": "1", "q": "04:A1:B2:C3"})
    assert by_card["Location"] == f"/admin/members/member/{member.pk}/change/"
    by_number = desk.get("/admin/members/member/", {"go": "1", "q": str(member.member_number)})
    assert by_number["Location"] == f"/admin/members/member/{member.pk}/change/"
    ambiguous = desk.get("/admin/members/member/", {"go": "1", "q": "Somchai"})
    assert ambiguous["Location"] == "/admin/members/member/?q=Somchai"


def test_sign_up_invoices_left_open_show_as_owed(desk):
    member = MemberFactory()
    from billing.services.memberships import membership_sign_up

    membership_sign_up(member, PlanFactory(price=99_000))
    assert Invoice.objects.get(member=member).status == InvoiceStatus.OPEN
    assert "฿990.00" in text(profile(desk, member))


def test_each_record_link_opens_a_list_that_names_the_member(desk, committed):
    with committed():
        member = signed_up().member
    html = profile(desk, member).content.decode()
    links = re.findall(r'<ul class="gym-records" id="member-records">(.*?)</ul>', html, re.S)[0]
    urls = re.findall(r'href="([^"]+member__id__exact[^"]*)"', links)
    assert len(urls) >= 4
    for url in urls:
        listed = desk.get(url.replace("&amp;", "&"))
        assert listed.status_code == 200, url
        (title,) = re.findall(r"<h1>(.*?)</h1>", listed.content.decode())
        assert title.endswith(f" of {member.full_name}"), (url, title)
