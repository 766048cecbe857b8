"""Reads of access control: the gate's one-query read, occupancy, and the live feed.

The gate reads everything a decision needs in a single SQL statement: the matching
credentials with their member, and, as subqueries, the membership and packs (billing's
expressions), today's pack visits, open alerts, the member's last pass in the zone, the
zone's occupancy and, for a retried device event, the original decision.  Nothing about
status is cached, so a suspension or a payment shows at the very next check.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import (
    Count,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, JSONObject

from billing.selectors import (
    JSONList,
    json_value,
    membership_access_expression,
    membership_access_from_json,
    packs_access_expression,
    packs_access_from_json,
)
from config.db import prepared_cursor
from members.models import Member, MemberNote

from .credentials import Presented
from .engine import GateFacts, LastPass, MemberSnapshot, ZoneSnapshot
from .models import (
    AccessEvent,
    AntiPassback,
    Credential,
    CredentialStatus,
    Decision,
    Direction,
    ZonePresence,
)
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
        class_check_in=zone.class_check_in,
    )


# --- Occupancy ------------------------------------------------------------------------


def occupancy_since(zone: ZoneSnapshot, now: dt.datetime) -> dt.datetime:
    """Occupancy counts passes from local midnight, and never older than the longest stay."""
    longest_stay = dt.timedelta(minutes=int(settings.ACCESS_OCCUPANCY_MAX_STAY_MINUTES))
    midnight = zone.local_midnight(now.astimezone(zone.tz).date())
    return max(midnight, now - longest_stay)


def _inside(zone_ids: list[int], since: dt.datetime) -> QuerySet[ZonePresence]:
    """The members whose latest granted pass in the zone is an entry made since ``since``.

    A member is inside while their last granted pass in the zone is an entry, made since
    local midnight and within the longest plausible stay: zones without exit readers,
    and members who tailgate out, drop out of the count on their own.
    """
    return ZonePresence.objects.filter(
        zone_id__in=zone_ids, direction=Direction.IN, at__gte=since
    ).order_by()


def occupancy_expression(zone: ZoneSnapshot, since: dt.datetime) -> Coalesce:
    """Members inside ``zone``, counting passes from ``since`` (:func:`occupancy_since`)."""
    counted = _inside([zone.id], since).values("zone_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), Value(0))


def zones_occupancy(now: dt.datetime) -> list[tuple[ZoneModel, int]]:
    """Every zone with the number of members inside it now (see :func:`_inside`)."""
    zones = list(ZoneModel.objects.select_related("location").order_by("location__name", "name"))
    counts: dict[int, int] = {}
    by_since: dict[dt.datetime, list[int]] = {}
    for zone in zones:
        by_since.setdefault(occupancy_since(zone_snapshot(zone), now), []).append(zone.pk)
    for since, zone_ids in by_since.items():
        rows = _inside(zone_ids, since).values("zone_id").annotate(n=Count("pk"))
        counts.update(rows.values_list("zone_id", "n"))
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
    """The member's latest granted pass in the zone, if made since ``since``."""
    last = ZonePresence.objects.filter(
        member_id=OuterRef(member_ref), zone_id=zone.id, at__gte=since
    ).order_by()
    return {
        "last_direction": Subquery(last.values("direction")[:1]),
        "last_at": Subquery(last.values("at")[:1]),
    }


def _prior_event_expression(device_id: int, device_event_id: str) -> Subquery:
    prior = AccessEvent.objects.filter(
        device_id=device_id, device_event_id=device_event_id
    ).order_by()
    fields = JSONObject(
        id=F("pk"), decision=F("decision"), reason=F("reason"), warnings=F("warnings")
    )
    return Subquery(prior.values(data=fields)[:1], output_field=JSONField())


@dataclass(frozen=True)
class GateWhen:
    """The instants and the day a gate read at ``now`` looks at, in the zone's time."""

    day: dt.date
    passback_since: dt.datetime | None  # None: anti-passback is off
    occupancy_since: dt.datetime | None  # None: capacity is not checked

    @classmethod
    def at(cls, zone: ZoneSnapshot, now: dt.datetime, direction: str) -> GateWhen:
        counts = zone.capacity is not None and direction == Direction.IN
        return cls(
            day=now.astimezone(zone.tz).date(),
            passback_since=passback_since(zone, now),
            occupancy_since=occupancy_since(zone, now) if counts else None,
        )


