"""Capacity under concurrency, on real PostgreSQL, each thread on its own connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connections

from classes.models import Booking, BookingStatus, ClassSession
from classes.services import booking as svc
from tests.concurrency import at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _long_waitlist(yoga):
    yoga.waitlist_limit = 100
    yoga.save()


def test_fifty_threads_book_the_last_ten_places(make_member, make_session):
    session = make_session(capacity=12)
    for _ in range(2):
        svc.book(make_member(), session.pk)
    members = [make_member() for _ in range(50)]
    arrivals: list[int] = []
    lock = threading.Lock()
    pending = iter(members)

    def one() -> str:
        with lock:
            member = next(pending)
        booking = svc.book(member, session.pk)
        with lock:
            arrivals.append(booking.pk)
        return booking.status

    outcomes = at_once(one, times=50, timeout=120)
    session.refresh_from_db()
    assert outcomes.count("booked") == 10
    assert outcomes.count("waitlisted") == 40
    assert session.booked_count == 12
    assert Booking.objects.filter(session=session, status="booked").count() == 12
    queue = list(
        Booking.objects.filter(session=session, status="waitlisted")
        .order_by("waitlist_position")
        .values_list("waitlist_position", "pk")
    )
    assert [position for position, _ in queue] == list(range(1, 41))
    # The queue is in the order the bookings were made (the session lock serialises them,
    # so the ids, taken inside the lock, follow the arrival order too).
    ids = [pk for _, pk in queue]
    assert ids == sorted(ids)
    assert set(ids) < set(arrivals)


def test_cancellations_racing_promotions_never_leave_a_place_empty_or_filled_twice(
    make_member, make_session, make_pack
):
    session = make_session(capacity=10)
    holders = [svc.book(make_member(), session.pk) for _ in range(10)]
    waiting = [svc.book(make_member(), session.pk) for _ in range(15)]
    assert {b.status for b in waiting} == {"waitlisted"}
    pending = iter(holders)
    lock = threading.Lock()

    def cancel_one() -> str:
        with lock:
            booking = next(pending)
        return svc.cancel(booking.pk).status

    # Ten cancellations at once, each promoting in its own transaction, while newcomers
    # try to book the same places.
    newcomers = iter([make_member() for _ in range(10)])

    def book_one() -> str:
        with lock:
            member = next(newcomers)
        return svc.book(member, session.pk).status

    results: list[str] = []
    threads = []
    for call in [cancel_one] * 10 + [book_one] * 10:

        def run(call=call) -> None:
            try:
                results.append(call())
            finally:
                connections.close_all()

        threads.append(threading.Thread(target=run))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    time.sleep(0)
    assert len(results) == 20
    session = ClassSession.objects.get(pk=session.pk)
    booked = Booking.objects.filter(session=session, status=BookingStatus.BOOKED)
    assert booked.count() == session.booked_count == 10  # full, never over
    # The ten freed places went to the first ten who were waiting, in order.
    promoted = set(booked.values_list("pk", flat=True))
    assert promoted == {b.pk for b in waiting[:10]}


def _each_at_once(*calls: Callable[[], str]) -> list[str]:
    """Each of ``calls`` in its own thread, all released together."""
    pending = iter(calls)
    lock = threading.Lock()

    def one() -> str:
        with lock:
            call = next(pending)
        return call()

    return at_once(one, times=len(calls))


@pytest.mark.parametrize("credits", [None, 0], ids=["plan-unlimited", "pack"])
def test_one_member_booking_two_overlapping_sessions_at_once_gets_one(
    make_member, make_session, make_pack, credits
):
    """The overlap rule holds under concurrency: two requests by one member for sessions
    at the same time (each under its own session's lock) never both take a place."""
    for round_ in range(4):
        member = make_member(credits=credits)
        if credits == 0:
            make_pack(member, remaining=5)
        hours = 30 + round_ * 3
        first, second = make_session(hours=hours), make_session(hours=hours + 0.5)
        outcomes = _each_at_once(
            lambda m=member, s=first: svc.book(m, s.pk).status,
            lambda m=member, s=second: svc.book(m, s.pk).status,
        )
        assert sorted(outcomes) == ["booked", "overlapping"], outcomes
        assert Booking.objects.filter(member=member, status="booked").count() == 1


def test_a_promotion_racing_the_members_own_booking_elsewhere_gives_one_place(
    make_member, make_session
):
    """A cancellation promotes a waitlisted member while that member books an
    overlapping session: one place, never two, and no deadlock (one lock order)."""
    for round_ in range(4):
        hours = 40 + round_ * 3
        full = make_session(hours=hours, capacity=1)
        holder = svc.book(make_member(), full.pk)
        member = make_member()
        assert svc.book(member, full.pk).status == "waitlisted"
        other = make_session(hours=hours + 0.5)
        outcomes = _each_at_once(
            lambda b=holder: svc.cancel(b.pk).status,
            lambda m=member, s=other: svc.book(m, s.pk).status,
        )
        assert "cancelled" in outcomes
        places = Booking.objects.filter(member=member, status="booked")
        assert places.count() == 1, (outcomes, list(places.values_list("session_id", flat=True)))
