"""The front desk's member screens."""

from __future__ import annotations

import pytest

from members import roles
from members.models import Member, MemberNote
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk_client(client, make_staff):
    client.force_login(make_staff(roles.FRONT_DESK))
    return client


def test_front_desk_registers_a_member_in_one_form(desk_client):
    response = desk_client.post(
        "/admin/members/member/add/",
        {
            "first_name": "Mali",
            "last_name": "Thongdee",
            "phone": "081 555 0101",
            "email": "mali@example.com",
            "date_of_birth": "1995-02-03",
            "language": "th",
            "country": "TH",
            "transactional_email": "on",
            "transactional_sms": "on",
            "notes-TOTAL_FORMS": "1",
            "notes-INITIAL_FORMS": "0",
            "notes-0-body": "See staff: bring ID",
            "notes-0-is_alert": "on",
            "signatures-TOTAL_FORMS": "0",
            "signatures-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    member = Member.objects.get(email="mali@example.com")
    assert member.phone == "+66815550101"
    assert member.member_number > 0
    note = MemberNote.objects.get(member=member)
    assert note.is_alert and note.author is not None


def test_admin_form_shows_field_errors_not_500(desk_client):
    response = desk_client.post(
        "/admin/members/member/add/",
        {
            "first_name": "Kid",
            "last_name": "Alone",
            "date_of_birth": "2016-01-01",
            "phone": "12",
            "language": "en",
            "country": "TH",
            "notes-TOTAL_FORMS": "0",
            "notes-INITIAL_FORMS": "0",
            "signatures-TOTAL_FORMS": "0",
            "signatures-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "phone" in errors
    assert Member.objects.count() == 0


def test_changelist_search_by_phone_and_number(desk_client):
    target = MemberFactory(phone="+66819998888")
    MemberFactory()
    for q in ["081 999 8888", str(target.member_number)]:
        response = desk_client.get("/admin/members/member/", {"q": q})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [target]


def test_front_desk_cannot_edit_agreements_or_gym_settings(desk_client):
    assert desk_client.get("/admin/members/agreementversion/add/").status_code == 403
    assert desk_client.get("/admin/members/gymprofile/add/").status_code == 403


def test_member_page_and_filters_render(desk_client):
    member = MemberFactory()
    assert desk_client.get(f"/admin/members/member/{member.pk}/change/").status_code == 200
    assert desk_client.get("/admin/members/member/", {"alert": "yes"}).status_code == 200
    assert desk_client.get("/admin/members/member/", {"status__exact": "active"}).status_code == 200


def test_export_csv_action(desk_client):
    member = MemberFactory(first_name="สมชาย")
    response = desk_client.post(
        "/admin/members/member/",
        {"action": "export_csv", "_selected_action": [member.pk]},
    )
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "สมชาย" in text and str(member.member_number) in text
