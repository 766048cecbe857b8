"""Booking, the waitlist, cancellations and the gym's own changes.

Locks, always in this order (docs/locking.md, "Classes"): the session's row, then the
members' booking locks (advisory, in id order, one statement), then packs and
bookings.  Every change to a session's places happens under its row lock, so its
capacity is never exceeded and two members never share a spot, however many requests
arrive at once; every place a member takes is taken under that member's lock, so one
member's two requests for overlapping sessions (each under its own session's lock)
never both get a place, nor share the plan's last credit.

Before the late-cancel cutoff a freed place goes to the first waitlisted member who can
take it, in the same transaction; after it, the place is offered in turn, each offer
for a limited time.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from config import clock
from config.db import prepared_cursor
from members.models import Member

from ..errors import BookingNotChanged, BookingRefused
from ..models import (
    HOLDS_PLACE,
    LIVE_BOOKING,
    Booking,
    BookingEvent,
    BookingSource,
    BookingStatus,
    ClassSession,
    FeeKind,
    SessionStatus,
)
from . import outbox, paying, rules
from .fees import fee_create


def _locked_session(session_id: int) -> ClassSession:
    try:
        return (
            ClassSession.objects.select_for_update(of=("self",))
            .select_related("class_type", "room__location")
            .get(pk=session_id)
        )
    except ClassSession.DoesNotExist:
        raise BookingRefused(reason="session_cancelled") from None


# The classes' per-member advisory locks: (this namespace, the member's id).  The
# two-key space never meets the one-key locks on cards (dunning.caps).
MEMBER_LOCK_SPACE = 0x636C6173  # "clas"


def lock_members(member_ids: Iterable[int]) -> None:
    """Take the members' booking locks, in id order, in one statement (held to commit).

    Taken after the session's row and before any booking row: see docs/locking.md."""
    ids = sorted(set(member_ids))
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, k) FROM "
            "(SELECT mod(unnest(%s::bigint[]), 2147483647)::int AS k ORDER BY 1) s",
            [MEMBER_LOCK_SPACE, ids],
        )


def _claim_member(member: Member, session: ClassSession, *, booking_id: int | None = None) -> None:
    """Under ``member``'s lock: no live booking here and no overlapping place elsewhere."""
    lock_members([member.pk])
    rules.check_no_clash(member, session, holds_place=True, booking_id=booking_id)


def _session(session_id: int) -> ClassSession:
    try:
        return ClassSession.objects.select_related("class_type", "room__location").get(
            pk=session_id
        )
    except ClassSession.DoesNotExist:
        raise BookingRefused(reason="session_cancelled") from None


def _offers_out(session: ClassSession, now: dt.datetime) -> int:
    return Booking.objects.filter(
        session_id=session.pk, status=BookingStatus.WAITLISTED, offer_expires_at__gt=now
    ).count()


def _spot_for(session: ClassSession, wanted: int | None) -> int | None:
    spots = session.room.spots
    if not spots:
        return None
    taken = set(
        Booking.objects.filter(
            session_id=session.pk, status__in=HOLDS_PLACE, spot__isnull=False
        ).values_list("spot", flat=True)
    )
    if wanted is not None:
        if not 1 <= wanted <= spots:
            raise BookingRefused(reason="no_such_spot", spot=wanted)
        if wanted in taken:
            raise BookingRefused(reason="spot_taken")
        return wanted
    return next((n for n in range(1, spots + 1) if n not in taken), None)


def _take_place(
    booking: Booking, session: ClassSession, member: Member, now: dt.datetime, **standing: Any
) -> None:
    """Pay for and give ``booking`` a place (the session is locked and has room)."""
    membership = standing["membership"]
    plan_applies = rules.check_entitled(membership)
    paid = paying.pay(member, session, membership, plan_applies=plan_applies, today=clock.today())
    paying.apply(booking, paid)
    booking.spot = _spot_for(session, standing.get("spot"))
    booking.status, booking.booked_at = BookingStatus.BOOKED, now
    booking.waitlist_position = None
    booking.offer_expires_at = None
    session.booked_count += 1
    _count_write(session)


def _standing(member: Member, session: ClassSession, now: dt.datetime) -> dict[str, Any]:
    """Status, suspension and entitlement, in one query (refuses with the reason)."""
    membership = rules.membership_for(member, session.class_type, now)
    rules.check_standing(member, session, now, membership)
    rules.check_entitled(membership)
    return {"membership": membership}


