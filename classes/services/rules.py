"""The checks behind each refusal: the booking window, the member's standing, overlap.

Every function raises :class:`BookingRefused` with a stable reason, or returns what the
booking needs next.  Times are read on the location's wall clock.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from billing.gateways.redaction import looks_like_card_number
from billing.models import Membership, MembershipStatus, Plan
from config.dates import format_datetime
from config.db import model_columns, model_from_row, prepared_cursor
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


@functools.cache
def _membership_sql() -> str:
    through = ClassType.plans.through._meta.db_table
    suspension = BookingSuspension._meta.db_table
    return (
        f"SELECT {model_columns(Membership, 'm')}, {model_columns(Plan, 'p')}, "  # noqa: S608 - model metadata
        f"(SELECT s.ends_at FROM {suspension} s WHERE s.member_id = m.member_id "
        "AND s.starts_at <= %s AND s.ends_at > %s ORDER BY s.ends_at DESC LIMIT 1), "
        f"EXISTS (SELECT 1 FROM {through} t WHERE t.classtype_id = %s), "
        f"EXISTS (SELECT 1 FROM {through} t WHERE t.classtype_id = %s AND t.plan_id = m.plan_id) "
        f"FROM {Membership._meta.db_table} m JOIN {Plan._meta.db_table} p ON p.id = m.plan_id "
        "WHERE m.member_id = %s ORDER BY m.started_on DESC, m.id DESC LIMIT 1"
    )


def membership_for(member: Member, kind: ClassType, now: dt.datetime) -> Membership | None:
    """The member's newest membership, whatever its status, in one statement, with its
    plan and what the booking rules read beside it: a running booking suspension's end
    (``suspended_until``), and whether the class type is limited to some plans
    (``type_limited``) and includes this one (``plan_included``).

    Written once as SQL (a prepared statement): a booking reads it every time, and
    building the equivalent queryset cost more CPU than the whole statement."""
    with prepared_cursor() as cursor:
        cursor.execute(_membership_sql(), [now, now, kind.pk, kind.pk, member.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    membership, end = model_from_row(Membership, row)
    plan, end = model_from_row(Plan, row, end)
    membership.plan = plan
    membership.suspended_until, membership.type_limited, membership.plan_included = row[end:]  # type: ignore[attr-defined]
    return membership


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


@functools.cache
def _clash_sql(overlap: bool) -> str:
    live = ", ".join(f"'{status}'" for status in LIVE_BOOKING)
    holds = ", ".join(f"'{status}'" for status in HOLDS_PLACE)
    clash = f"(b.session_id = %s AND b.status IN ({live}))"
    if overlap:
        clash = (
            f"({clash} OR (b.status IN ({holds}) AND s.starts_at < %s AND s.ends_at > %s "
            "AND s.status = 'scheduled'))"
        )
    return (
        f"SELECT b.session_id FROM {Booking._meta.db_table} b "  # noqa: S608 - model metadata
        f"JOIN {ClassSession._meta.db_table} s ON s.id = b.session_id "
        f"WHERE b.member_id = %s AND b.id <> %s AND {clash} LIMIT 2"
    )


def check_no_clash(
    member: Member, session: ClassSession, *, holds_place: bool, booking_id: int | None = None
) -> None:
    """One live booking per member and session; no overlapping places (one statement).
    ``booking_id``: the member's own waitlisted booking, which is about to take the place."""
    overlap = holds_place and not settings.CLASSES_ALLOW_OVERLAP
    params: list[Any] = [member.pk, booking_id or 0, session.pk]
    if overlap:
        params += [session.ends_at, session.starts_at]
    with prepared_cursor() as cursor:
        cursor.execute(_clash_sql(overlap), params)
        found = [row[0] for row in cursor.fetchall()]
    if session.pk in found:
        raise BookingRefused(reason="already_booked")
    if found:
        raise BookingRefused(reason="overlapping")
