"""The access decision: ordered rules over the facts of one attempt.  Pure: no queries.

Entry (``in``) is judged by these rules, in this order; the first that fails is the
reason for the denial:

1. ``unknown_credential``: nothing matches what was presented.
2. ``credential_revoked``: the credential is lost or revoked.
3. ``qr_expired``: a QR pass whose code is not from the last minute or so.
4. ``no_membership`` / ``membership_frozen`` / ``membership_suspended`` /
   ``membership_cancelled``: the membership's state on the local date (billing's
   :meth:`~billing.selectors.MembershipAccess.state`).  No membership, or one that has
   not started or is not paid for yet, is ``no_membership``; an ended term counts as
   cancelled.  Past due (or dunning's access warning) still admits, with a warning.
5. ``zone_not_included``: the plan's entitlements do not name this zone.
6. ``outside_hours``: no window of the plan covers the local time at the zone's location.
7. ``pack_exhausted``: when rules 4–6 refuse for any reason but suspension, a visit pack
   or day pass valid for the zone today admits instead.  A pack loses one visit per
   local day, on the first entry that day; later entries that day are free.  If every
   such pack is used up, the denial is ``pack_exhausted``; with no such pack, the
   reason from rules 4–6 stands.  A suspended member owes money: a pack does not help.
8. ``anti_passback``: ``timed``, the same direction as the member's last pass in this
   zone within the zone's minutes; ``strict``, the same direction as their last pass in
   the zone since local midnight (a second entry without an exit, or a second exit).
9. ``staff_stop``: the member has an open staff alert whose text starts with ``STOP:``
   (any case), e.g. "STOP: ID check pending".  Resolving the alert lifts it.
10. ``zone_full``: the zone has a capacity and its occupancy has reached it.

Exit (``out``) is judged by rules 1–3 and 8 only: nobody is kept inside for their
membership.  A granted entry by membership carries warnings: ``grace_period`` (past due
or the dunning warning step), ``card_expiring`` (the payer's default card expires within
``ACCESS_CARD_EXPIRY_WARNING_DAYS``, or has expired, on a recurring plan) and
``membership_ending`` (the membership ends within ``ACCESS_MEMBERSHIP_ENDING_WARNING_DAYS``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from billing.selectors import AccessState, MembershipAccess, PackAccess

from .models import AntiPassback, CredentialStatus, Direction
from .reasons import Reason, WarningCode

STAFF_STOP_PREFIX = "stop:"

_STATE_REASONS = {
    AccessState.NONE: Reason.NO_MEMBERSHIP,
    AccessState.FROZEN: Reason.MEMBERSHIP_FROZEN,
    AccessState.SUSPENDED: Reason.MEMBERSHIP_SUSPENDED,
    AccessState.CANCELLED: Reason.MEMBERSHIP_CANCELLED,
}
# Refusals a visit pack or day pass can stand in for.
PACK_MAY_ADMIT = frozenset(
    {
        Reason.NO_MEMBERSHIP,
        Reason.MEMBERSHIP_FROZEN,
        Reason.MEMBERSHIP_CANCELLED,
        Reason.ZONE_NOT_INCLUDED,
        Reason.OUTSIDE_HOURS,
    }
)


@dataclass(frozen=True)
class ZoneSnapshot:
    """What the gate needs to know about a zone and its location."""

    id: int
    code: str
    name: str
    capacity: int | None
    anti_passback: str
    anti_passback_minutes: int
    location_id: int
    time_zone: str
    class_check_in: bool = False  # grants here are reported (access_control.hooks)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def local_midnight(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MemberSnapshot:
    """The member as the front desk screen shows them."""

    id: int
    name: str
    member_number: int
    photo_url: str | None
    language: str
    alerts: tuple[str, ...]

    def as_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "member_number": self.member_number,
            "photo_url": self.photo_url,
            "alerts": list(self.alerts),
        }


@dataclass(frozen=True)
class LastPass:
    direction: str
    occurred_at: dt.datetime


@dataclass(frozen=True)
class GateFacts:
    """Everything the rules read about one attempt, gathered before deciding."""

    now: dt.datetime
    zone: ZoneSnapshot
    direction: str
    credential_status: str | None  # None: nothing matched
    qr_fresh: bool | None = None  # None: not a QR pass
    member: MemberSnapshot | None = None
    membership: MembershipAccess | None = None
    packs: tuple[PackAccess, ...] = ()
    packs_used_today: frozenset[int] = frozenset()
    last_pass: LastPass | None = None
    occupancy: int | None = None

    @property
    def local(self) -> dt.datetime:
        return self.now.astimezone(self.zone.tz)

    @property
    def today(self) -> dt.date:
        return self.local.date()


@dataclass(frozen=True)
class AccessDecision:
    granted: bool
    reason: str
    warnings: tuple[str, ...] = ()
    # The pack whose visit this entry uses (the first entry of the local day).
    charge_pack: PackAccess | None = field(default=None)


def _deny(reason: str) -> AccessDecision:
    return AccessDecision(granted=False, reason=reason)


def _credential_refusal(facts: GateFacts) -> str | None:
    if facts.credential_status is None:
        return Reason.UNKNOWN_CREDENTIAL
    if facts.credential_status != CredentialStatus.ACTIVE:
        return Reason.CREDENTIAL_REVOKED
    if facts.qr_fresh is False:
        return Reason.QR_EXPIRED
    return None


def membership_refusal(facts: GateFacts) -> str | None:
    """Rules 4–6: why the membership alone does not admit now (``None``: it does)."""
    membership = facts.membership
    if membership is None:
        return Reason.NO_MEMBERSHIP
    state_reason = _STATE_REASONS.get(membership.state(facts.today))
    if state_reason is not None:
        return state_reason
    if not membership.zone_included:
        return Reason.ZONE_NOT_INCLUDED
    if not membership.admits_at(facts.local):
        return Reason.OUTSIDE_HOURS
    return None


def _pack_decision(facts: GateFacts, refusal: str) -> AccessDecision:
    """Rule 7: whether a visit pack or day pass admits where the membership does not."""
    valid = [pack for pack in facts.packs if pack.valid_on(facts.today)]
    if not valid:
        return _deny(refusal)
    if any(pack.purchase_id in facts.packs_used_today for pack in valid):
        return AccessDecision(granted=True, reason=Reason.GRANTED_PACK)
    usable = [pack for pack in valid if pack.remaining > 0]
    if not usable:
        return _deny(Reason.PACK_EXHAUSTED)
    soonest = min(usable, key=lambda pack: (pack.expires_on, pack.purchase_id))
    return AccessDecision(granted=True, reason=Reason.GRANTED_PACK, charge_pack=soonest)


def _entitlement(facts: GateFacts) -> AccessDecision:
    refusal = membership_refusal(facts)
    if refusal is None:
        return AccessDecision(granted=True, reason=Reason.GRANTED, warnings=warnings_for(facts))
    if refusal in PACK_MAY_ADMIT:
        return _pack_decision(facts, refusal)
    return _deny(refusal)


def passback_refusal(facts: GateFacts) -> str | None:
    """Rule 8.  The caller fetched the last pass in the mode's window (see module doc)."""
    last, mode = facts.last_pass, facts.zone.anti_passback
    if mode == AntiPassback.NONE or last is None or last.direction != facts.direction:
        return None
    if mode == AntiPassback.TIMED:
        window = dt.timedelta(minutes=facts.zone.anti_passback_minutes)
        return Reason.ANTI_PASSBACK if facts.now - last.occurred_at < window else None
    return Reason.ANTI_PASSBACK


