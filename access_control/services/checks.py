"""Access decisions as they happen: at a device, at the desk, and overridden by staff.

A check is three SQL statements at most: the gate's one-statement read, the event insert,
and one of: loading the device (only when it is not cached), taking a pack holder's
visit (their first entry of the day), or writing the device's ``last_seen`` (at most
once a minute, and left to the next check when the statement is spent).  Only a pack
holder's first entry of the day on a device that is not cached costs four.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from billing.services.packs import pack_visit_take
from config import clock
from config.db import insert_row
from config.errors import InvalidInput
from members.audit import audit_record
from members.models import Member

from .. import hooks, presence
from ..credentials import presented_candidates
from ..engine import AccessDecision, GateFacts, MemberSnapshot, decide
from ..errors import OverrideNotAllowed
from ..models import (
    AccessEvent,
    Decision,
    DeviceDirection,
    Direction,
    EventSource,
    Zone,
)
from ..reasons import Reason, reason_message, warning_message
from ..selectors import gate_read, gate_read_member, zone_snapshot
from .devices import DeviceIdentity, device_seen

OVERRIDE_PERMISSION = "access_control.override_access"


@dataclass(frozen=True)
class CheckResult:
    """A decision as the reader and the desk show it."""

    granted: bool
    reason: str
    message: str
    member: MemberSnapshot | None
    warnings: tuple[tuple[str, str], ...]  # (code, message)
    event_id: int
    replayed: bool = False


def _result(
    granted: bool,
    reason: str,
    warnings: list[str] | tuple[str, ...],
    member: MemberSnapshot | None,
    event_id: int,
    *,
    replayed: bool = False,
) -> CheckResult:
    language = member.language if member else None
    return CheckResult(
        granted=granted,
        reason=reason,
        message=reason_message(reason, language),
        member=member,
        warnings=tuple((code, warning_message(code, language)) for code in warnings),
        event_id=event_id,
        replayed=replayed,
    )


def resolve_direction(device: DeviceIdentity, requested: str | None) -> str:
    """The direction of a pass: the device's own, or for a two-way device the one asked
    (entry if none).  Asking a one-way device for the other way is invalid input."""
    if device.direction == DeviceDirection.BOTH:
        return requested or Direction.IN
    if requested and requested != device.direction:
        message = _("This device only reads the direction '%(direction)s'.")
        raise InvalidInput({"direction": [message % {"direction": device.direction}]})
    return str(device.direction)


def _write(event: AccessEvent, *, durable: bool) -> int:
    """Insert ``event`` and move its member's presence in the zone forward.

    On PostgreSQL both happen in the INSERT's one statement; elsewhere (the SQLite demo)
    the presence is a second one.  A duplicate raises ``IntegrityError``.
    """
    if connection.vendor == "postgresql":
        return insert_row(event, durable=durable, then=presence.FROM_INSERTED)
    event_id = insert_row(event, durable=durable)
    presence.presence_record([event])
    return event_id


def _log(event: AccessEvent, decision: AccessDecision) -> tuple[AccessDecision, bool]:
    """Insert ``event`` for the gate's log (see :func:`_write`), and the decision to
    answer with: ``decision``, or, when this read's device event id is already recorded
    (a retry that raced its original, or one whose original matched no credential), the
    original's, replayed.  No ``ON CONFLICT``: the answer must be what the stored row
    says, whatever this request computed.

    The gate's log is written without waiting for the disk (see ``insert_row``'s
    ``durable``): only a crash of the database server itself could lose the last
    fraction of a second of attempts.  A pack visit's claim, which money depends on, is
    written durably (:func:`_claim`), and flushes any such event before it.
    """
    if not event.device_event_id:
        _write(event, durable=False)
        return decision, False
    try:
        _contained(lambda: _write(event, durable=False))
    except IntegrityError:
        event.pk = None
        prior = _prior(event)
        if prior is None:
            raise
        return _recorded(prior), True
    return decision, False


def _claim(event: AccessEvent) -> None:
    """Insert ``event``, which claims its pack's visit for its day, durably.

    Raises IntegrityError unless this very statement created the row: when the day's
    visit is already claimed, and when this read's device event id is already recorded
    (a retry that raced the original).  No ``ON CONFLICT`` on the device event id: that
    would hand back the original's id as if this insert had made it, and the visit
    would be taken a second time.
    """
    _write(event, durable=True)


def _apply(event: AccessEvent, decision: AccessDecision) -> None:
    event.decision = Decision.GRANTED if decision.granted else Decision.DENIED
    event.reason = decision.reason
    event.warnings = list(decision.warnings)


def _contained(write: Callable[[], object]) -> None:
    """Run one write whose IntegrityError the caller handles.  In autocommit a failed
    statement rolls back alone; inside a caller's transaction it needs a savepoint."""
    if connection.in_atomic_block:
        with transaction.atomic():
            write()
    else:
        write()