def gate_annotations(
    member_ref: str,
    zone: ZoneSnapshot,
    when: GateWhen,
    *,
    device_id: int | None = None,
    device_event_id: str | None = None,
) -> dict[str, Any]:
    """The subqueries the gate annotates onto a query with a member id column."""
    annotations: dict[str, Any] = {
        "gate_membership": membership_access_expression(member_ref, zone.code),
        "gate_packs": packs_access_expression(member_ref, zone.code, when.day),
        "gate_pack_visits": _pack_visits_expression(member_ref, when.day),
        "gate_alerts": _alerts_expression(member_ref),
    }
    if when.passback_since is not None:
        annotations.update(_last_pass_expressions(member_ref, zone, when.passback_since))
    if when.occupancy_since is not None:
        annotations["gate_occupancy"] = occupancy_expression(zone, when.occupancy_since)
    if device_id is not None and device_event_id:
        annotations["gate_prior"] = _prior_event_expression(device_id, device_event_id)
    return annotations


def member_snapshot(member: Member, alerts: Any) -> MemberSnapshot:
    return _snapshot(
        member.pk,
        member.full_name,
        member.member_number,
        member.photo.name,
        member.language,
        alerts,
    )


def _snapshot(
    member_id: int, name: str, number: int, photo: str | None, language: str, alerts: Any
) -> MemberSnapshot:
    """What the desk's screen shows of a member; open alerts newest first."""
    notes = sorted(alerts or [], key=lambda note: -int(note["id"]))
    storage = Member._meta.get_field("photo").storage  # type: ignore[union-attr]
    return MemberSnapshot(
        id=member_id,
        name=name,
        member_number=number,
        photo_url=storage.url(photo) if photo else None,
        language=language,
        alerts=tuple(str(note["body"]) for note in notes),
    )


@dataclass(frozen=True)
class GateRead:
    """One gate read: the facts for the engine, and what a retry must return instead."""

    facts: GateFacts
    credential_id: int | None
    prior: dict[str, Any] | None


def _facts_from_row(
    row: dict[str, Any],
    member: Member | None,
    *,
    now: dt.datetime,
    zone: ZoneSnapshot,
    direction: str,
    credential_status: str,
    qr_fresh: bool | None,
) -> GateFacts:
    last_direction = row.get("last_direction")
    last_at = row.get("last_at")
    alerts = json_value(row.get("gate_alerts"))
    return GateFacts(
        now=now,
        zone=zone,
        direction=direction,
        credential_status=credential_status,
        qr_fresh=qr_fresh,
        member=(
            member_snapshot(member, alerts)
            if member is not None
            else _row_member_snapshot(row, alerts)
        ),
        membership=membership_access_from_json(row.get("gate_membership")),
        packs=tuple(packs_access_from_json(row.get("gate_packs"))),
        packs_used_today=frozenset(int(i) for i in (json_value(row.get("gate_pack_visits")) or [])),
        last_pass=LastPass(last_direction, last_at) if last_direction and last_at else None,
        occupancy=row.get("gate_occupancy"),
    )


MEMBER_COLUMNS = ("first_name", "last_name", "member_number", "photo", "language")
GATE_COLUMNS = (
    "pk",
    "kind",
    "value",
    "status",
    "member_id",
    *(f"member__{name}" for name in MEMBER_COLUMNS),
)


# --- The gate's statement, compiled once per shape ---------------------------------------
#
# Building and compiling the gate's query with the ORM costs about ten times more than
# PostgreSQL takes to run it.  So the SQL is compiled once per shape (zone, number of
# candidate readings, which checks apply) with placeholder values in the slots that change
# from check to check, and each check binds its own values to the cached text.  The
# statement is then executed prepared, so PostgreSQL plans it once per connection too.


