"""Late cancels and no-shows: credit forfeited and/or a fee, pending, waived or posted."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.models import LedgerEntry
from classes.errors import BookingNotChanged
from classes.models import BookingSuspension, ClassFee
from classes.services import attendance, fees
from classes.services import booking as svc
from config import clock
from config.clock import travel_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict(yoga):
    yoga.late_cancel_fee, yoga.no_show_fee, yoga.cancel_cutoff_minutes = 10_000, 20_000, 120
    yoga.save()
    return yoga


def test_late_cancel_fee_is_pending_then_posted_to_the_account(
    strict, make_member, make_pack, make_session
):
    member = make_member(credits=0)
    pack = make_pack(member, remaining=1)
    booking = svc.book(member, make_session(hours=1).pk)
    svc.cancel(booking.pk, member=member)
    pack.refresh_from_db()
    assert pack.remaining == 0  # the credit is forfeited
    fee = ClassFee.objects.get(booking=booking)
    assert (fee.kind, fee.status, fee.amount) == ("late_cancel", "pending", 10_000)
    assert fees.fees_post_due() == 0  # staff still have time to waive it
    with travel_to(clock.now() + dt.timedelta(hours=25)):
        assert fees.fees_post_due() == 1
        assert fees.fees_post_due() == 0
    fee.refresh_from_db()
    entry = LedgerEntry.objects.get(reference=f"class-fee:{fee.pk}")
    assert (fee.status, fee.ledger_entry_id, entry.amount, entry.member_id) == (
        "posted",
        entry.pk,
        10_000,
        member.pk,
    )


def test_a_waived_fee_is_never_posted(strict, make_member, make_session, make_staff):
    member = make_member()
    booking = svc.book(member, make_session(hours=1).pk)
    svc.cancel(booking.pk)
    fee = ClassFee.objects.get(booking=booking)
    staff = make_staff("Manager")
    with pytest.raises(BookingNotChanged):
        fees.fee_waive(fee, staff, " ")
    fees.fee_waive(fee, staff, "Sick child, first time")
    with pytest.raises(BookingNotChanged):
        fees.fee_waive(fee, staff, "again")
    with travel_to(clock.now() + dt.timedelta(hours=25)):
        assert fees.fees_post_due() == 0
    fee.refresh_from_db()
    assert (fee.status, fee.waived_by_id) == ("waived", staff.pk)
    assert not LedgerEntry.objects.filter(member=member).exists()


def test_a_cancel_before_the_cutoff_has_no_fee(strict, make_member, make_session):
    booking = svc.book(make_member(), make_session(hours=5).pk)
    assert svc.cancel(booking.pk).status == "cancelled"
    assert not ClassFee.objects.exists()


def test_no_shows_when_attendance_closes_and_strikes_suspend(
    strict, make_member, make_session, settings
):
    settings.CLASSES_NO_SHOW_STRIKES = 2
    member, present = make_member(), make_member()
    sessions = [make_session(hours=h) for h in (2, 5)]
    for s in sessions:
        svc.book(member, s.pk)
    kept = svc.book(present, sessions[0].pk)
    attendance.mark_attended(kept.pk)
    with travel_to(clock.now() + dt.timedelta(hours=8)):
        assert attendance.attendance_close_due() == 2
        assert attendance.attendance_close_due() == 0
    kept.refresh_from_db()
    assert kept.status == "attended"
    assert set(ClassFee.objects.values_list("kind", "member_id")) == {("no_show", member.pk)}
    assert ClassFee.objects.count() == 2
    assert BookingSuspension.objects.filter(member=member).count() == 1
    assert not BookingSuspension.objects.filter(member=present).exists()
