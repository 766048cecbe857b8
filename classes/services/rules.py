"""The checks behind each refusal: the booking window, the member's standing, overlap.

Every function raises :class:`BookingRefused` with a stable reason, or returns what the
booking needs next.  Times are read on the location's wall clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from billing.models import Membership, MembershipStatus
from config.dates import format_datetime
from members.models import Member

from ..errors import BookingRefused
from ..models import HOLDS_PLACE, LIVE_BOOKING, Booking, BookingSuspension, ClassSession, ClassType


@dataclass(frozen=True)
class Window:
    opens_at: dt.datetime  # booking opens
    closes_at: dt.datetime  # booking closes
    cutoff: dt.datetime  # cancelling from here on is a late cancel


def window(session: ClassSession) -> Window:
    """The session's booking window.  Opening is N days before on the location's wall
    clock (the same local time, across a daylight-saving change); closing and the cutoff
    are minutes before the start."""
    kind = session.class_type
    tz = session.room.location.tz
    local = session.starts_at.astimezone(tz)
    opens_local = dt.datetime.combine(
        local.date() - dt.timedelta(days=kind.opens_days_before), local.time(), tzinfo=tz
    )
    return Window(
        opens_at=opens_local.astimezone(dt.UTC),
        closes_at=session.starts_at - dt.timedelta(minutes=kind.closes_minutes_before),
        cutoff=session.starts_at - dt.timedelta(minutes=kind.cancel_cutoff_minutes),
    )


def _local_text(at: dt.datetime, session: ClassSession) -> str:
    return format_datetime(at.astimezone(session.room.location.tz).replace(tzinfo=None))


def check_session_open(session: ClassSession, now: dt.datetime, *, override: bool) -> None:
    """The session takes bookings now (``override``: staff set the window aside)."""
    if session.status != "scheduled":
        raise BookingRefused(reason="session_cancelled")
    if now >= session.ends_at:
        raise BookingRefused(reason="session_over")
    if override:
        return
    span = window(session)
    if now < span.opens_at:
        raise BookingRefused(reason="not_open_yet", opens=_local_text(span.opens_at, session))
    if now >= span.closes_at:
        raise BookingRefused(reason="closed", closes=_local_text(span.closes_at, session))


REFUSED_STATUSES = {
    MembershipStatus.FROZEN: "membership_frozen",
    MembershipStatus.SUSPENDED: "membership_suspended",
    MembershipStatus.PENDING: "membership_inactive",
    MembershipStatus.CANCELLED: "membership_inactive",
    MembershipStatus.ENDED: "membership_inactive",
}


def membership_for(member: Member) -> Membership | None:
    """The member's newest membership, whatever its status (one query)."""
    return (
        Membership.objects.filter(member_id=member.pk)
        .select_related("plan")
        .order_by("-started_on", "-pk")
        .first()
    )


def check_standing(
    member: Member, session: ClassSession, now: dt.datetime, membership: Membership | None
) -> None:
    """The membership lets the member book this session, and no suspension is running.

    A member with no membership at all may still book with a class pack or a drop-in.
    """
    if membership is not None:
        refusal = REFUSED_STATUSES.get(MembershipStatus(membership.status))
        if refusal:
            raise BookingRefused(reason=refusal)
        day = session.starts_at.astimezone(session.room.location.tz).date()
        if (
            membership.frozen_from
            and membership.frozen_from <= day
            and (membership.frozen_until is None or day <= membership.frozen_until)
        ):
            raise BookingRefused(reason="membership_frozen")
        if membership.bookings_blocked:  # dunning's "block class bookings" step
            raise BookingRefused(reason="bookings_blocked")
    suspension = (
        BookingSuspension.objects.filter(member_id=member.pk, starts_at__lte=now, ends_at__gt=now)
        .order_by("-ends_at")
        .first()
    )
    if suspension is not None:
        raise BookingRefused(
            reason="strikes_suspended", until=_local_text(suspension.ends_at, session)
        )


def plans_including(kind: ClassType) -> set[int]:
    """The plans that include ``kind`` (empty: every plan does)."""
    through = ClassType.plans.through
    return set(through.objects.filter(classtype_id=kind.pk).values_list("plan_id", flat=True))


def check_entitled(membership: Membership | None, plan_ids: set[int]) -> bool:
    """Whether the plan's credits may pay; refuses a plan that excludes the class type."""
    if membership is None:
        return False
    if plan_ids and membership.plan_id not in plan_ids:
        raise BookingRefused(reason="not_entitled")
    return True


def check_no_clash(
    member: Member, session: ClassSession, *, holds_place: bool, booking_id: int | None = None
) -> None:
    """One live booking per member and session; no overlapping places (one query).
    ``booking_id``: the member's own waitlisted booking, which is about to take the place."""
    clash = Q(session_id=session.pk, status__in=LIVE_BOOKING)
    if holds_place and not settings.CLASSES_ALLOW_OVERLAP:
        clash |= Q(
            status__in=HOLDS_PLACE,
            session__starts_at__lt=session.ends_at,
            session__ends_at__gt=session.starts_at,
            session__status="scheduled",
        )
    rows = Booking.objects.filter(clash, member_id=member.pk)
    if booking_id is not None:
        rows = rows.exclude(pk=booking_id)
    found = list(rows.values_list("session_id", flat=True)[:2])
    if session.pk in found:
        raise BookingRefused(reason="already_booked")
    if found:
        raise BookingRefused(reason="overlapping")
