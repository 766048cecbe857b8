"""A member books a class and cancels it in the portal, on a 390x844 phone, in English
and Thai; axe-core finds no serious or critical problem on the timetable."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from billing.models import Location, Membership
from classes.models import Booking, ClassSession, ClassType, Room
from config import clock
from members.services import member_login_ensure
from tests.billing.factories import PlanFactory
from tests.browser.axe import assert_accessible
from tests.factories import MemberFactory

BOOK = {"en": "Book Yoga", "th": "จอง โยคะ"}
BOOKED = {"en": "Booked: Yoga.", "th": "จองแล้ว: โยคะ"}
CANCEL = {"en": "Cancel Yoga", "th": "ยกเลิก โยคะ"}
CANCELLED = {"en": "Cancelled: Yoga.", "th": "ยกเลิกแล้ว: โยคะ"}


@pytest.fixture
def member(server: str, lang: str) -> Any:
    member = MemberFactory(language=lang)
    today = clock.today()
    Membership.objects.create(
        member=member,
        payer=member,
        plan=PlanFactory(),
        status="active",
        currency="THB",
        anchor_day=1,
        started_on=today - dt.timedelta(days=3),
        current_period_start=today - dt.timedelta(days=3),
        current_period_end=today + dt.timedelta(days=27),
    )
    room = Room.objects.create(
        location=Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok"),
        name="Studio 1",
        capacity=20,
    )
    yoga = ClassType.objects.create(code="yoga", name="Yoga", name_th="โยคะ")
    starts = clock.local_midnight(today + dt.timedelta(days=1)) + dt.timedelta(hours=9)
    ClassSession.objects.create(
        class_type=yoga,
        room=room,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        capacity=12,
    )
    return member


def test_book_a_class_and_cancel_it(phone: Page, lang: str, member: Any, login: Any) -> None:
    login(phone, member_login_ensure(member))
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    phone.goto(f"/portal/classes/?day={tomorrow}")
    expect(phone.locator("html")).to_have_attribute("lang", lang)
    assert_accessible(phone)

    phone.get_by_role("button", name=BOOK[lang]).click()
    expect(phone.get_by_role("status")).to_contain_text(BOOKED[lang])
    assert Booking.objects.get(member=member).status == "booked"
    assert_accessible(phone)

    phone.get_by_role("button", name=CANCEL[lang]).click()
    expect(phone.get_by_role("status")).to_contain_text(CANCELLED[lang])
    assert Booking.objects.get(member=member).status == "cancelled"
