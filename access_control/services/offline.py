"""Decisions a device made while offline, uploaded later in batches.

An upload is idempotent per (device, device_event_id): an event already stored is
reported as a ``duplicate`` and left as it was.  The device's decision stands (it was
made, the member is in or out); the server adds what only it can do: match the
credential to a member, and take a pack visit for a granted entry that the membership
would not have admitted, once per pack and local day, exactly as an online entry would
have.  Membership status is judged as it is now, times of day at the entry's own time.
A batch is all or nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q

from billing.selectors import (
    AccessState,
    MembershipAccess,
    PackAccess,
    membership_access_expression,
    membership_access_from_json,
    packs_access_for_members,
)
from billing.services.packs import pack_visit_take
from members.models import Member

from ..credentials import Presented, presented_candidates
from ..engine import ZoneSnapshot
from ..models import (
    AccessEvent,
    Credential,
    CredentialStatus,
    Decision,
    Device,
    Direction,
    EventSource,
)
from ..presence import presence_record
from ..reasons import Reason
from .checks import resolve_direction
from .devices import DeviceIdentity


@dataclass(frozen=True)
class OfflineEvent:
    """One decision as the device reports it (already validated)."""

    device_event_id: str
    credential: str
    occurred_at: dt.datetime
    granted: bool
    direction: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class UploadResult:
    device_event_id: str
    status: str  # "created" or "duplicate"
    event_id: int
    pack_visit: bool = False


def _match_credentials(
    device: DeviceIdentity, events: Sequence[OfflineEvent]
) -> dict[str, Credential]:
    """Per presented string, the credential it stands for (active first, best reading)."""
    readings: dict[str, Presented] = {
        event.credential: presented_candidates(
            event.credential, device.credential_format, event.occurred_at
        )
        for event in events
    }
    pairs = {pair for presented in readings.values() for pair in presented.candidates}
    by_pair: dict[tuple[str, str], list[Credential]] = {}
    if pairs:
        condition = Q(pk__in=[])
        for kind, value in pairs:
            condition |= Q(kind=kind, value=value)
        for credential in Credential.objects.filter(condition):
            by_pair.setdefault((credential.kind, credential.value), []).append(credential)
    matched: dict[str, Credential] = {}
    for text, presented in readings.items():
        found = [c for pair in presented.candidates for c in by_pair.get(pair, [])]
        if found:
            matched[text] = min(
                found,
                key=lambda c: (
                    c.status != CredentialStatus.ACTIVE,
                    presented.rank(c.kind, c.value),
                ),
            )
    return matched


class _PackLedger:
    """Pack visits used while applying one upload: the stored ones and the new ones."""

    def __init__(self, zone: ZoneSnapshot, member_ids: set[int], days: list[dt.date]) -> None:
        self.memberships: dict[int, MembershipAccess | None] = {
            pk: membership_access_from_json(data)
            for pk, data in Member.objects.filter(pk__in=member_ids)
            .annotate(access=membership_access_expression("pk", zone.code, with_card=False))
            .values_list("pk", "access")
        }
        self.packs = packs_access_for_members(
            member_ids, zone.code, first_day=min(days), last_day=max(days)
        )
        purchase_ids = {p.purchase_id for packs in self.packs.values() for p in packs}
        self.used: set[tuple[int, dt.date]] = {
            (int(purchase_id), day)
            for purchase_id, day in AccessEvent.objects.filter(
                pack_purchase_id__in=purchase_ids, pack_day__in=days
            ).values_list("pack_purchase_id", "pack_day")
            if day is not None
        }
        self.remaining = {
            p.purchase_id: p.remaining for packs in self.packs.values() for p in packs
        }

    def _membership_admits(self, member_id: int, local: dt.datetime) -> bool:
        membership = self.memberships.get(member_id)
        if membership is None:
            return False
        state = membership.state(local.date())
        return state in (AccessState.ACTIVE, AccessState.GRACE) and membership.admits_at(local)

    def visit_to_take(self, member_id: int, local: dt.datetime) -> PackAccess | None:
        """The pack whose visit this entry uses, if the membership did not cover it."""
        if self._membership_admits(member_id, local):
            return None
        day = local.date()
        valid = [p for p in self.packs.get(member_id, []) if p.valid_on(day)]
        if any((p.purchase_id, day) in self.used for p in valid):
            return None
        usable = [p for p in valid if self.remaining[p.purchase_id] > 0]
        return usable[0] if usable else None

    def take(self, pack: PackAccess, day: dt.date) -> bool:
        taken = pack_visit_take(pack.purchase_id)
        if taken:
            self.used.add((pack.purchase_id, day))
            self.remaining[pack.purchase_id] -= 1
        return bool(taken)


def _upload(device: DeviceIdentity, events: Sequence[OfflineEvent]) -> list[UploadResult]:
    zone = device.zone
    with transaction.atomic():
        # One upload per device at a time: a retry waits for the first, then sees it.
        Device.objects.select_for_update().filter(pk=device.id).first()
        ids = [event.device_event_id for event in events]
        stored = dict(
            AccessEvent.objects.filter(device_id=device.id, device_event_id__in=ids).values_list(
                "device_event_id", "pk"
            )
        )
        fresh: dict[str, OfflineEvent] = {}
        for event in events:
            if event.device_event_id not in stored:
                fresh.setdefault(event.device_event_id, event)
        matched = _match_credentials(device, list(fresh.values()))
        entries = {
            e.device_event_id: e
            for e in fresh.values()
            if e.granted
            and resolve_direction(device, e.direction) == Direction.IN
            and e.credential in matched
        }
        ledger = (
            _PackLedger(
                zone,
                {matched[e.credential].member_id for e in entries.values()},
                [e.occurred_at.astimezone(zone.tz).date() for e in entries.values()],
            )
            if entries
            else None
        )
        created: list[AccessEvent] = []
        charged: set[str] = set()
        for event in sorted(fresh.values(), key=lambda e: (e.occurred_at, e.device_event_id)):
            credential = matched.get(event.credential)
            way = resolve_direction(device, event.direction)
            record = AccessEvent(
                device_id=device.id,
                zone_id=zone.id,
                credential=credential,
                presented=event.credential.strip()[:128],
                member_id=credential.member_id if credential else None,
                decision=Decision.GRANTED if event.granted else Decision.DENIED,
                reason=event.reason or (Reason.GRANTED if event.granted else Reason.OFFLINE),
                warnings=[],
                direction=way,
                occurred_at=event.occurred_at,
                device_event_id=event.device_event_id,
                source=EventSource.OFFLINE,
            )
            if ledger is not None and credential is not None and event.device_event_id in entries:
                local = event.occurred_at.astimezone(zone.tz)
                pack = ledger.visit_to_take(credential.member_id, local)
                if pack is not None and ledger.take(pack, local.date()):
                    record.pack_purchase_id, record.pack_day = pack.purchase_id, local.date()
                    charged.add(event.device_event_id)
            created.append(record)
        AccessEvent.objects.bulk_create(created)
        presence_record(created)
    ids_by_event = {record.device_event_id: record.pk for record in created}
    results = []
    for event in events:
        if event.device_event_id in stored:
            results.append(
                UploadResult(event.device_event_id, "duplicate", stored[event.device_event_id])
            )
            continue
        event_id = ids_by_event[event.device_event_id]
        assert event_id is not None
        if fresh[event.device_event_id] is not event:
            results.append(UploadResult(event.device_event_id, "duplicate", event_id))
            continue
        results.append(
            UploadResult(
                event.device_event_id, "created", event_id, event.device_event_id in charged
            )
        )
    return results


def access_events_upload(
    device: DeviceIdentity, events: Sequence[OfflineEvent]
) -> list[UploadResult]:
    """Store a batch of offline decisions (see module docstring); one result per event.

    If an online entry took the same pack visit while the batch was applied, the batch
    is applied again from the start: the visit is then already used that day.
    """
    for event in events:
        resolve_direction(device, event.direction)  # invalid input before anything is saved
    try:
        return _upload(device, events)
    except IntegrityError:
        return _upload(device, events)