@functools.cache
def _queue_sql() -> str:
    live = ", ".join(f"'{status}'" for status in LIVE_BOOKING)
    waiting = f"status = '{BookingStatus.WAITLISTED}'"
    return (
        f"SELECT count(*) FILTER (WHERE {waiting} AND offer_expires_at > %s), "  # noqa: S608 - model metadata
        f"count(*) FILTER (WHERE {waiting}), "
        f"max(waitlist_position) FILTER (WHERE {waiting}), "
        "count(*) FILTER (WHERE member_id = %s) "
        f"FROM {Booking._meta.db_table} WHERE session_id = %s AND status IN ({live})"
    )


def _queue_state(session: ClassSession, member: Member, now: dt.datetime) -> dict[str, int]:
    """In one statement, under the session's lock (a statement of its own, so it sees every
    booking committed before the lock was granted): places held by open offers, the
    waitlist's length and last place, and whether ``member`` already has a live booking."""
    with prepared_cursor() as cursor:
        cursor.execute(_queue_sql(), [now, member.pk, session.pk])
        row = cursor.fetchone()
    names = ("offers", "waiting", "last", "mine")
    return {key: value or 0 for key, value in zip(names, row, strict=True)}


@functools.cache
def _lock_sql() -> str:
    return (
        "SELECT status, capacity, booked_count, starts_at, ends_at, class_type_id, room_id "  # noqa: S608 - model metadata
        f"FROM {ClassSession._meta.db_table} WHERE id = %s FOR UPDATE"
    )


def _lock_read_session(session: ClassSession) -> ClassSession:
    """Lock ``session``'s row (read before, with its class type and room) and bring what
    may have changed since up to date: one short statement.  A session moved to another
    class type or room meanwhile is read again whole."""
    with prepared_cursor() as cursor:
        cursor.execute(_lock_sql(), [session.pk])
        row = cursor.fetchone()
    if row is None:
        raise BookingRefused(reason="session_cancelled")
    if (row[5], row[6]) != (session.class_type_id, session.room_id):
        return _locked_session(session.pk)
    session.status, session.capacity, session.booked_count = row[0], row[1], row[2]
    session.starts_at, session.ends_at = row[3], row[4]
    return session


def _count_write(session: ClassSession) -> None:
    with prepared_cursor() as cursor:
        cursor.execute(
            f"UPDATE {ClassSession._meta.db_table} SET booked_count = %s WHERE id = %s",  # noqa: S608 - model metadata
            [session.booked_count, session.pk],
        )


def book(
    member: Member,
    session_id: int,
    *,
    source: str = BookingSource.MEMBER,
    actor: Any = None,
    override_reason: str = "",
    override: bool = False,
    spot: int | None = None,
    waitlist: bool = True,
    session: ClassSession | None = None,
) -> Booking:
    """Book ``member`` into the session, or put them on its waitlist when it is full.

    ``override``: staff book outside the window, and must say why (logged).
    ``session``: the session already read by the caller (with its class type and room's
    location), so it is not read twice; its lock is taken here all the same, and its
    changing fields (status, times, capacity, places taken) are brought up to date on it.
    """
    override_reason = rules.clean_reason(override_reason)
    if override and not override_reason:
        raise BookingRefused(reason="reason_required")
    now = clock.now()
    # What depends only on the member is read before the session's lock is taken, so the
    # lock is held for as few statements as possible (a rush serialises on it).
    # (Whether the member is already booked here is read under the lock, with the queue.)
    before = session if session is not None and session.pk == session_id else _session(session_id)
    rules.check_session_open(before, now, override=override)
    standing = _standing(member, before, now)
    try:
        return _book_locked(
            member,
            before,
            now,
            standing,
            source,
            actor,
            override,
            override_reason,
            spot,
            waitlist,
        )
    except IntegrityError:  # the same member, twice at once: the second insert loses
        raise BookingRefused(reason="already_booked") from None


