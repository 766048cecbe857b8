"""SQL statements per booking are constant, however full the session or busy the member."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classes.services import booking as svc

pytestmark = pytest.mark.django_db


def statements(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def booking_statements(member, session) -> int:
    return statements(lambda: svc.book(member, session.pk))


def test_statements_per_booking_are_constant(make_member, make_session, make_pack):
    session = make_session(capacity=60)
    small = [booking_statements(make_member(credits=5), session) for _ in range(3)]
    for _ in range(40):
        svc.book(make_member(credits=5), session.pk)
    large = [booking_statements(make_member(credits=5), session) for _ in range(3)]
    assert len(set(small + large)) == 1, (small, large)
    # The session, the membership; under the session's lock: the queue, the member's lock,
    # the overlap, the plan's credits used, the count, the booking (+ a savepoint pair).
    assert small[0] == 11, small
    # A member busy elsewhere costs the same.
    busy = make_member(credits=50)
    for h in range(30, 60, 2):
        svc.book(busy, make_session(hours=h).pk)
    assert booking_statements(busy, make_session(hours=80)) == small[0]


def test_waitlisting_is_constant_too(make_member, make_session, yoga):
    yoga.waitlist_limit = 50
    yoga.save()
    session = make_session(capacity=1)
    svc.book(make_member(), session.pk)
    first = booking_statements(make_member(), session)
    for _ in range(10):
        svc.book(make_member(), session.pk)
    assert booking_statements(make_member(), session) == first


def test_statements_per_booking_request_are_constant(make_member, make_session, make_staff):
    """The whole API request: the staff user (the session comes from Redis), their
    permissions (one statement, own and groups'), the session and member read once by
    the serializer, then the booking's own statements."""
    from django.test import Client

    from members import roles

    session = make_session(capacity=60)
    client = Client()
    client.force_login(make_staff(roles.FRONT_DESK))

    def post() -> int:
        member = make_member()
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                "/api/v1/classes/bookings/",
                {"session": session.pk, "member": member.pk},
                content_type="application/json",
            )
        assert response.status_code == 201, response.content
        return len(captured.captured_queries)

    counts = [post() for _ in range(3)]
    for _ in range(20):
        post()
    counts += [post() for _ in range(3)]
    assert len(set(counts)) == 1, counts
    # User, permissions, session, member, then 9 of the booking's own (15 before the
    # session moved to Redis and the permissions to one statement).
    assert counts[0] == 13, counts
