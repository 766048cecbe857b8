"""Attendance: the roster, ticking members in, walk-ins, the gate's grants, no-shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from access_control.hooks import Grant
from config import clock
from members.models import Member

from ..errors import BookingNotChanged
from ..models import (
    Booking,
    BookingEvent,
    BookingSource,
    BookingStatus,
    BookingSuspension,
    ClassSession,
    FeeKind,
)
from . import paying
from .booking import book
from .fees import fee_create


def roster(session: ClassSession) -> list[Booking]:
    """Everyone booked, attended, no-show or waiting, places first then the queue."""
    return list(
        Booking.objects.filter(
            session_id=session.pk,
            status__in=[
                BookingStatus.BOOKED,
                BookingStatus.ATTENDED,
                BookingStatus.NO_SHOW,
                BookingStatus.WAITLISTED,
            ],
        )
        .select_related("member")
        .order_by("waitlist_position", "spot", "member__first_name", "pk")
    )


def mark_attended(booking_id: int, *, actor: Any = None, attended: bool = True) -> Booking:
    """Tick (or untick) a booked member on the roster."""
    now = clock.now()
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if attended:
            if booking.status == BookingStatus.ATTENDED:
                return booking
            if booking.status not in (BookingStatus.BOOKED, BookingStatus.NO_SHOW):
                raise BookingNotChanged(reason="not_booked")
            booking.status, booking.attended_at = BookingStatus.ATTENDED, now
        else:
            if booking.status != BookingStatus.ATTENDED:
                raise BookingNotChanged(reason="not_booked")
            booking.status, booking.attended_at = BookingStatus.BOOKED, None
        booking.save(update_fields=["status", "attended_at"])
        BookingEvent.objects.create(
            booking=booking, kind="attended" if attended else "attendance_undone", actor=actor
        )
    return booking


def walk_in(member: Member, session_id: int, *, actor: Any) -> Booking:
    """A member who turns up without a booking: booked (paid as usual) and attended."""
    booking = book(
        member,
        session_id,
        source=BookingSource.WALK_IN,
        actor=actor,
        override=True,
        override_reason="walk-in",
        waitlist=False,
    )
    return mark_attended(booking.pk, actor=actor)


def attendance_from_grant(grant: Grant) -> int:
    """access_control's ``access_granted`` hook: a member let into a class's room or
    zone within the check-in window is marked attended."""
    before = dt.timedelta(minutes=settings.CLASSES_CHECK_IN_MINUTES_BEFORE)
    return Booking.objects.filter(
        member_id=grant.member_id,
        status=BookingStatus.BOOKED,
        session__room__zone_id=grant.zone_id,
        session__status="scheduled",
        session__starts_at__lte=grant.at + before,
        session__ends_at__gte=grant.at,
    ).update(status=BookingStatus.ATTENDED, attended_at=grant.at)


def _strikes(member_ids: set[int], now: dt.datetime) -> None:
    limit = settings.CLASSES_NO_SHOW_STRIKES
    if not limit or not member_ids:
        return
    since = now - dt.timedelta(days=settings.CLASSES_STRIKE_WINDOW_DAYS)
    counts = (
        Booking.objects.filter(
            member_id__in=member_ids, status=BookingStatus.NO_SHOW, session__starts_at__gte=since
        )
        .values("member_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=limit)
    )
    running = set(
        BookingSuspension.objects.filter(member_id__in=member_ids, ends_at__gt=now).values_list(
            "member_id", flat=True
        )
    )
    BookingSuspension.objects.bulk_create(
        BookingSuspension(
            member_id=row["member_id"],
            starts_at=now,
            ends_at=now + dt.timedelta(days=settings.CLASSES_STRIKE_SUSPEND_DAYS),
            strikes=row["n"],
        )
        for row in counts
        if row["member_id"] not in running
    )


def attendance_close(session_id: int) -> int:
    """Close a session's attendance: booked members not checked in are no-shows (credit
    and/or fee as the class type says); repeated no-shows suspend booking."""
    now = clock.now()
    with transaction.atomic():
        session = (
            ClassSession.objects.select_for_update(of=("self",))
            .select_related("class_type", "room__location")
            .get(pk=session_id)
        )
        if session.attendance_closed_at or session.status != "scheduled":
            return 0
        missing = list(
            Booking.objects.filter(session_id=session.pk, status=BookingStatus.BOOKED)
            .select_related("member")
            .select_for_update(of=("self",))
        )
        for booking in missing:
            booking.session = session
            booking.status = BookingStatus.NO_SHOW
            if not session.class_type.no_show_forfeits_credit:
                paying.give_back(booking)
        Booking.objects.bulk_update(missing, ["status", "credit_returned"])
        for booking in missing:
            fee_create(booking, FeeKind.NO_SHOW, now)
        session.attendance_closed_at = now
        session.save(update_fields=["attendance_closed_at"])
        _strikes({b.member_id for b in missing}, now)
    return len(missing)


def attendance_close_due() -> int:
    """Beat: close every session that ended long enough ago."""
    cutoff = clock.now() - dt.timedelta(minutes=settings.CLASSES_ATTENDANCE_CLOSES_MINUTES)
    ids = ClassSession.objects.filter(
        Q(ends_at__lte=cutoff), attendance_closed_at__isnull=True, status="scheduled"
    ).values_list("pk", flat=True)[:500]
    return sum(attendance_close(pk) for pk in list(ids))
