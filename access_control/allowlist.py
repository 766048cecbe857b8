"""The offline allowlist: what a device needs to keep deciding while the server is away.

A device first gets every credential that may enter its zone, then, with the cursor it
was given, only what changed since: new or changed entries, and removals.

How the delta works
===================
Nothing is written when access changes; changes are derived on read, so billing never
needs to know about access control.  (Serving a page writes one thing: which credentials
it sent, see "What a delta removes".)  An entry depends on a member's credentials, their
membership (status, plan, dates), their packs and the pack visits used.  The cursor
records, for each source, how far the device has read:

* billing's ``MembershipEvent``, ``Membership`` and ``PackPurchase`` rows, by id: every
  membership status change, freeze, plan change or dunning restriction writes an event,
  and new memberships and packs are new rows (billing's
  :func:`~billing.selectors.members_with_access_changes`);
* pack visits used (access events that charged a pack), by id;
* credentials, by ``updated_at`` (issuing, losing and revoking change it).

Ids are handed out before a transaction commits, so a cursor only advances over rows
older than ``ACCESS_ALLOWLIST_OVERLAP_SECONDS`` (longer than any such transaction), and
the next delta reads again from there.  A delta recomputes the full entry of every
member touched since the cursor.  Re-sending an unchanged entry is harmless: entries
replace by value.

What a delta removes
====================
A device must only ever learn its own zone's credentials, and must drop every one that
stopped admitting there.  Every credential a page lists is recorded for the zone
(``AllowlistListing``), so the zone's devices can only hold recorded credentials (a
full list replaces everything a device held).  A delta names as removed exactly the
credentials of the members touched since the cursor that are recorded for this zone
and no longer listed: revoked or lost, the member suspended, cancelled or moved to a
plan without this zone, the pack used up.  A credential never sent to this zone (a
studio-only member's new card, the card of a member without a membership) is never
named, whatever its member does.  Nor is a card number handed on to another member
whose card was sent to this zone and who is not among those touched: the device holds
the new holder's entry under that number.  Naming a removal again is harmless.

Time-driven changes need no event: entries carry their validity (plan time windows in
the location's time zone, first and last valid local dates, pack visits left) and the
device applies it.  A cursor that is invalid, for another zone, older than
``ACCESS_ALLOWLIST_MAX_DELTA_HOURS``, or taken before any plan entitlement or the zone
itself changed, gets a full list again (``"full": true``: replace everything).

Staff stops and capacity are judged online only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

from billing.selectors import (
    AccessChangeMarks,
    AccessState,
    MembershipAccess,
    PackAccess,
    access_change_marks,
    entitlements_fingerprint,
    members_with_access_changes,
    membership_access_expression,
    membership_access_from_json,
    packs_access_expression,
    packs_access_from_json,
)

from .credentials import qr_pass_key
from .engine import ZoneSnapshot
from .models import AccessEvent, AllowlistListing, Credential, CredentialKind, CredentialStatus

CURSOR_SALT = "access_control.allowlist"
# 2: removals are bounded by what was listed; older cursors get a full list (and a record).
CURSOR_VERSION = 2


@dataclass(frozen=True)
class AllowlistPage:
    full: bool
    entries: list[dict[str, Any]]
    removed: list[dict[str, str]]
    next_cursor: str
    generated_at: dt.datetime


@dataclass(frozen=True)
class _Cursor:
    fingerprint: str
    since: dt.datetime  # credentials changed after this
    billing: AccessChangeMarks
    pack_visits: int


def _fingerprint(zone: ZoneSnapshot) -> str:
    material = f"{sorted(zone.as_dict().items())}|{entitlements_fingerprint()}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _encode(zone: ZoneSnapshot, cursor: _Cursor) -> str:
    marks = cursor.billing
    return signing.dumps(
        {
            "v": CURSOR_VERSION,
            "z": zone.id,
            "f": cursor.fingerprint,
            "t": cursor.since.timestamp(),
            "m": [marks.membership_events, marks.memberships, marks.packs, cursor.pack_visits],
        },
        salt=CURSOR_SALT,
        compress=True,
    )


def _decode(token: str | None, zone: ZoneSnapshot, fingerprint: str) -> _Cursor | None:
    if not token:
        return None
    max_age = dt.timedelta(hours=int(settings.ACCESS_ALLOWLIST_MAX_DELTA_HOURS))
    try:
        data = signing.loads(token, salt=CURSOR_SALT, max_age=max_age)
        if data["v"] != CURSOR_VERSION or data["z"] != zone.id or data["f"] != fingerprint:
            return None
        events, memberships, packs, visits = (int(n) for n in data["m"])
        since = dt.datetime.fromtimestamp(float(data["t"]), tz=dt.UTC)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return _Cursor(fingerprint, since, AccessChangeMarks(events, memberships, packs), visits)


def _pack_visit_mark(settled_before: dt.datetime) -> int:
    mark = (
        AccessEvent.objects.filter(pack_day__isnull=False, recorded_at__lte=settled_before)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return int(mark or 0)


def _changed_members(cursor: _Cursor) -> set[int]:
    overlap = dt.timedelta(seconds=int(settings.ACCESS_ALLOWLIST_OVERLAP_SECONDS))
    changed = members_with_access_changes(cursor.billing)
    changed.update(
        Credential.objects.filter(updated_at__gt=cursor.since - overlap).values_list(
            "member_id", flat=True
        )
    )
    changed.update(
        AccessEvent.objects.filter(pk__gt=cursor.pack_visits, pack_day__isnull=False).values_list(
            "member_id", flat=True
        )
    )
    return changed


def _membership_grant(membership: MembershipAccess | None, today: dt.date) -> dict[str, Any] | None:
    if membership is None or not membership.zone_included:
        return None
    first_day = max(today, membership.started_on)
    if membership.state(first_day) not in (AccessState.ACTIVE, AccessState.GRACE):
        return None
    last_day = membership.last_access_day(first_day)
    if last_day is not None and last_day < first_day:
        return None
    return {
        "source": "membership",
        "windows": [window.as_dict() for window in membership.windows],
        "valid_from": first_day.isoformat(),
        "valid_until": last_day.isoformat() if last_day else None,
    }


def _pack_grant(pack: PackAccess, today: dt.date, used_today: bool) -> dict[str, Any] | None:
    """A pack's grant.  ``used_on`` names the local day whose visit is already taken
    (entries are free that day), so a device that keeps the entry past midnight does not
    read a used-up pack as open: an entry is re-sent only when something changes."""
    if pack.remaining <= 0 and not used_today:
        return None
    return {
        "source": "pack",
        "pack_id": pack.purchase_id,
        "name": pack.name,
        "remaining": pack.remaining,
        "used_today": used_today,
        "used_on": today.isoformat() if used_today else None,
        "windows": [],
        "valid_from": pack.valid_from.isoformat(),
        "valid_until": pack.expires_on.isoformat(),
    }


def _entries(
    zone: ZoneSnapshot, today: dt.date, member_ids: set[int] | None
) -> tuple[list[Any], list[int]]:
    """The entries that admit to ``zone``, and the ids of their credentials."""
    credentials = Credential.objects.filter(status=CredentialStatus.ACTIVE).select_related("member")
    if member_ids is not None:
        credentials = credentials.filter(member_id__in=member_ids)
    visits = (
        AccessEvent.objects.filter(pack_day=today).values_list("pack_purchase_id", flat=True)
        if member_ids is None
        else AccessEvent.objects.filter(pack_day=today, member_id__in=member_ids).values_list(
            "pack_purchase_id", flat=True
        )
    )
    used_today = set(visits)
    rows = credentials.annotate(
        gate_membership=membership_access_expression("member_id", zone.code, with_card=False),
        gate_packs=packs_access_expression("member_id", zone.code, today, include_future=True),
    ).order_by("pk")
    entries, listed = [], []
    for credential in rows.iterator(chunk_size=2000):
        grants = [_membership_grant(membership_access_from_json(credential.gate_membership), today)]
        grants += [
            _pack_grant(pack, today, pack.purchase_id in used_today)
            for pack in packs_access_from_json(credential.gate_packs)
        ]
        admitted = [grant for grant in grants if grant is not None]
        if not admitted:
            continue
        entry: dict[str, Any] = {
            "credential": credential.value,
            "kind": credential.kind,
            "member_id": credential.member_id,
            "member_number": credential.member.member_number,
            "name": credential.member.full_name,
            "language": credential.member.language,
            "access": admitted,
        }
        if credential.kind == CredentialKind.QR:
            entry["qr_key"] = qr_pass_key(credential.value).hex()
        entries.append(entry)
        listed.append(credential.pk)
    return entries, listed


def _removed(
    zone: ZoneSnapshot, member_ids: set[int], entries: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """The credentials of ``member_ids`` once listed for ``zone`` that ``entries`` no
    longer list (see "What a delta removes")."""
    kept = {(entry["kind"], entry["credential"]) for entry in entries}
    sent = AllowlistListing.objects.filter(zone_id=zone.id).values("credential_id")
    held = Credential.objects.filter(member_id__in=member_ids, pk__in=sent).values_list(
        "kind", "value"
    )
    gone = set(held) - kept
    if not gone:
        return []
    # A card number handed on: the value now belongs to another member's active card,
    # sent to this zone and unchanged since the cursor, so what the device holds under
    # that value is the new holder's entry, still current.  (Active values are unique:
    # the new card was issued after the old one was revoked, and a device that synced
    # before that sees the new holder among the members touched.)
    handed_on = set(
        Credential.objects.filter(
            status=CredentialStatus.ACTIVE,
            value__in=[value for _kind, value in gone],
            pk__in=sent,
        )
        .exclude(member_id__in=member_ids)
        .values_list("kind", "value")
    )
    return [{"kind": kind, "credential": value} for kind, value in sorted(gone - handed_on)]


def _listing_record(zone: ZoneSnapshot, credential_ids: list[int]) -> None:
    """Record that ``zone``'s devices were sent these credentials (before they are)."""
    if not credential_ids:
        return
    recorded = set(
        AllowlistListing.objects.filter(
            zone_id=zone.id, credential_id__any=credential_ids
        ).values_list("credential_id", flat=True)
    )
    AllowlistListing.objects.bulk_create(
        [
            AllowlistListing(zone_id=zone.id, credential_id=pk)
            for pk in credential_ids
            if pk not in recorded
        ],
        batch_size=5000,
        ignore_conflicts=True,  # another device of the zone recorded it meanwhile
    )


