"""The check-in feed as the desk reads it: staff labels, alerts, one time format, and a
take-payment button for a member who owes."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from billing.services import memberships
from members import roles, services
from tests.billing.factories import PlanFactory
from tests.factories import MemberFactory

from .helpers import card, check

pytestmark = pytest.mark.django_db
FEED = "/admin/access_control/accessevent/feed/"
FEED_DATA = "/admin/access_control/accessevent/feed/data/"
CHECK_IN = "/admin/access_control/accessevent/check-in/"


@pytest.fixture
def desk(make_staff):
    client = Client()
    client.force_login(make_staff(roles.FRONT_DESK))
    return client


def test_the_feed_names_reasons_for_the_desk_not_the_member(desk, reader, active_member):
    card(active_member, "04A1B2C3")
    check(reader, "04A1B2C3")
    check(reader, "04FFFFFF")

    html = desk.get(FEED).content.decode()

    assert "Unknown card" in html and "Granted" in html
    assert "Please see the front desk" not in html  # the member's message, not the desk's
    assert "Welcome!" not in html


def test_a_member_who_owes_shows_their_alert_and_a_take_payment_button(desk, reader, zone):
    member = MemberFactory()
    memberships.membership_sign_up(member, PlanFactory(price=80_000))  # unpaid: no access
    services.note_add(member=member, body="See staff: unpaid sign-up", is_alert=True)
    card(member, "04C0FFEE")
    check(reader, "04C0FFEE")

    data = desk.get(FEED_DATA).json()

    (row,) = data["events"]
    assert row["alerts"] == ["See staff: unpaid sign-up"]
    assert row["label"] == "No membership"
    assert row["take_payment_url"].startswith(
        f"/admin/billing/invoice/take-payment/{member.pk}/?next="
    )
    assert "See staff: unpaid sign-up" in data["rows_html"]
    assert "Take payment" in data["rows_html"]


def test_one_time_format_in_the_gyms_time(desk, reader, active_member):
    card(active_member, "04A1B2C3")
    check(reader, "04A1B2C3")
    data = desk.get(FEED_DATA).json()
    assert data["updated"] == "10:00:00"  # the status line, as the rows show times
    assert re.search(
        r"<strong>10:00:00</strong><br><span class=\"quiet\">3 Feb 2027</span>", data["rows_html"]
    )
    page = desk.get(FEED).content.decode()
    assert "toLocaleTimeString" not in page


def test_the_feed_reads_in_thai(desk, reader):
    check(reader, "04FFFFFF")
    html = desk.get(FEED, HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert "ไม่รู้จักบัตร" in html
    assert "Unknown card" not in html


def test_a_check_in_result_offers_take_payment_to_a_member_who_owes(desk, zone):
    member = MemberFactory()
    memberships.membership_sign_up(member, PlanFactory(price=80_000))
    desk.post(CHECK_IN, {"member": member.pk, "zone": zone.pk, "direction": "in"})
    from access_control.models import AccessEvent

    event = AccessEvent.objects.get()
    html = desk.get(CHECK_IN, {"event": event.pk, "zone": zone.pk}).content.decode()
    assert "No membership" in html
    assert f"/admin/billing/invoice/take-payment/{member.pk}/" in html
