"""Reminders: email and SMS in the member's language, a signed cancel link valid until
the cutoff, never within the quiet hours."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail

from classes.models import ClassMessage
from classes.services import booking as svc
from classes.services import outbox, reminders
from config import clock
from config.clock import travel_to

pytestmark = pytest.mark.django_db


def test_a_reminder_in_thai_with_a_cancel_link_that_works_until_the_cutoff(
    make_member, make_session, client, sms, django_capture_on_commit_callbacks
):
    member = make_member(language="th", phone="+66811111111")
    session = make_session(hours=6)  # 16:00 in Bangkok; cutoff at 14:00
    booking = svc.book(member, session.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_plan() == 1
        assert reminders.reminders_plan() == 0  # once
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in mail.outbox[0].body)
    assert [s.to for s in sms] == ["+66811111111"]
    path = re.search(r"https?://[^/]+(/classes/cancel/\S+/)", mail.outbox[0].body).group(1)
    assert client.get(path).status_code == 200
    with travel_to(session.starts_at - dt.timedelta(minutes=119)):
        assert client.post(path).status_code == 410  # past the cutoff
    booking.refresh_from_db()
    assert booking.status == "booked"
    assert client.post(path).status_code == 200
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert client.get(path[:-5] + "xxxx/").status_code == 404  # forged


def test_reminders_wait_for_the_end_of_the_quiet_hours(make_member, make_session):
    member = make_member()
    # 22:00 in Bangkok: quiet.  The class is at 10:00 tomorrow.
    night = dt.datetime(2027, 6, 7, 15, 0, tzinfo=dt.UTC)
    with travel_to(night):
        session = make_session(start=dt.datetime(2027, 6, 8, 3, 0, tzinfo=dt.UTC))
        svc.book(member, session.pk)
        assert reminders.reminders_plan() == 1
        assert outbox.deliver_due() == 0
        assert not mail.outbox
    message = ClassMessage.objects.get(channel="email")
    local = message.scheduled_for.astimezone(session.room.location.tz)
    assert (local.hour, local.minute) == (8, 0)
    with travel_to(message.scheduled_for):
        assert outbox.deliver_due() >= 1
    assert len(mail.outbox) == 1
    assert clock.now() < session.starts_at