def _book_locked(
    member: Member,
    before: ClassSession,
    now: dt.datetime,
    standing: dict[str, Any],
    source: str,
    actor: Any,
    override: bool,
    override_reason: str,
    spot: int | None,
    waitlist: bool,
) -> Booking:
    with transaction.atomic():
        session = _lock_read_session(before)
        rules.check_session_open(session, now, override=override)
        queue = _queue_state(session, member, now)
        if queue["mine"]:
            raise BookingRefused(reason="already_booked")
        has_room = session.booked_count + queue["offers"] < session.capacity
        if not has_room and (not waitlist or queue["waiting"] >= session.class_type.waitlist_limit):
            raise BookingRefused(reason="full")
        if has_room:  # a place: under the member's lock, no overlapping place either
            _claim_member(member, session)
        booking = Booking(
            session=session,
            member=member,
            source=source,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            override_reason=override_reason[:300],
            created_at=now,
        )
        if has_room:
            _take_place(booking, session, member, now, spot=spot, **standing)
            booking.save()
            paying.drop_in_charge(booking, session)
        else:
            booking.status = BookingStatus.WAITLISTED
            booking.waitlist_position = queue["last"] + 1
            booking.save()
        if override:
            BookingEvent.objects.create(
                booking=booking,
                kind="window_override",
                reason=override_reason,
                actor=booking.created_by,
            )
    return booking


def _locked_booking(booking_id: int, *, member_lock: bool = False) -> tuple[ClassSession, Booking]:
    """The booking's session, then (``member_lock``: the booking is about to take a
    place) its member's lock, then the booking's row: the order of docs/locking.md."""
    row = Booking.objects.filter(pk=booking_id).values_list("session_id", "member_id").first()
    if row is None:
        raise BookingNotChanged(reason="not_booked")
    session = _locked_session(row[0])
    if member_lock:
        lock_members([row[1]])
    booking = (
        Booking.objects.select_for_update(of=("self",)).select_related("member").get(pk=booking_id)
    )
    booking.session = session
    return session, booking


def _release(session: ClassSession, booking: Booking) -> None:
    if booking.status in HOLDS_PLACE:
        session.booked_count = max(session.booked_count - 1, 0)
        ClassSession.objects.filter(pk=session.pk).update(booked_count=session.booked_count)


def cancel(booking_id: int, *, actor: Any = None, member: Member | None = None) -> Booking:
    """Cancel a booking or leave the waitlist.  ``member``: only their own booking.

    Before the cutoff the credit comes back and the place goes to the waitlist at once;
    after it, the booking is late-cancelled (credit and/or fee as the class type says)
    and the place is offered in turn.
    """
    now = clock.now()
    with transaction.atomic():
        session, booking = _locked_booking(booking_id)
        if member is not None and booking.member_id != member.pk:
            raise BookingNotChanged(reason="not_booked")
        if booking.status == BookingStatus.WAITLISTED:
            held_offer = booking.offer_expires_at is not None and booking.offer_expires_at > now
            booking.status, booking.cancelled_at = BookingStatus.CANCELLED, now
            booking.cancel_reason, booking.offer_expires_at = "left_waitlist", None
            booking.save(
                update_fields=["status", "cancelled_at", "cancel_reason", "offer_expires_at"]
            )
            if held_offer:
                offer_next(session, now)
            return booking
        if booking.status != BookingStatus.BOOKED:
            raise BookingNotChanged(reason="not_booked")
        _release(session, booking)
        kind = session.class_type
        late = now >= rules.window(session).cutoff
        if late:
            booking.status = BookingStatus.LATE_CANCELLED
            if not kind.late_cancel_forfeits_credit:
                paying.give_back(booking)
        else:
            booking.status = BookingStatus.CANCELLED
            paying.give_back(booking)
        booking.cancelled_at, booking.cancel_reason = now, "member" if member else "staff"
        booking.save(update_fields=["status", "cancelled_at", "cancel_reason", "credit_returned"])
        if late:
            fee_create(booking, FeeKind.LATE_CANCEL, now)
        refill(session, now)
    return booking


def _eligible_take(booking: Booking, session: ClassSession, now: dt.datetime) -> bool:
    """Try to give waitlisted ``booking`` the place; ``False`` if the member can't take it."""
    try:
        with transaction.atomic():  # a savepoint: a refusal leaves nothing behind
            standing = _standing(booking.member, session, now)
            rules.check_no_clash(booking.member, session, holds_place=True, booking_id=booking.pk)
            _take_place(booking, session, booking.member, now, **standing)
            booking.source = BookingSource.WAITLIST
            booking.save()
            paying.drop_in_charge(booking, session)
            _leave_overlapping_waitlists(booking, session, now)
    except BookingRefused:
        session.refresh_from_db(fields=["booked_count"])
        return False
    return True


