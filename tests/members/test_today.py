""" "Today at the gym": the admin's home page says what is happening today, by role."""

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
from billing.services import memberships
from members import hooks, roles
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2027, 2, 3, 3, 0, tzinfo=dt.UTC)  # Wednesday 3 February, 10:00 in Bangkok
TODAY = dt.date(2027, 2, 3)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def zone(db):
    location = Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")
    return Zone.objects.create(location=location, code="gym-floor", name="Gym floor", capacity=80)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def sections(response) -> dict[str, str]:
    html = re.sub(r"\s+", " ", response.content.decode())
    return dict(re.findall(r'data-section="([a-z-]+)">(.*?)</section>', html))


def test_today_shows_check_ins_money_and_people_to_see(make_staff, committed, zone):
    with committed():
        regular = signed_up(plan=PlanFactory(freezes_per_year=2)).member
        frozen = signed_up(plan=PlanFactory(freezes_per_year=2, freeze_min_days=3))
        declined = signed_up(token="tok_decline_insufficient_funds").member
        leaving = signed_up()
    memberships.membership_freeze(frozen, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=5))
    memberships.membership_cancel(leaving, at_period_end=False, waive_fees=True)
    waiting = MemberFactory(first_name="Waiting")
    memberships.membership_sign_up(waiting, PlanFactory(price=120_000))  # no card: pay at desk
    birthday = MemberFactory(first_name="Birthday", date_of_birth=dt.date(1990, 2, 3))
    manual_check_in(regular, zone, None)
    manual_check_in(waiting, zone, None)  # denied: no membership paid yet

    page = client_for(make_staff(roles.FRONT_DESK)).get("/admin/")

    found = sections(page)
    assert set(found) >= {
        "check-ins",
        "failed-payments",
        "dunning",
        "to-collect",
        "this-week",
        "birthdays",
    }
    assert "Gym floor" in found["check-ins"] and "1 inside of 80" in found["check-ins"]
    assert "Denied at the gate today" in found["check-ins"]
    assert declined.full_name in found["failed-payments"]
    assert "insufficient_funds" in found["failed-payments"]
    assert waiting.full_name in found["to-collect"] and "฿1,200.00" in found["to-collect"]
    assert frozen.member.full_name in found["this-week"]
    assert birthday.full_name in found["birthdays"]
    assert "/admin/access_control/accessevent/feed/" in found["check-ins"]
    assert "autofocus" in page.content.decode()  # the search box


def test_dunning_cases_with_an_action_due_today_are_listed(make_staff, committed, _clock):
    with committed():
        declined = signed_up(token="tok_decline_insufficient_funds").member
    _clock.move_to(NOW + dt.timedelta(days=3))  # the ladder's reminder is due on day 3

    found = sections(client_for(make_staff(roles.FRONT_DESK)).get("/admin/"))

    assert declined.full_name in found["dunning"]
    assert "Ladder step: Reminder" in found["dunning"] and "฿1,500.00" in found["dunning"]


def test_each_role_sees_only_its_sections(make_staff):
    looker = get_user_model().objects.create_user(username="looker", password="pw", is_staff=True)
    looker.user_permissions.set(
        Permission.objects.filter(content_type__app_label="members", codename="view_member")
    )
    assert set(sections(client_for(looker).get("/admin/"))) == {"birthdays"}
    owner = set(sections(client_for(make_staff(roles.OWNER)).get("/admin/")))
    assert {"check-ins", "failed-payments", "dunning", "this-week"} <= owner


def test_later_apps_add_their_rows_through_the_hook(make_staff):
    def classes_today(request):
        return [hooks.TodaySection(key="classes", title="Classes today", figure="3")]

    hooks.register(hooks.today_sections, classes_today)
    try:
        found = sections(client_for(make_staff(roles.FRONT_DESK)).get("/admin/"))
    finally:
        hooks.today_sections.remove(classes_today)
    assert "Classes today" in found["classes"]


def test_today_reads_a_fixed_number_of_queries(
    make_staff, committed, zone, django_assert_max_num_queries
):
    client = client_for(make_staff(roles.FRONT_DESK))
    for _ in range(6):
        with committed():
            member = signed_up(token="tok_decline_insufficient_funds").member
        manual_check_in(member, zone, None)
    with django_assert_max_num_queries(30):
        assert client.get("/admin/").status_code == 200


def test_today_reads_in_thai(make_staff):
    html = client_for(make_staff(roles.FRONT_DESK)).get("/admin/", HTTP_ACCEPT_LANGUAGE="th")
    text = html.content.decode()
    for thai in ("เช็คอินวันนี้", "การชำระที่ไม่สำเร็จวันนี้", "วันเกิดวันนี้", "ค้นหาสมาชิก"):
        assert thai in text, thai
