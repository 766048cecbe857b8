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
    assert small[0] <= 12
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
