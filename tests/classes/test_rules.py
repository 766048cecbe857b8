"""Each booking rule and its reason code, in the member's language."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from billing.models import Location, Membership
from classes.errors import BookingRefused
from classes.models import BookingSuspension, Room
from classes.services import booking as svc
from classes.services.rules import window
from config import clock
from tests.billing.factories import PlanFactory

pytestmark = pytest.mark.django_db


def refused(member, session, **kwargs) -> str:
    with pytest.raises(BookingRefused) as caught:
        svc.book(member, session.pk, **kwargs)
    return caught.value.reason or ""


def test_a_booking_takes_a_place(make_member, session):
    booking = svc.book(make_member(), session.pk)
    session.refresh_from_db()
    assert (booking.status, booking.paid_by, session.booked_count) == ("booked", "plan", 1)


def test_the_window_opens_days_before_and_closes_minutes_before(make_member, make_session, yoga):
    yoga.opens_days_before, yoga.closes_minutes_before = 2, 30
    yoga.save()
    member = make_member()
    assert refused(member, make_session(hours=24 * 3)) == "not_open_yet"
    assert refused(member, make_session(hours=0.25)) == "closed"
    assert svc.book(member, make_session(hours=24 * 2 - 1).pk).status == "booked"


def test_staff_override_the_window_with_a_reason_that_is_logged(make_member, make_session, yoga):
    yoga.opens_days_before = 1
    yoga.save()
    member, far = make_member(), make_session(hours=24 * 5)
    assert refused(member, far, override=True, override_reason="  ") == "reason_required"
    booking = svc.book(member, far.pk, override=True, override_reason="Regular, asked by phone")
    event = booking.events.get()
    assert (event.kind, event.reason) == ("window_override", "Regular, asked by phone")


def test_the_window_is_read_on_the_locations_wall_clock_across_dst(make_type, make_member):
    """New York springs forward on 14 March 2027: a class at 18:00 local on 16 March
    opens 7 days before at 18:00 local, which is 167 hours earlier, not 168."""
    ny = Location.objects.create(name="Brooklyn", time_zone="America/New_York")
    room = Room.objects.create(location=ny, name="Loft")
    kind = make_type("spin", opens_days_before=7)
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("America/New_York")
    starts = dt.datetime(2027, 3, 16, 18, 0, tzinfo=tz).astimezone(dt.UTC)
    from classes.models import ClassSession

    session = ClassSession.objects.create(
        class_type=kind,
        room=room,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        capacity=5,
    )
    opens = window(session).opens_at
    assert opens.astimezone(tz) == dt.datetime(2027, 3, 9, 18, 0, tzinfo=tz)
    assert starts - opens == dt.timedelta(hours=167)
    member = make_member()
    from config.clock import travel_to

    with travel_to(opens - dt.timedelta(minutes=1)):
        assert refused(member, session) == "not_open_yet"
    with travel_to(opens):
        assert svc.book(member, session.pk).status == "booked"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("frozen", "membership_frozen"),
        ("suspended", "membership_suspended"),
        ("cancelled", "membership_inactive"),
        ("pending", "membership_inactive"),
    ],
)
def test_memberships_that_cannot_book_are_refused(make_member, session, status, reason):
    assert refused(make_member(status=status), session) == reason


def test_a_freeze_covering_the_class_day_refuses(make_member, session):
    member = make_member()
    Membership.objects.filter(member=member).update(
        frozen_from=clock.today(), frozen_until=clock.today() + dt.timedelta(days=3)
    )
    assert refused(member, session) == "membership_frozen"


def test_the_dunning_flag_refuses_bookings(make_member, session):
    member = make_member()
    Membership.objects.filter(member=member).update(bookings_blocked=True)
    assert refused(member, session) == "bookings_blocked"
    Membership.objects.filter(member=member).update(bookings_blocked=False)
    assert svc.book(member, session.pk).status == "booked"


def test_the_plan_must_include_the_class_type(make_member, session, yoga):
    other = PlanFactory()
    yoga.plans.add(other)
    assert refused(make_member(), session) == "not_entitled"
    assert svc.book(make_member(plan=other), session.pk).status == "booked"


def test_one_booking_per_member_per_session(make_member, session):
    member = make_member()
    svc.book(member, session.pk)
    assert refused(member, session) == "already_booked"


def test_overlapping_bookings_are_refused_unless_allowed(make_member, make_session, settings):
    member = make_member()
    first = make_session(hours=24)
    svc.book(member, first.pk)
    clash = make_session(start=first.starts_at + dt.timedelta(minutes=30))
    assert refused(member, clash) == "overlapping"
    settings.CLASSES_ALLOW_OVERLAP = True
    assert svc.book(member, clash.pk).status == "booked"


def test_a_full_session_waitlists_up_to_its_limit_then_refuses(make_member, make_session, yoga):
    yoga.waitlist_limit = 2
    yoga.save()
    session = make_session(capacity=1)
    svc.book(make_member(), session.pk)
    queue = [svc.book(make_member(), session.pk) for _ in range(2)]
    assert [(b.status, b.waitlist_position) for b in queue] == [
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    assert refused(make_member(), session) == "full"


def test_cancelled_and_past_sessions_are_refused(make_member, make_session):
    member = make_member()
    gone = make_session(hours=24)
    svc.session_cancel(gone.pk)
    assert refused(member, gone) == "session_cancelled"
    over = make_session(start=clock.now() - dt.timedelta(hours=2))
    assert refused(member, over) == "session_over"


def test_repeated_no_shows_suspend_booking(make_member, session):
    member = make_member()
    BookingSuspension.objects.create(
        member=member, starts_at=clock.now(), ends_at=clock.now() + dt.timedelta(days=7), strikes=3
    )
    assert refused(member, session) == "strikes_suspended"


def test_numbered_spots_are_given_once(make_member, session):
    session.room.spots = 3
    session.room.save()
    first = svc.book(make_member(), session.pk, spot=2)
    assert first.spot == 2
    assert refused(make_member(), session, spot=2) == "spot_taken"
    assert refused(make_member(), session, spot=9) == "no_such_spot"
    assert svc.book(make_member(), session.pk).spot == 1


def test_every_reason_reads_in_thai(make_member, session):
    member = make_member(status="suspended")
    with translation.override("th"), pytest.raises(BookingRefused) as caught:
        svc.book(member, session.pk)
    assert caught.value.reason == "membership_suspended"
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in caught.value.message)