def _record(
    event: AccessEvent, decision: AccessDecision, facts: GateFacts
) -> tuple[AccessDecision, bool]:
    """Write the event for ``decision``; a first entry of the day takes a pack visit.

    Returns the decision to answer with, and whether it is the original's replayed.
    The event claims the day's visit (unique per pack and local day), then the pack loses
    it: two statements, no transaction.  Only the request whose INSERT created the claim
    takes the visit.  A second entry racing for the same day finds the claim taken and
    enters free; a retry of the same read (same device event id) racing the original
    finds it recorded and answers with its decision.  If the process died between the
    two statements, the member would keep that visit: a visit is never taken twice, nor
    without an entry.
    """
    _apply(event, decision)
    pack = decision.charge_pack
    if pack is None:
        return _log(event, decision)
    event.pack_purchase_id, event.pack_day = pack.purchase_id, facts.today
    try:
        _contained(lambda: _claim(event))
    except IntegrityError:
        event.pk = None
        event.pack_purchase_id = event.pack_day = None
        prior = _prior(event) if event.device_event_id else None
        if prior is not None:  # a concurrent retry of this very read recorded it
            return _recorded(prior), True
        return _log(event, decision)  # another entry claimed today's visit a moment ago
    pack_visit_take(pack.purchase_id)
    return decision, False


def _prior(event: AccessEvent) -> AccessEvent | None:
    prior = AccessEvent.objects.filter(
        device=event.device_id, device_event_id=event.device_event_id
    ).first()
    if prior is not None:
        event.pk = prior.pk
    return prior


def _recorded(prior: AccessEvent) -> AccessDecision:
    """The decision an event already stored records."""
    return AccessDecision(
        granted=prior.decision == Decision.GRANTED,
        reason=prior.reason,
        warnings=tuple(prior.warnings or ()),
    )


def access_check(
    device: DeviceIdentity,
    *,
    credential: str,
    direction: str | None = None,
    device_event_id: str | None = None,
) -> CheckResult:
    """Decide whether what a device read may pass, log the attempt, and say why.

    With ``device_event_id``, a retry returns the original decision and logs nothing.
    """
    now = clock.now()
    way = resolve_direction(device, direction)
    presented = presented_candidates(credential, device.credential_format, now)
    read = gate_read(
        presented,
        device.zone,
        now,
        direction=way,
        device_id=device.id,
        device_event_id=device_event_id,
    )
    member = read.facts.member
    if read.prior is not None:
        if device.seen_due:
            device_seen(device, now)
        prior = read.prior
        return _result(
            prior["decision"] == Decision.GRANTED,
            prior["reason"],
            prior["warnings"] or [],
            member,
            int(prior["id"]),
            replayed=True,
        )
    decision = decide(read.facts)
    event = AccessEvent(
        device_id=device.id,
        zone_id=device.zone.id,
        credential_id=read.credential_id,
        presented=credential.strip()[:128],
        member_id=member.id if member else None,
        direction=way,
        occurred_at=now,
        device_event_id=device_event_id or None,
        source=EventSource.ONLINE,
    )
    decision, replayed = _record(event, decision, read.facts)
    if device.seen_due and decision.charge_pack is None:
        device_seen(device, now)  # the third statement; a pack deduction takes precedence
    assert event.pk is not None
    if decision.granted and not replayed and member and way == Direction.IN:
        _report(device.zone.class_check_in, member.id, device.zone.id, now, event.pk)
    return _result(
        decision.granted, decision.reason, decision.warnings, member, event.pk, replayed=replayed
    )


