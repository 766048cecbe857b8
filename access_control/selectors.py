"""Reads of access control: the gate's one-query read, occupancy, and the live feed.

The gate reads everything a decision needs in a single SQL statement: the matching
credentials with their member, and, as subqueries, the membership and packs (billing's
expressions), today's pack visits, open alerts, the member's last pass in the zone, the
zone's occupancy and, for a retried device event, the original decision.  Nothing about
status is cached, so a suspension or a payment shows at the very next check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    F,
    JSONField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, JSONObject

from billing.selectors import (
    JSONList,
    membership_access_expression,
    membership_access_from_json,
    packs_access_expression,
    packs_access_from_json,
)
from members.models import Member, MemberNote

from .credentials import Presented
from .engine import GateFacts, LastPass, MemberSnapshot, ZoneSnapshot
from .models import AccessEvent, AntiPassback, Credential, CredentialStatus, Decision, Direction
from .models import Zone as ZoneModel


def zone_snapshot(zone: ZoneModel) -> ZoneSnapshot:
    return ZoneSnapshot(
        id=zone.pk,
        code=zone.code,
        name=zone.name,
        capacity=zone.capacity,
        anti_passback=zone.anti_passback,
        anti_passback_minutes=zone.anti_passback_minutes,
        location_id=zone.location_id,
        time_zone=zone.location.time_zone,
    )


# --- Occupancy ------------------------------------------------------------------------


def occupancy_since(zone: ZoneSnapshot, now: dt.datetime) -> dt.datetime:
    """Occupancy counts passes from local midnight, and never older than the longest stay."""
    longest_stay = dt.timedelta(minutes=int(settings.ACCESS_OCCUPANCY_MAX_STAY_MINUTES))
    midnight = zone.local_midnight(now.astimezone(zone.tz).date())
    return max(midnight, now - longest_stay)


def _inside(zone_ids: list[int], since: dt.datetime) -> QuerySet[AccessEvent]:
    """Granted entries since ``since`` that are their member's latest pass in the zone.

    A member is inside while their last granted pass in the zone is an entry, made since
    local midnight and within the longest plausible stay: zones without exit readers,
    and members who tailgate out, drop out of the count on their own.
    """
    later = AccessEvent.objects.filter(
        Q(occurred_at__gt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), pk__gt=OuterRef("pk")),
        member_id=OuterRef("member_id"),
        zone_id=OuterRef("zone_id"),
        decision=Decision.GRANTED,
    )
    return AccessEvent.objects.filter(
        zone_id__in=zone_ids,
        decision=Decision.GRANTED,
        direction=Direction.IN,
        occurred_at__gte=since,
        member__isnull=False,
    ).exclude(Exists(later))


def occupancy_expression(zone: ZoneSnapshot, now: dt.datetime) -> Coalesce:
    counted = (
        _inside([zone.id], occupancy_since(zone, now))
        .values("zone_id")
        .annotate(n=Count("member_id", distinct=True))
        .values("n")
    )
    return Coalesce(Subquery(counted), Value(0))


def zones_occupancy(now: dt.datetime) -> list[tuple[ZoneModel, int]]:
    """Every zone with the number of members inside it now (see :func:`_inside`)."""
    zones = list(ZoneModel.objects.select_related("location").order_by("location__name", "name"))
    counts: dict[int, int] = {}
    by_since: dict[dt.datetime, list[int]] = {}
    for zone in zones:
        by_since.setdefault(occupancy_since(zone_snapshot(zone), now), []).append(zone.pk)
    for since, zone_ids in by_since.items():
        rows = (
            _inside(zone_ids, since)
            .values("zone_id")
            .annotate(n=Count("member_id", distinct=True))
            .values_list("zone_id", "n")
        )
        counts.update(rows)
    return [(zone, counts.get(zone.pk, 0)) for zone in zones]


# --- The gate's read ------------------------------------------------------------------


def _alerts_expression(member_ref: str) -> Subquery:
    open_alerts = (
        MemberNote.objects.filter(
            member_id=OuterRef(member_ref), is_alert=True, resolved_at__isnull=True
        )
        .values("member_id")
        .annotate(items=JSONList(JSONObject(id=F("pk"), body=F("body"))))
        .values("items")
    )
    return Subquery(open_alerts, output_field=JSONField())


def _pack_visits_expression(member_ref: str, day: dt.date) -> Subquery:
    used = (
        AccessEvent.objects.filter(member_id=OuterRef(member_ref), pack_day=day)
        .values("member_id")
        .annotate(items=JSONList(F("pack_purchase_id")))
        .values("items")
    )
    return Subquery(used, output_field=JSONField())


def passback_since(zone: ZoneSnapshot, now: dt.datetime) -> dt.datetime | None:
    """The start of the window anti-passback looks at (``None``: it is off)."""
    if zone.anti_passback == AntiPassback.TIMED:
        return now - dt.timedelta(minutes=zone.anti_passback_minutes)
    if zone.anti_passback == AntiPassback.STRICT:
        return zone.local_midnight(now.astimezone(zone.tz).date())
    return None


def _last_pass_expressions(member_ref: str, zone: ZoneSnapshot, since: dt.datetime) -> Any:
    passes = AccessEvent.objects.filter(
        member_id=OuterRef(member_ref),
        zone_id=zone.id,
        decision=Decision.GRANTED,
        occurred_at__gte=since,
    ).order_by("-occurred_at", "-pk")
    return {
        "last_direction": Subquery(passes.values("direction")[:1]),
        "last_at": Subquery(passes.values("occurred_at")[:1]),
    }


def _prior_event_expression(device_id: int, device_event_id: str) -> Subquery:
    prior = AccessEvent.objects.filter(
        device_id=device_id, device_event_id=device_event_id
    ).order_by()
    fields = JSONObject(
        id=F("pk"), decision=F("decision"), reason=F("reason"), warnings=F("warnings")
    )
    return Subquery(prior.values(data=fields)[:1], output_field=JSONField())


def gate_annotations(
    member_ref: str,
    zone: ZoneSnapshot,
    now: dt.datetime,
    *,
    direction: str,
    device_id: int | None = None,
    device_event_id: str | None = None,
) -> dict[str, Any]:
    """The subqueries the gate annotates onto a query with a member id column."""
    day = now.astimezone(zone.tz).date()
    annotations: dict[str, Any] = {
        "gate_membership": membership_access_expression(member_ref, zone.code),
        "gate_packs": packs_access_expression(member_ref, zone.code, day),
        "gate_pack_visits": _pack_visits_expression(member_ref, day),
        "gate_alerts": _alerts_expression(member_ref),
    }
    since = passback_since(zone, now)
    if since is not None:
        annotations.update(_last_pass_expressions(member_ref, zone, since))
    if zone.capacity is not None and direction == Direction.IN:
        annotations["gate_occupancy"] = occupancy_expression(zone, now)
    if device_id is not None and device_event_id:
        annotations["gate_prior"] = _prior_event_expression(device_id, device_event_id)
    return annotations


def member_snapshot(member: Member, alerts: Any) -> MemberSnapshot:
    notes = sorted(alerts or [], key=lambda note: -int(note["id"]))
    return MemberSnapshot(
        id=member.pk,
        name=member.full_name,
        member_number=member.member_number,
        photo_url=member.photo.url if member.photo else None,
        language=member.language,
        alerts=tuple(str(note["body"]) for note in notes),
    )


@dataclass(frozen=True)
class GateRead:
    """One gate read: the facts for the engine, and what a retry must return instead."""

    facts: GateFacts
    credential_id: int | None
    prior: dict[str, Any] | None


def _facts_from_row(
    row: Model,
    member: Member,
    *,
    now: dt.datetime,
    zone: ZoneSnapshot,
    direction: str,
    credential_status: str,
    qr_fresh: bool | None,
) -> GateFacts:
    last_direction = getattr(row, "last_direction", None)
    last_at = getattr(row, "last_at", None)
    return GateFacts(
        now=now,
        zone=zone,
        direction=direction,
        credential_status=credential_status,
        qr_fresh=qr_fresh,
        member=member_snapshot(member, getattr(row, "gate_alerts", None)),
        membership=membership_access_from_json(getattr(row, "gate_membership", None)),
        packs=tuple(packs_access_from_json(getattr(row, "gate_packs", None))),
        packs_used_today=frozenset(int(i) for i in (getattr(row, "gate_pack_visits", None) or [])),
        last_pass=LastPass(last_direction, last_at) if last_direction and last_at else None,
        occupancy=getattr(row, "gate_occupancy", None),
    )


GATE_COLUMNS = (
    "kind",
    "value",
    "status",
    "member__first_name",
    "member__last_name",
    "member__member_number",
    "member__photo",
    "member__language",
)


def _credential_query(presented: Presented) -> Q:
    condition = Q(pk__in=[])
    for kind, value in presented.candidates:
        condition |= Q(kind=kind, value=value)
    return condition


def gate_read(
    presented: Presented,
    zone: ZoneSnapshot,
    now: dt.datetime,
    *,
    direction: str,
    device_id: int | None = None,
    device_event_id: str | None = None,
) -> GateRead:
    """Everything the engine needs about a presented credential: one SQL statement.

    When several credentials match (a revoked card and its active twin, or two readings
    of an ambiguous number), an active one wins, then the better reading.  With no
    match the facts say so (``credential_status=None``) and no query is spent.
    """
    rows: list[Credential] = []
    if presented.candidates:
        rows = list(
            Credential.objects.filter(_credential_query(presented))
            .select_related("member")
            .only(*GATE_COLUMNS)
            .order_by()
            .annotate(
                **gate_annotations(
                    "member_id",
                    zone,
                    now,
                    direction=direction,
                    device_id=device_id,
                    device_event_id=device_event_id,
                )
            )
        )
    if not rows:
        return GateRead(
            facts=GateFacts(now=now, zone=zone, direction=direction, credential_status=None),
            credential_id=None,
            prior=None,
        )
    best = min(
        rows,
        key=lambda c: (c.status != CredentialStatus.ACTIVE, presented.rank(c.kind, c.value)),
    )
    facts = _facts_from_row(
        best,
        best.member,
        now=now,
        zone=zone,
        direction=direction,
        credential_status=best.status,
        qr_fresh=presented.qr.fresh if presented.qr else None,
    )
    return GateRead(facts=facts, credential_id=best.pk, prior=getattr(best, "gate_prior", None))


def gate_read_member(
    member: Member, zone: ZoneSnapshot, now: dt.datetime, *, direction: str = Direction.IN
) -> GateFacts:
    """The facts for a member checked in by staff, with no credential presented."""
    row = Member.objects.annotate(**gate_annotations("pk", zone, now, direction=direction)).get(
        pk=member.pk
    )
    return _facts_from_row(
        row,
        row,
        now=now,
        zone=zone,
        direction=direction,
        credential_status=CredentialStatus.ACTIVE,
        qr_fresh=None,
    )


# --- The live feed --------------------------------------------------------------------


def access_events_recent(
    *, zone_id: int | None = None, denied_only: bool = False, limit: int = 50
) -> QuerySet[AccessEvent]:
    """The newest attempts first, with what the front desk feed shows."""
    events = AccessEvent.objects.select_related("member", "zone", "device", "staff_user")
    if zone_id is not None:
        events = events.filter(zone_id=zone_id)
    if denied_only:
        events = events.filter(decision=Decision.DENIED)
    return events.order_by("-occurred_at", "-pk")[:limit]