def has_staff_stop(alerts: tuple[str, ...] | list[str]) -> bool:
    return any(alert.strip().lower().startswith(STAFF_STOP_PREFIX) for alert in alerts)


def warnings_for(facts: GateFacts) -> tuple[str, ...]:
    membership = facts.membership
    if membership is None:
        return ()
    today, found = facts.today, []
    if membership.state(today) == AccessState.GRACE:
        found.append(WarningCode.GRACE_PERIOD)
    card_days = dt.timedelta(days=int(settings.ACCESS_CARD_EXPIRY_WARNING_DAYS))
    expiry = membership.card_expires_on
    if not membership.prepaid and expiry is not None and expiry - today <= card_days:
        found.append(WarningCode.CARD_EXPIRING)
    ending_days = dt.timedelta(days=int(settings.ACCESS_MEMBERSHIP_ENDING_WARNING_DAYS))
    if membership.cancel_at is not None and membership.cancel_at - today <= ending_days:
        found.append(WarningCode.MEMBERSHIP_ENDING)
    return tuple(found)


def decide(facts: GateFacts) -> AccessDecision:
    """Judge one attempt by the rules in the module docstring."""
    refusal = _credential_refusal(facts)
    if refusal is not None:
        return _deny(refusal)
    if facts.direction == Direction.OUT:
        passback = passback_refusal(facts)
        return _deny(passback) if passback else AccessDecision(granted=True, reason=Reason.GRANTED)
    decision = _entitlement(facts)
    if not decision.granted:
        return decision
    passback = passback_refusal(facts)
    if passback is not None:
        return _deny(passback)
    if facts.member is not None and has_staff_stop(facts.member.alerts):
        return _deny(Reason.STAFF_STOP)
    capacity = facts.zone.capacity
    if capacity is not None and (facts.occupancy or 0) >= capacity:
        return _deny(Reason.ZONE_FULL)
    return decision