class _Slots:
    """Distinctive placeholder values, one per slot, to find in the compiled parameters."""

    def __init__(self, candidates: int, variant: int = 0) -> None:
        epoch = dt.datetime(1, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=10 * variant)
        self.values: dict[str, Any] = {
            "day": dt.date(1, 1, 3) + dt.timedelta(days=10 * variant),
            "passback_since": epoch + dt.timedelta(days=1),
            "occupancy_since": epoch + dt.timedelta(days=2),
            "device_id": -2_000_000_001 - variant,
            "device_event_id": f"\x1fslot{variant}:device_event_id",
        }
        for n in range(candidates):
            self.values[f"kind{n}"] = f"\x1fslot{variant}:kind{n}"
            self.values[f"value{n}"] = f"\x1fslot{variant}:value{n}"
        self.by_value = {(type(v), v): name for name, v in self.values.items()}

    def name_of(self, param: Any) -> str | None:
        try:
            return self.by_value.get((type(param), param))
        except TypeError:  # an unhashable parameter is never a slot
            return None


@dataclass(frozen=True)
class _GateStatement:
    sql: str
    slots: tuple[str, ...]  # the slot each parameter takes, in order
    columns: tuple[str, ...]

    def bind(self, values: dict[str, Any]) -> list[Any]:
        return [values[slot] for slot in self.slots]


_PLACEHOLDER = re.compile(r"%[%s]")


def _inline_constants(
    sql: str, params: Sequence[Any], slots: Sequence[str | None], connection: Any
) -> str:
    """``sql`` with every parameter that is not a slot written in as a quoted literal.

    A prepared statement is planned once for any values of its parameters, so what is
    fixed for the shape (statuses, the zone, JSON keys) must be literal for PostgreSQL to
    use the partial indexes that name them.
    """
    constants = iter(zip(params, slots, strict=True))

    def replace(match: re.Match[str]) -> str:
        if match.group() == "%%":
            return "%%"
        param, slot = next(constants)
        if slot is not None:
            return "%s"
        return str(connection.ops.compose_sql("%s", [param])).replace("%", "%%")

    inlined = _PLACEHOLDER.sub(replace, sql)
    if next(constants, None) is not None:  # pragma: no cover - guards against ORM changes
        raise RuntimeError("the gate statement has more parameters than placeholders")
    return inlined


_statements: dict[tuple[Any, ...], _GateStatement] = {}
_STATEMENTS_MAX = 256


def _gate_queryset(
    candidates: list[tuple[Any, Any]],
    zone: ZoneSnapshot,
    when: GateWhen,
    *,
    device_id: Any,
    device_event_id: Any,
) -> QuerySet[Credential]:
    condition = Q(pk__in=[])
    for kind, value in candidates:
        condition |= Q(kind=kind, value=value)
    annotations = gate_annotations(
        "member_id", zone, when, device_id=device_id, device_event_id=device_event_id
    )
    return (
        Credential.objects.filter(condition)
        .order_by()
        .annotate(**annotations)
        .values(*GATE_COLUMNS, *annotations)
    )


def _gate_statement(
    zone: ZoneSnapshot, when: GateWhen, candidates: int, *, prior: bool
) -> _GateStatement:
    key = (
        zone.id,
        zone.code,
        zone.anti_passback,
        candidates,
        when.passback_since is not None,
        when.occupancy_since is not None,
        prior,
    )
    statement = _statements.get(key)
    if statement is not None:
        return statement
    statement = _compile_gate_statement(zone, when, candidates, prior=prior, variant=0)
    # Compiled again with other placeholder values, the text must not change: otherwise
    # the ORM derived something from a slot's value (a date minus a day, say) and wrote
    # it into the SQL, where it would stay for every later check.
    again = _compile_gate_statement(zone, when, candidates, prior=prior, variant=1)
    if again != statement:  # pragma: no cover - guards against selector changes
        raise RuntimeError("the gate statement depends on a slot's placeholder value")
    if len(_statements) >= _STATEMENTS_MAX:
        _statements.clear()
    _statements[key] = statement
    return statement


