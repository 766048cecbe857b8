"""Classes on "Today at the gym", and the demo's classes story."""

from __future__ import annotations

import datetime as dt

import pytest

from classes.services import booking as svc
from config import clock
from members import roles

pytestmark = pytest.mark.django_db


def test_today_lists_the_days_classes_with_how_full_they_are(
    client, make_staff, make_member, make_session
):
    session = make_session(start=clock.now() + dt.timedelta(hours=2), capacity=3)
    svc.book(make_member(), session.pk)
    make_session(start=clock.now() + dt.timedelta(days=3))  # not today
    client.force_login(make_staff(roles.FRONT_DESK))
    html = client.get("/admin/").content.decode()
    start = html.index('data-section="classes"')
    section = html[start : start + 3000]
    assert "Yoga" in section
    assert "1 of 3 booked" in section
    assert f"/admin/classes/classsession/{session.pk}/roster/" in section
