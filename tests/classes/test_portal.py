"""Classes in the member portal: the timetable (by day, location and class type, with
availability), booking, cancelling, the waitlist and an offered place, through the same
services as the API, with its reasons in the member's language; the home page's card;
another member's bookings answer 404; the timetable's queries do not grow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from classes.errors import BookingRefused
from classes.models import Booking, Room
from classes.services import booking as svc
from config import clock
from members import services as member_services
from members.models import Member

pytestmark = pytest.mark.django_db


def signed_in(member: Member) -> Client:
    user = member_services.member_login_ensure(member, email_verified=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def me(make_member: Callable[..., Member]) -> Member:
    return make_member(language="en")


@pytest.fixture
def client_me(me: Member) -> Client:
    return signed_in(me)


def test_the_timetable_shows_the_day_with_places_and_filters(
    client_me, make_session, make_type, room, location
):
    yoga = make_session(hours=2, capacity=5)
    boxing = make_session(hours=3, class_type=make_type("boxing", name="Boxing"))
    other_room = Room.objects.create(
        location=location.__class__.objects.create(name="Silom", time_zone="Asia/Bangkok"),
        name="Ring",
        capacity=10,
    )
    silom = make_session(hours=4, room_=other_room)
    tomorrow = make_session(hours=26)
    page = client_me.get(reverse("classes_portal:timetable"))
    assert page.status_code == 200
    shown = [row["session"].pk for row in page.context["rows"]]
    assert shown == [yoga.pk, boxing.pk, silom.pk]
    assert "5 places left" in page.content.decode()
    by_type = client_me.get(reverse("classes_portal:timetable"), {"type": "boxing"})
    assert [row["session"].pk for row in by_type.context["rows"]] == [boxing.pk]
    by_place = client_me.get(
        reverse("classes_portal:timetable"), {"location": other_room.location_id}
    )
    assert [row["session"].pk for row in by_place.context["rows"]] == [silom.pk]
    next_day = (clock.today() + dt.timedelta(days=1)).isoformat()
    by_day = client_me.get(reverse("classes_portal:timetable"), {"day": next_day})
    assert [row["session"].pk for row in by_day.context["rows"]] == [tomorrow.pk]
    # Nonsense filters are ignored, never an error.
    odd = client_me.get(
        reverse("classes_portal:timetable"), {"day": "2099-99-99", "location": "x' or 1"}
    )
    assert odd.status_code == 200


def test_book_and_cancel_through_the_services(client_me, me, make_session):
    session = make_session(hours=30)
    day = (clock.today() + dt.timedelta(days=1)).isoformat()
    here = f"{reverse('classes_portal:timetable')}?day={day}"
    response = client_me.post(
        reverse("classes_portal:book", args=[session.pk]), {"next": here}, follow=True
    )
    assert response.redirect_chain[-1][0] == here
    booking = Booking.objects.get(member=me, session=session)
    assert booking.status == "booked"
    assert "Booked: Yoga." in response.content.decode()
    assert "You are booked" in response.content.decode()
    again = client_me.post(reverse("classes_portal:book", args=[session.pk]), follow=True)
    assert "You are already booked or on the waitlist for this class." in again.content.decode()
    done = client_me.post(reverse("classes_portal:cancel", args=[booking.pk]), follow=True)
    booking.refresh_from_db()
    assert booking.status == "cancelled" and "Cancelled: Yoga." in done.content.decode()


def test_a_refusal_comes_in_the_members_language_as_the_api_says_it(make_member, make_session):
    thai = make_member(language="th", plan=False)
    client = signed_in(thai)
    client.cookies["django_language"] = "th"
    session = make_session(hours=5)
    with translation.override("th"), pytest.raises(BookingRefused) as refused:
        svc.book(thai, session.pk)  # what the API answers, in Thai
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in refused.value.message)
    response = client.post(reverse("classes_portal:book", args=[session.pk]), follow=True)
    notices = [str(m) for m in response.context["messages"]]
    assert notices == [refused.value.message]
    assert not Booking.objects.filter(member=thai).exists()


def test_a_full_class_puts_the_member_on_the_waitlist_and_an_offer_can_be_taken(
    client_me, me, make_member, make_session
):
    session = make_session(hours=1, capacity=1)  # inside the cutoff: places are offered
    first = make_member()
    taken = svc.book(first, session.pk)
    page = client_me.get(reverse("classes_portal:timetable"))
    assert "Join the waitlist of Yoga" in page.content.decode()
    client_me.post(reverse("classes_portal:book", args=[session.pk]))
    waiting = Booking.objects.get(member=me, session=session)
    assert waiting.status == "waitlisted"
    svc.cancel(taken.pk, member=first)  # after the cutoff: the place is offered in turn
    waiting.refresh_from_db()
    assert waiting.offer_expires_at is not None
    page = client_me.get(reverse("classes_portal:timetable"))
    assert "Take the place in Yoga" in page.content.decode()
    client_me.post(reverse("classes_portal:accept", args=[waiting.pk]))
    waiting.refresh_from_db()
    assert waiting.status == "booked"


def test_leaving_the_waitlist(client_me, me, make_member, make_session):
    session = make_session(hours=30, capacity=1)
    svc.book(make_member(), session.pk)
    client_me.post(reverse("classes_portal:book", args=[session.pk]))
    waiting = Booking.objects.get(member=me)
    response = client_me.post(reverse("classes_portal:cancel", args=[waiting.pk]), follow=True)
    waiting.refresh_from_db()
    assert waiting.status == "cancelled"
    assert "You left the waitlist of Yoga." in response.content.decode()


def test_another_members_bookings_answer_404_and_change_nothing(
    client_me, make_member, make_session
):
    other = make_member()
    booking = svc.book(other, make_session(hours=30).pk)
    for name in ("classes_portal:cancel", "classes_portal:accept"):
        assert client_me.post(reverse(name, args=[booking.pk])).status_code == 404
    assert client_me.post(reverse("classes_portal:book", args=[999_999])).status_code == 404
    booking.refresh_from_db()
    assert booking.status == "booked"
    assert client_me.get(reverse("classes_portal:bookings")).context["rows"] == []


def test_only_members_reach_the_pages(make_session, make_staff):
    session = make_session()
    anonymous = Client()
    assert anonymous.get(reverse("classes_portal:timetable")).status_code == 302
    assert anonymous.post(reverse("classes_portal:book", args=[session.pk])).status_code == 302
    staff = Client()
    staff.force_login(make_staff("Front desk"))
    assert staff.get(reverse("classes_portal:timetable")).status_code == 404
    assert not Booking.objects.exists()


def test_get_never_books(client_me, make_session):
    session = make_session()
    assert client_me.get(reverse("classes_portal:book", args=[session.pk])).status_code == 405


def test_my_bookings_and_the_home_card(client_me, me, make_session):
    sessions = [make_session(hours=h) for h in (2, 26, 50, 74)]
    for session in sessions:
        svc.book(me, session.pk)
    mine = client_me.get(reverse("classes_portal:bookings"))
    assert [row["session"].pk for row in mine.context["rows"]] == [s.pk for s in sessions]
    home = client_me.get(reverse("portal:home"))
    card = next(c for c in home.context["cards"] if c.key == "bookings")
    assert len(card.rows) == 3 and card.rows[0].value == "Yoga"


def _timetable_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("classes_portal:timetable")).status_code == 200
    return len(queries)


def test_the_timetable_asks_the_same_number_of_queries_however_full_the_day(
    client_me, me, make_session, make_member, make_type
):
    make_session(hours=2)
    few = _timetable_queries(client_me)
    kinds = [make_type(f"kind{i}") for i in range(5)]
    for i in range(20):
        session = make_session(hours=2 + i * 0.5, minutes=20, class_type=kinds[i % 5], capacity=2)
        svc.book(make_member(), session.pk)
        if i % 3 == 0:
            svc.book(me, session.pk)
    assert _timetable_queries(client_me) == few


def test_home_card_queries_do_not_grow_with_history(client_me, me, make_session):
    def home_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            client_me.get(reverse("portal:home"))
        return len(queries)

    svc.book(me, make_session(hours=2).pk)
    before = home_queries()
    for h in range(3, 40):
        svc.book(me, make_session(hours=h * 2).pk)
    assert home_queries() == before