def manual_check_in(
    member: Member, zone: Zone, staff_user: Any, *, direction: str = Direction.IN
) -> CheckResult:
    """Check a member in at the desk: the same rules as a reader, logged as ``manual``.

    A denial is logged too; staff may then override it (:func:`override_denial`).
    """
    now = clock.now()
    snapshot = zone_snapshot(Zone.objects.select_related("location").get(pk=zone.pk))
    facts = gate_read_member(member, snapshot, now, direction=direction)
    event = AccessEvent(
        zone_id=snapshot.id,
        member_id=member.pk,
        direction=direction,
        occurred_at=now,
        source=EventSource.MANUAL,
        staff_user=_staff(staff_user),
    )
    decision, _ = _record(event, decide(facts), facts)  # no device event id: no replay
    assert event.pk is not None
    # The desk let the member in (or tried to): a gate decision taken by staff.
    audit_record(
        "access.manual_check_in",
        subject_type="access_control.accessevent",
        subject_id=event.pk,
        subject_label=f"{snapshot.name} · {direction}",
        member=member.pk,
        after={
            "decision": "granted" if decision.granted else "denied",
            "reason": str(decision.reason),
            "zone": snapshot.id,
            "direction": direction,
        },
        actor=staff_user,
    )
    if decision.granted and direction == Direction.IN:
        _report(snapshot.class_check_in, member.pk, snapshot.id, now, event.pk)
    return _result(decision.granted, decision.reason, decision.warnings, facts.member, event.pk)


def _report(wanted: bool, member_id: int, zone_id: int, at: Any, event_id: int) -> None:
    """Tell higher apps of a grant in a zone that asks for it (classes' attendance); a
    zone that does not costs the gate nothing."""
    if wanted:
        hooks.granted(hooks.Grant(member_id=member_id, zone_id=zone_id, at=at, event_id=event_id))


def _staff(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


@transaction.atomic
def override_denial(event: AccessEvent, staff_user: Any, reason: str) -> AccessEvent:
    """Let in a member who was denied: a granted ``override`` event, linked to the denial
    and logged with the staff user and their reason (required).  Once per denial."""
    reason = (reason or "").strip()
    if not reason:
        raise OverrideNotAllowed(reason="reason_required")
    staff = _staff(staff_user)
    if staff is None or not staff.has_perm(OVERRIDE_PERMISSION):
        raise OverrideNotAllowed(reason="no_permission")
    denied = AccessEvent.objects.select_for_update().get(pk=event.pk)
    if denied.decision != Decision.DENIED:
        raise OverrideNotAllowed(reason="not_denied")
    if AccessEvent.objects.filter(overrides=denied).exists():
        raise OverrideNotAllowed(reason="already_overridden")
    granted = AccessEvent.objects.create(
        device_id=denied.device_id,
        zone_id=denied.zone_id,
        credential_id=denied.credential_id,
        presented=denied.presented,
        member_id=denied.member_id,
        decision=Decision.GRANTED,
        reason=Reason.STAFF_OVERRIDE,
        direction=denied.direction,
        occurred_at=clock.now(),
        source=EventSource.OVERRIDE,
        staff_user=staff,
        override_reason=reason[:300],
        overrides=denied,
    )
    presence.presence_record([granted])
    audit_record(
        "access.override",
        subject_type="access_control.accessevent",
        subject_id=granted.pk,
        subject_label=f"#{denied.pk} → #{granted.pk}",
        member=denied.member_id,
        before={"decision": denied.decision, "reason": denied.reason, "event": denied.pk},
        after={"decision": granted.decision, "reason": granted.reason, "event": granted.pk},
        reason=reason,
        actor=staff,
    )
    return granted