def _leave_overlapping_waitlists(booking: Booking, session: ClassSession, now: dt.datetime) -> None:
    """A member promoted into a class leaves the waitlists of classes at the same time."""
    Booking.objects.filter(
        ~Q(session_id=session.pk),
        member_id=booking.member_id,
        status=BookingStatus.WAITLISTED,
        session__starts_at__lt=session.ends_at,
        session__ends_at__gt=session.starts_at,
    ).update(
        status=BookingStatus.CANCELLED,
        cancelled_at=now,
        cancel_reason="promoted_elsewhere",
        offer_expires_at=None,
    )


def _queue(session: ClassSession, now: dt.datetime, *, member_locks: bool = False) -> list[Booking]:
    """The waitlist's rows in order, locked.  ``member_locks``: its members' locks are
    taken first (all at once, in id order), as a promotion gives them places."""
    waiting = Booking.objects.filter(session_id=session.pk, status=BookingStatus.WAITLISTED).filter(
        Q(offer_expires_at__isnull=True) | Q(offer_expires_at__lte=now)
    )
    if member_locks:
        lock_members(waiting.values_list("member_id", flat=True))
    return list(
        waiting.select_related("member")
        .select_for_update(of=("self",))
        .order_by("waitlist_position", "pk")
    )


def promote(session: ClassSession, now: dt.datetime) -> list[Booking]:
    """Fill free places from the waitlist, in order, skipping members who can't take one.

    Runs under the session's lock, in the caller's transaction.
    """
    free = session.capacity - session.booked_count - _offers_out(session, now)
    promoted: list[Booking] = []
    if free <= 0:
        return promoted
    for booking in _queue(session, now, member_locks=True):
        if free <= 0:
            break
        booking.session = session
        if _eligible_take(booking, session, now):
            promoted.append(booking)
            free -= 1
            BookingEvent.objects.create(booking=booking, kind="promoted")
            outbox.plan(booking, "promoted")
    return promoted


def offer_next(session: ClassSession, now: dt.datetime) -> Booking | None:
    """After the cutoff: offer a free place to the next waitlisted member who may take it,
    for the class type's minutes (never past the start)."""
    if session.status != SessionStatus.SCHEDULED or now >= session.starts_at:
        return None
    free = session.capacity - session.booked_count - _offers_out(session, now)
    if free <= 0:
        return None
    for booking in _queue(session, now):
        try:
            with transaction.atomic():
                standing = _standing(booking.member, session, now)
                del standing
                rules.check_no_clash(
                    booking.member, session, holds_place=True, booking_id=booking.pk
                )
        except BookingRefused:
            continue
        minutes = dt.timedelta(minutes=session.class_type.offer_minutes)
        booking.offer_expires_at = min(now + minutes, session.starts_at)
        booking.save(update_fields=["offer_expires_at"])
        booking.session = session
        BookingEvent.objects.create(booking=booking, kind="offered")
        outbox.plan(
            booking,
            "offered",
            key=f"offered:{booking.pk}:{int(now.timestamp())}",
            extra={"until": booking.offer_expires_at},
        )
        return booking
    return None


def refill(session: ClassSession, now: dt.datetime) -> None:
    """A place came free: promote before the cutoff, offer after it."""
    if session.status != SessionStatus.SCHEDULED or now >= session.starts_at:
        return
    if now < rules.window(session).cutoff:
        promote(session, now)
    else:
        offer_next(session, now)


def accept_offer(booking_id: int, *, member: Member | None = None) -> Booking:
    now = clock.now()
    with transaction.atomic():
        session, booking = _locked_booking(booking_id, member_lock=True)
        if member is not None and booking.member_id != member.pk:
            raise BookingNotChanged(reason="no_offer")
        if booking.status != BookingStatus.WAITLISTED or booking.offer_expires_at is None:
            raise BookingNotChanged(reason="no_offer")
        if booking.offer_expires_at <= now:
            raise BookingNotChanged(reason="offer_expired")
        # The offer holds the place: free it for this member, then take it.
        booking.offer_expires_at = None
        standing = _standing(booking.member, session, now)
        rules.check_no_clash(booking.member, session, holds_place=True, booking_id=booking.pk)
        if session.booked_count >= session.capacity:
            raise BookingNotChanged(reason="session_full")
        _take_place(booking, session, booking.member, now, **standing)
        booking.save()
        paying.drop_in_charge(booking, session)
        _leave_overlapping_waitlists(booking, session, now)
        BookingEvent.objects.create(booking=booking, kind="offer_accepted")
    return booking


