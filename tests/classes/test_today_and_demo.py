"""Classes on "Today at the gym", and the demo's classes story."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import Membership
from classes.models import Booking, ClassFee
from classes.services import booking as svc
from config import clock
from members import roles
from tests.browser.seeds import seed_migrated_data

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


def test_the_demo_week_and_its_story(tmp_path, django_capture_on_commit_callbacks):
    seed_migrated_data()  # a transactional test before this one may have flushed it
    manifest = tmp_path / "manifest.json"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", members=30, no_progress=True, json=manifest, stdout=StringIO())
    story = json.loads(manifest.read_text())["classes"]
    full = story["full_class_with_waitlist"]
    assert full["booked"] == full["capacity"] and full["waitlisted"] >= 1
    assert "มวยไทย" in full["class"]
    no_show = Booking.objects.get(
        member__member_number=story["no_show_with_pending_fee"]["member_number"],
        status="no_show",
    )
    assert ClassFee.objects.get(booking=no_show).status == "pending"
    late = Booking.objects.get(
        member__member_number=story["late_cancel_with_pending_fee"]["member_number"],
        status="late_cancelled",
    )
    assert ClassFee.objects.get(booking=late).status == "pending"
    out = story["out_of_credits"]["member_number"]
    membership = Membership.objects.get(member__member_number=out, status="active")
    used = (
        Booking.objects.filter(
            membership=membership,
            paid_by="plan",
            credit_returned=False,
            credit_period_start=membership.current_period_start,
        )
        .exclude(status="waitlisted")
        .count()
    )
    assert used == membership.plan.class_credits_per_period
