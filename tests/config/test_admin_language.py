"""The admin's language switch, and each staff member's language remembered."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from members import roles
from members.models import StaffSettings

pytestmark = pytest.mark.django_db


def _signed_in(user, accept_language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=accept_language)
    client.force_login(user)
    return client


def test_a_staff_member_switches_to_thai_and_keeps_it_on_another_computer(make_staff):
    desk = make_staff(roles.FRONT_DESK, username="nok")
    client = _signed_in(desk)
    assert 'lang="en"' in client.get("/admin/").content.decode()

    response = client.post("/admin/language/", {"language": "th", "next": "/admin/billing/"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/billing/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"
    assert StaffSettings.objects.get(user=desk).language == "th"
    page = client.get("/admin/").content.decode()
    assert 'lang="th"' in page and "เคาน์เตอร์ต้อนรับยิม" in page

    # A browser that has never seen the switch, asking for English: still Thai.
    elsewhere = _signed_in(desk, accept_language="en")
    page = elsewhere.get("/admin/").content.decode()
    assert 'lang="th"' in page and "วันนี้ที่ยิม" in page


def test_each_staff_member_has_their_own_language(make_staff):
    thai = make_staff(roles.FRONT_DESK, username="thai-desk")
    english = make_staff(roles.MANAGER, username="english-manager")
    _signed_in(thai).post("/admin/language/", {"language": "th", "next": "/admin/"})
    _signed_in(english, accept_language="th").post(
        "/admin/language/", {"language": "en", "next": "/admin/"}
    )

    assert 'lang="th"' in _signed_in(thai).get("/admin/").content.decode()
    assert 'lang="en"' in _signed_in(english, "th").get("/admin/").content.decode()


def test_the_choice_is_read_once_per_session(make_staff):
    desk = make_staff(roles.FRONT_DESK)
    StaffSettings.objects.create(user=desk, language="th")
    client = _signed_in(desk)
    client.get("/admin/")  # the first request reads the choice into the session

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/")

    assert 'lang="th"' in response.content.decode()
    assert not [q for q in queries.captured_queries if "members_staffsettings" in q["sql"]]


def test_the_sign_in_page_switches_for_anyone_without_storing_anything():
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = client.get("/admin/login/").content.decode()
    assert 'value="th"' in page  # the switch is on the sign-in page too

    response = client.post("/admin/language/", {"language": "th", "next": "/admin/login/"})

    assert response.status_code == 302
    assert "เข้าสู่ระบบ" in client.get("/admin/login/").content.decode()
    assert not StaffSettings.objects.exists()


@pytest.mark.parametrize(
    ("data", "status"),
    [({"language": "fr", "next": "/admin/"}, 400), ({"language": "", "next": "/admin/"}, 400)],
)
def test_an_unknown_language_is_refused(make_staff, data, status):
    client = _signed_in(make_staff(roles.FRONT_DESK))
    assert client.post("/admin/language/", data).status_code == status
    assert not StaffSettings.objects.exists()


def test_the_switch_never_sends_anyone_elsewhere(make_staff):
    client = _signed_in(make_staff(roles.FRONT_DESK))
    response = client.post(
        "/admin/language/", {"language": "th", "next": "https://evil.example.com/phish"}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/language/").status_code == 405


def test_the_header_is_translated_and_view_site_is_gone(make_staff):
    client = _signed_in(make_staff(roles.OWNER), accept_language="th")
    page = client.get("/admin/").content.decode()
    assert "<title>วันนี้ที่ยิม | เคาน์เตอร์ต้อนรับยิม</title>" in page
    assert "ดูหน้าเว็บ" not in page and "View site" not in page
    assert "Django" not in page