def offers_expire() -> int:
    """Beat: offers not accepted in time go to the next member in line."""
    now = clock.now()
    expired = 0
    session_ids = set(
        Booking.objects.filter(
            status=BookingStatus.WAITLISTED, offer_expires_at__lte=now
        ).values_list("session_id", flat=True)
    )
    for session_id in sorted(session_ids):
        with transaction.atomic():
            session = _locked_session(session_id)
            expired += Booking.objects.filter(
                session_id=session_id, status=BookingStatus.WAITLISTED, offer_expires_at__lte=now
            ).update(
                status=BookingStatus.CANCELLED,
                cancelled_at=now,
                cancel_reason="offer_expired",
                offer_expires_at=None,
            )
            offer_next(session, now)
    return expired


def move_off_waitlist(booking_id: int, *, actor: Any, reason: str) -> Booking:
    """Staff give a waitlisted member a free place ahead of the queue (logged)."""
    reason = rules.clean_reason(reason)
    if not reason:
        raise BookingNotChanged(reason="reason_required")
    now = clock.now()
    with transaction.atomic():
        session, booking = _locked_booking(booking_id, member_lock=True)
        if booking.status != BookingStatus.WAITLISTED:
            raise BookingNotChanged(reason="not_waitlisted")
        if session.booked_count + _offers_out(session, now) >= session.capacity:
            raise BookingNotChanged(reason="session_full")
        standing = _standing(booking.member, session, now)
        rules.check_no_clash(booking.member, session, holds_place=True, booking_id=booking.pk)
        _take_place(booking, session, booking.member, now, **standing)
        booking.source = BookingSource.STAFF
        booking.save()
        paying.drop_in_charge(booking, session)
        _leave_overlapping_waitlists(booking, session, now)
        BookingEvent.objects.create(
            booking=booking, kind="moved_off_waitlist", reason=reason[:300], actor=actor
        )
        outbox.plan(booking, "promoted")
    return booking


def _release_all(session: ClassSession, now: dt.datetime, kind: str, reason: str) -> int:
    bookings = list(
        Booking.objects.filter(
            session_id=session.pk, status__in=[BookingStatus.BOOKED, BookingStatus.WAITLISTED]
        )
        .select_related("member")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    for booking in bookings:
        booking.session = session
        if booking.status == BookingStatus.BOOKED:
            paying.give_back(booking)
        booking.status, booking.cancelled_at, booking.cancel_reason = (
            BookingStatus.CANCELLED,
            now,
            reason,
        )
        booking.offer_expires_at = None
        outbox.plan(booking, kind, key=f"{kind}:{booking.pk}:{int(now.timestamp())}")
    Booking.objects.bulk_update(
        bookings, ["status", "cancelled_at", "cancel_reason", "credit_returned", "offer_expires_at"]
    )
    session.booked_count = 0
    return len(bookings)


def session_cancel(session_id: int, *, actor: Any = None) -> int:
    """The gym cancels a session: everyone booked or waiting is told, credits come back,
    no fee.  Returns how many bookings were released."""
    now = clock.now()
    with transaction.atomic():
        session = _locked_session(session_id)
        if session.status == SessionStatus.CANCELLED:
            return 0
        released = _release_all(session, now, "session_cancelled", "gym_cancelled")
        session.status = SessionStatus.CANCELLED
        session.save(update_fields=["status", "booked_count"])
    return released


def session_move(session_id: int, starts_at: dt.datetime, *, actor: Any = None) -> int:
    """The gym changes a session's time: its bookings are released with their credits
    and every member is told the new time (they book again if it suits them)."""
    now = clock.now()
    with transaction.atomic():
        session = _locked_session(session_id)
        length = session.ends_at - session.starts_at
        session.starts_at, session.ends_at = starts_at, starts_at + length
        released = _release_all(session, now, "session_moved", "gym_moved")
        session.save(update_fields=["starts_at", "ends_at", "booked_count"])
    return released