def allowlist_page(zone: ZoneSnapshot, cursor: str | None, now: dt.datetime) -> AllowlistPage:
    """The allowlist of ``zone`` for a device that last synced at ``cursor`` (see module).

    Records the credentials it lists for the zone (see "What a delta removes").
    """
    fingerprint = _fingerprint(zone)
    previous = _decode(cursor, zone, fingerprint)
    settled = now - dt.timedelta(seconds=int(settings.ACCESS_ALLOWLIST_OVERLAP_SECONDS))
    # Marks first: whatever they cover is already committed when the entries are read.
    marks = access_change_marks(settled_before=settled)
    visits = _pack_visit_mark(settled)
    if previous is not None:
        marks = AccessChangeMarks(
            membership_events=max(marks.membership_events, previous.billing.membership_events),
            memberships=max(marks.memberships, previous.billing.memberships),
            packs=max(marks.packs, previous.billing.packs),
        )
        visits = max(visits, previous.pack_visits)
    today = now.astimezone(zone.tz).date()
    entries: list[Any] = []
    listed: list[int] = []
    removed: list[dict[str, str]] = []
    if previous is None:
        entries, listed = _entries(zone, today, None)
    elif changed := _changed_members(previous):
        entries, listed = _entries(zone, today, changed)
        removed = _removed(zone, changed, entries)
    _listing_record(zone, listed)
    next_cursor = _encode(zone, _Cursor(fingerprint, now, marks, visits))
    return AllowlistPage(
        full=previous is None,
        entries=entries,
        removed=removed,
        next_cursor=next_cursor,
        generated_at=now,
    )
