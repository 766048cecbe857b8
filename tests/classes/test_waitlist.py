"""The waitlist: promoted in order before the cutoff, skipping who can't take the place;
offers in turn after it; no double promotion across overlapping sessions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from billing.models import Membership
from classes.errors import BookingNotChanged
from classes.models import Booking, BookingStatus
from classes.services import booking as svc
from config import clock
from config.clock import travel_to

pytestmark = pytest.mark.django_db


def status(booking: Booking) -> str:
    booking.refresh_from_db()
    return booking.status


def test_a_freed_place_goes_to_the_first_who_can_take_it_at_once(
    make_member, make_session, sms, django_capture_on_commit_callbacks
):
    session = make_session(hours=24, capacity=1)
    holder = svc.book(make_member(), session.pk)
    blocked = make_member(language="th")
    first = svc.book(blocked, session.pk)
    second = svc.book(make_member(language="th", phone="+66812345678"), session.pk)
    third = svc.book(make_member(), session.pk)
    Membership.objects.filter(member=blocked).update(bookings_blocked=True)
    with django_capture_on_commit_callbacks(execute=True):
        svc.cancel(holder.pk)
    assert [status(b) for b in (first, second, third)] == ["waitlisted", "booked", "waitlisted"]
    session.refresh_from_db()
    assert session.booked_count == 1
    assert second.source == "waitlist"
    # Told at once, by email and SMS, in Thai.
    assert [m.to for m in mail.outbox] == [[second.member.email]]
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in mail.outbox[0].subject)
    assert [s.to for s in sms] == ["+66812345678"]


def test_no_double_promotion_across_overlapping_sessions(make_member, make_session):
    member = make_member()
    a = make_session(hours=24, capacity=1)
    b = make_session(start=a.starts_at + dt.timedelta(minutes=15), capacity=1)
    holder_a, holder_b = svc.book(make_member(), a.pk), svc.book(make_member(), b.pk)
    wait_a, wait_b = svc.book(member, a.pk), svc.book(member, b.pk)
    svc.cancel(holder_a.pk)
    assert (status(wait_a), status(wait_b)) == ("booked", "cancelled")
    wait_b.refresh_from_db()
    assert wait_b.cancel_reason == "promoted_elsewhere"
    svc.cancel(holder_b.pk)  # nobody left to promote in b: the place stays free
    b.refresh_from_db()
    assert b.booked_count == 0


def test_after_the_cutoff_the_place_is_offered_in_turn_for_a_time(make_member, make_session, yoga):
    yoga.cancel_cutoff_minutes, yoga.offer_minutes = 120, 30
    yoga.save()
    session = make_session(hours=1, capacity=1)
    holder = svc.book(make_member(), session.pk)
    first, second = svc.book(make_member(), session.pk), svc.book(make_member(), session.pk)
    svc.cancel(holder.pk)
    assert status(holder) == "late_cancelled"
    first.refresh_from_db()
    assert first.status == "waitlisted"
    assert first.offer_expires_at == clock.now() + dt.timedelta(minutes=30)
    # The offered place is held: a newcomer joins the waitlist.
    assert svc.book(make_member(), session.pk).status == "waitlisted"
    with travel_to(clock.now() + dt.timedelta(minutes=31)):
        with pytest.raises(BookingNotChanged) as caught:
            svc.accept_offer(first.pk)
        assert caught.value.reason == "offer_expired"
        assert svc.offers_expire() == 1
        assert status(first) == "cancelled"
        second.refresh_from_db()
        assert second.offer_expires_at is not None
        assert svc.accept_offer(second.pk, member=second.member).status == "booked"
    session.refresh_from_db()
    assert session.booked_count == 1


def test_staff_move_someone_off_the_waitlist_into_a_free_place(
    make_member, make_session, make_staff
):
    session = make_session(hours=24, capacity=1)
    holder = svc.book(make_member(), session.pk)
    assert holder.status == "booked"
    later = svc.book(make_member(), session.pk)
    session.capacity = 2
    session.save()
    staff = make_staff("Front desk")
    with pytest.raises(BookingNotChanged):
        svc.move_off_waitlist(later.pk, actor=staff, reason="")
    moved = svc.move_off_waitlist(later.pk, actor=staff, reason="Instructor agreed")
    assert (moved.status, moved.source) == ("booked", "staff")
    assert moved.events.get(kind="moved_off_waitlist").reason == "Instructor agreed"


def test_leaving_the_waitlist(make_member, make_session):
    session = make_session(capacity=1)
    svc.book(make_member(), session.pk)
    waiting = svc.book(make_member(), session.pk)
    left = svc.cancel(waiting.pk, member=waiting.member)
    assert (left.status, left.cancel_reason) == (BookingStatus.CANCELLED, "left_waitlist")


def test_the_gym_cancelling_returns_credits_and_tells_everyone(
    make_member, make_session, make_pack, django_capture_on_commit_callbacks
):
    session = make_session(capacity=1)
    member = make_member(credits=0)
    pack = make_pack(member, remaining=1)
    booked = svc.book(member, session.pk)
    waiting = svc.book(make_member(), session.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.session_cancel(session.pk) == 2
    pack.refresh_from_db()
    assert pack.remaining == 1
    assert (status(booked), status(waiting)) == ("cancelled", "cancelled")
    assert not booked.fees.exists()
    assert len(mail.outbox) == 2
