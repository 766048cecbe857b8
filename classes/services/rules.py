"""The checks behind each refusal: the booking window, the member's standing, overlap.

Every function raises :class:`BookingRefused` with a stable reason, or returns what the
booking needs next.  Times are read on the location's wall clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery

from billing.gateways.redaction import looks_like_card_number
from billing.models import Membership, MembershipStatus
from config.dates import format_datetime
from config.inputs import clean_text, for_field
from members.models import Member

from ..errors import CARD_NUMBER_IN_TEXT, BookingRefused, CardNumberInText
from ..models import HOLDS_PLACE, LIVE_BOOKING, Booking, BookingSuspension, ClassSession, ClassType


def clean_reason(value: str | None, *, field: str = "reason") -> str:
    """A staff member's reason (a waiver, a window override, a waitlist skip), trimmed:
    clean single-line text (the forms and the API bound it to 300 characters), and never
    a card number (refused with ``card_number_refused``; neither stored nor echoed)."""
    value = (value or "").strip()
    with for_field(field):
        clean_text(value)
    if looks_like_card_number(value):
        raise CardNumberInText({field: [str(CARD_NUMBER_IN_TEXT)]})
    return value


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


def membership_for(member: Member, kind: ClassType, now: dt.datetime) -> Membership | None:
    """The member's newest membership, whatever its status, in one query, with what the
    booking rules read beside it: a running booking suspension's end, and whether the
    class type is limited to some plans and includes this one."""
    through = ClassType.plans.through
    return (
        Membership.objects.filter(member_id=member.pk)
        .select_related("plan")
        .annotate(
            suspended_until=Subquery(
                BookingSuspension.objects.filter(
                    member_id=OuterRef("member_id"), starts_at__lte=now, ends_at__gt=now
                )
                .order_by("-ends_at")
                .values("ends_at")[:1]
            ),
            type_limited=Exists(through.objects.filter(classtype_id=kind.pk)),
            plan_included=Exists(
                through.objects.filter(classtype_id=kind.pk, plan_id=OuterRef("plan_id"))
            ),
        )
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
        until = getattr(membership, "suspended_until", None)
    else:
        until = (
            BookingSuspension.objects.filter(
                member_id=member.pk, starts_at__lte=now, ends_at__gt=now
            )
            .order_by("-ends_at")
            .values_list("ends_at", flat=True)
            .first()
        )
    if until is not None:
        raise BookingRefused(reason="strikes_suspended", until=_local_text(until, session))


def check_entitled(membership: Membership | None) -> bool:
    """Whether the plan's credits may pay; refuses a plan that excludes the class type."""
    if membership is None:
        return False
    if getattr(membership, "type_limited", False) and not getattr(
        membership, "plan_included", False
    ):
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