def _compile_gate_statement(
    zone: ZoneSnapshot, when: GateWhen, candidates: int, *, prior: bool, variant: int
) -> _GateStatement:
    slots = _Slots(candidates, variant)
    slot = slots.values
    queryset = _gate_queryset(
        [(slot[f"kind{n}"], slot[f"value{n}"]) for n in range(candidates)],
        zone,
        GateWhen(
            day=slot["day"],
            passback_since=slot["passback_since"] if when.passback_since else None,
            occupancy_since=slot["occupancy_since"] if when.occupancy_since else None,
        ),
        device_id=slot["device_id"] if prior else None,
        device_event_id=slot["device_event_id"] if prior else None,
    )
    query = queryset.query
    sql, params = query.get_compiler(using=queryset.db).as_sql()
    names = tuple(slots.name_of(p) for p in params)
    expected = {"day", *(f"{k}{n}" for n in range(candidates) for k in ("kind", "value"))}
    expected |= {"passback_since"} if when.passback_since else set()
    expected |= {"occupancy_since"} if when.occupancy_since else set()
    expected |= {"device_id", "device_event_id"} if prior else set()
    if set(names) - {None} != expected:  # pragma: no cover - guards against ORM changes
        raise RuntimeError(f"gate statement slots: found {set(names) - {None}}, not {expected}")
    return _GateStatement(
        sql=_inline_constants(sql, params, names, connections[queryset.db]),
        slots=tuple(name for name in names if name is not None),
        columns=(*query.extra_select, *query.values_select, *query.annotation_select),
    )


def gate_rows_orm(
    presented: Presented, zone: ZoneSnapshot, when: GateWhen, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """The gate's rows through the ORM, for databases without the compiled statement."""
    queryset = _gate_queryset(
        list(presented.candidates),
        zone,
        when,
        device_id=values["device_id"],
        device_event_id=values["device_event_id"],
    )
    return list(queryset)  # type: ignore[arg-type]  # .values(): dicts


def _gate_rows(statement: _GateStatement, values: dict[str, Any]) -> list[dict[str, Any]]:
    params = statement.bind(values)
    with prepared_cursor() as cursor:
        cursor.execute(statement.sql, params)
        return [dict(zip(statement.columns, row, strict=True)) for row in cursor.fetchall()]


def _row_member_snapshot(row: dict[str, Any], alerts: Any) -> MemberSnapshot:
    """:func:`member_snapshot` from the gate row's columns, without building a model."""
    return _snapshot(
        row["member_id"],
        f"{row['member__first_name']} {row['member__last_name']}".strip(),
        row["member__member_number"],
        row["member__photo"],
        row["member__language"],
        alerts,
    )


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
    rows: list[dict[str, Any]] = []
    if presented.candidates:
        when = GateWhen.at(zone, now, direction)
        prior = device_id is not None and bool(device_event_id)
        values: dict[str, Any] = {
            "day": when.day,
            "passback_since": when.passback_since,
            "occupancy_since": when.occupancy_since,
            "device_id": device_id if prior else None,
            "device_event_id": device_event_id if prior else None,
        }
        for n, (kind, value) in enumerate(presented.candidates):
            values[f"kind{n}"], values[f"value{n}"] = kind, value
        if connections[Credential.objects.db].vendor == "postgresql":
            statement = _gate_statement(zone, when, len(presented.candidates), prior=prior)
            rows = _gate_rows(statement, values)
        else:  # the SQLite demo: the same query through the ORM (speed is no concern there)
            rows = gate_rows_orm(presented, zone, when, values)
    if not rows:
        return GateRead(
            facts=GateFacts(now=now, zone=zone, direction=direction, credential_status=None),
            credential_id=None,
            prior=None,
        )
    best = min(
        rows,
        key=lambda c: (
            c["status"] != CredentialStatus.ACTIVE,
            presented.rank(c["kind"], c["value"]),
        ),
    )
    facts = _facts_from_row(
        best,
        None,
        now=now,
        zone=zone,
        direction=direction,
        credential_status=best["status"],
        qr_fresh=presented.qr.fresh if presented.qr else None,
    )
    return GateRead(facts=facts, credential_id=best["pk"], prior=json_value(best.get("gate_prior")))


def gate_read_member(
    member: Member, zone: ZoneSnapshot, now: dt.datetime, *, direction: str = Direction.IN
) -> GateFacts:
    """The facts for a member checked in by staff, with no credential presented."""
    when = GateWhen.at(zone, now, direction)
    annotations = gate_annotations("pk", zone, when)
    row = Member.objects.filter(pk=member.pk).annotate(**annotations).values(*annotations).get()
    return _facts_from_row(
        row,
        member,
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
    events = AccessEvent.objects.select_related("member", "zone__location", "device", "staff_user")
    if zone_id is not None:
        events = events.filter(zone_id=zone_id)
    if denied_only:
        events = events.filter(decision=Decision.DENIED)
    return events.order_by("-occurred_at", "-pk")[:limit]
