"""What pays: the plan's credits, then a pack's (soonest-expiring, once), then the drop-in."""

from __future__ import annotations

import pytest

from billing.models import LedgerEntry
from classes.errors import BookingNotChanged, BookingRefused
from classes.services import booking as svc

pytestmark = pytest.mark.django_db


def test_plan_credits_then_the_pack_then_the_drop_in(
    make_member, make_session, make_pack, make_type
):
    kind = make_type("hiit", drop_in_price=30_000)
    member = make_member(credits=1)
    soon, later = make_pack(member, remaining=1, days=5), make_pack(member, remaining=1, days=40)
    paid = [svc.book(member, make_session(hours=h, class_type=kind).pk) for h in (20, 22, 24, 26)]
    assert [b.paid_by for b in paid] == ["plan", "pack", "pack", "drop_in"]
    assert [b.pack_purchase_id for b in paid[1:3]] == [soon.pk, later.pk]
    soon.refresh_from_db()
    later.refresh_from_db()
    assert (soon.remaining, later.remaining) == (0, 0)
    entry = LedgerEntry.objects.get(reference=f"class-drop-in:{paid[3].pk}")
    assert (entry.amount, entry.member_id) == (30_000, member.pk)


def test_no_credit_is_refused(make_member, make_session):
    member = make_member(credits=0)
    with pytest.raises(BookingRefused) as caught:
        svc.book(member, make_session().pk)
    assert caught.value.reason == "no_credit"


def test_a_plan_without_a_credit_limit_is_unlimited(make_member, make_session):
    member = make_member(credits=None)
    assert {svc.book(member, make_session(hours=h).pk).paid_by for h in (20, 22, 24)} == {"plan"}


def test_a_member_without_a_membership_books_with_a_pack(make_member, make_pack, session):
    member = make_member(plan=False)
    pack = make_pack(member, remaining=2)
    booking = svc.book(member, session.pk)
    assert (booking.paid_by, booking.pack_purchase_id) == ("pack", pack.pk)


def test_a_cancelled_booking_returns_its_credit_to_its_own_pack(
    make_member, make_session, make_pack
):
    member = make_member(credits=0)
    first, second = make_pack(member, remaining=1, days=5), make_pack(member, remaining=1, days=9)
    a = svc.book(member, make_session(hours=30).pk)
    b = svc.book(member, make_session(hours=34).pk)
    assert (a.pack_purchase_id, b.pack_purchase_id) == (first.pk, second.pk)
    svc.cancel(b.pk, member=member)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.remaining, second.remaining) == (0, 1)
    with pytest.raises(BookingNotChanged):
        svc.cancel(b.pk, member=member)
    second.refresh_from_db()
    assert second.remaining == 1  # given back exactly once


def test_a_plan_credit_comes_back_on_cancel(make_member, make_session):
    member = make_member(credits=1)
    first = svc.book(member, make_session(hours=30).pk)
    svc.cancel(first.pk, member=member)
    assert svc.book(member, make_session(hours=40).pk).paid_by == "plan"


def test_free_classes_cost_nothing(make_member, make_type, make_session):
    kind = make_type("open-mat", payment="free")
    assert svc.book(make_member(credits=0), make_session(class_type=kind).pk).paid_by == "free"
