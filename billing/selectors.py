"""Reads of billing that other apps (access control, classes, POS, dunning) use."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import (
    Aggregate,
    Case,
    Count,
    Exists,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import JSONObject

from .models import (
    LIVE_STATUSES,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    Membership,
    MembershipEvent,
    MembershipStatus,
    PackKind,
    PackPurchase,
    PaymentMethod,
    PaymentMethodStatus,
    PlanEntitlement,
    PlanKind,
    PromptPayRequest,
    PromptPayRoute,
    PromptPayStatus,
)


def membership_current(member_id: int) -> Membership | None:
    """The member's live membership, if any (the newest when there are several)."""
    return (
        Membership.objects.filter(member_id=member_id, status__in=LIVE_STATUSES)
        .select_related("plan")
        .order_by("-started_on", "-pk")
        .first()
    )


def invoices_open_for(member_id: int) -> QuerySet[Invoice]:
    return Invoice.objects.filter(member_id=member_id, status=InvoiceStatus.OPEN).order_by("due_on")


def amount_owed(member_id: int) -> dict[str, int]:
    owed: dict[str, int] = {}
    for invoice in invoices_open_for(member_id):
        owed[invoice.currency] = owed.get(invoice.currency, 0) + invoice.amount_due
    return owed


def overdue_summary(
    member_ids: Iterable[int], today: dt.date
) -> dict[int, dict[str, tuple[int, int]]]:
    """Per member and currency: ``(open invoices due on or before today, amount due on them)``.

    One query for any number of members (dunning's ladder conditions read it per batch).
    """
    rows = (
        Invoice.objects.filter(
            member_id__any=set(member_ids), status=InvoiceStatus.OPEN, due_on__lte=today
        )
        .values("member_id", "currency")
        .annotate(
            count=Count("pk"),
            due=Sum(F("total") - F("amount_paid") - F("amount_credited")),
        )
    )
    summary: dict[int, dict[str, tuple[int, int]]] = {}
    for row in rows:
        summary.setdefault(row["member_id"], {})[row["currency"]] = (
            int(row["count"]),
            max(int(row["due"] or 0), 0),
        )
    return summary


# --- Access control -------------------------------------------------------------------
#
# The gate must judge a member in one SQL round trip, so billing offers its access
# reads in two forms: subquery *expressions* that access control annotates onto its own
# queries (one row per credential or member), and *parsers* that turn the annotated JSON
# back into the dataclasses below.  The meaning of a status, a freeze, an entitlement or
# a pack's validity stays here; access control only applies it at a time and place.
#
# A plan with no entitlement rows admits to every zone at any time.  Rows whose
# ``zone_code`` is blank or equal to the zone apply; if the plan has rows but none apply,
# the zone is not included.  A window without times is the whole day; without weekdays,
# every day.  ``start < end`` is a same-day window [start, end); ``start > end`` runs past
# midnight and belongs to the weekday it starts on.


class JSONList(Aggregate):
    """The aggregated values as one JSON array (``jsonb_agg``; ``json_group_array`` on SQLite)."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra_context)


class AccessState(StrEnum):
    """What a membership means at the gate on a given day."""

    ACTIVE = "active"
    GRACE = "grace"  # admitted with a warning: past due, or dunning's access warning
    FROZEN = "frozen"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"  # cancelled, or a term that has ended
    NONE = "none"  # not started yet, or never paid for (pending)


@dataclass(frozen=True)
class AccessWindow:
    """One time window of an entitlement, in the location's wall-clock time."""

    weekdays: str
    start: dt.time | None
    end: dt.time | None

    def admits(self, local: dt.datetime) -> bool:
        """Whether the local wall-clock instant ``local`` falls in this window."""
        days = self.weekdays or "1234567"
        if self.start is None or self.end is None or self.start == self.end:
            return str(local.isoweekday()) in days
        moment = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return str(local.isoweekday()) in days and self.start <= moment < self.end
        if moment >= self.start:
            return str(local.isoweekday()) in days
        if moment < self.end:
            return str((local - dt.timedelta(days=1)).isoweekday()) in days
        return False

    def as_dict(self) -> dict[str, str | None]:
        return {
            "weekdays": self.weekdays or "1234567",
            "start": self.start.strftime("%H:%M") if self.start else None,
            "end": self.end.strftime("%H:%M") if self.end else None,
        }


@dataclass(frozen=True)
class MembershipAccess:
    """The membership the gate judges a member by, with its entitlement for one zone."""

    membership_id: int
    member_id: int
    payer_id: int
    plan_code: str
    prepaid: bool
    status: str
    access_warning: bool
    started_on: dt.date
    cancel_at: dt.date | None
    frozen_from: dt.date | None
    frozen_until: dt.date | None
    zone_included: bool
    windows: tuple[AccessWindow, ...]  # empty: any time
    card_expires_on: dt.date | None  # last valid day of the payer's default card

    def state(self, day: dt.date) -> AccessState:
        """The membership's meaning at the gate on the local date ``day``.

        Scheduled dates count even before the daily job applies them, so a freeze or an
        end date takes effect at the gate on the day itself.
        """
        status = self.status
        if status in (MembershipStatus.CANCELLED, MembershipStatus.ENDED):
            return AccessState.CANCELLED
        if status == MembershipStatus.PENDING or self.started_on > day:
            return AccessState.NONE
        if self.cancel_at is not None and self.cancel_at <= day:
            return AccessState.CANCELLED
        if status == MembershipStatus.SUSPENDED:
            return AccessState.SUSPENDED
        if status == MembershipStatus.FROZEN or self._freeze_covers(day):
            return AccessState.FROZEN
        if status == MembershipStatus.PAST_DUE or self.access_warning:
            return AccessState.GRACE
        return AccessState.ACTIVE

    def _freeze_covers(self, day: dt.date) -> bool:
        return bool(
            self.frozen_from and self.frozen_until and self.frozen_from <= day < self.frozen_until
        )

    def admits_at(self, local: dt.datetime) -> bool:
        """Whether the plan's entitlement for the zone covers the local instant ``local``."""
        if not self.zone_included:
            return False
        return not self.windows or any(window.admits(local) for window in self.windows)

    def last_access_day(self, day: dt.date) -> dt.date | None:
        """The last local date access is known to last to, from ``day``; ``None``: open-ended."""
        ends = []
        if self.cancel_at is not None:
            ends.append(self.cancel_at - dt.timedelta(days=1))
        if self.frozen_from is not None and self.frozen_from > day:
            ends.append(self.frozen_from - dt.timedelta(days=1))
        return min(ends) if ends else None


@dataclass(frozen=True)
class PackAccess:
    """A visit pack or day pass that admits to a zone between two local dates (inclusive)."""

    purchase_id: int
    member_id: int
    kind: str
    name: str
    remaining: int
    valid_from: dt.date
    expires_on: dt.date

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.expires_on


ACCESS_PACK_KINDS = (PackKind.VISITS, PackKind.DAY_PASS)


def _access_ordering() -> list[Any]:
    # The live membership first (newest), else the newest that ended: it says why not.
    live_first = Case(When(status__in=LIVE_STATUSES, then=Value(0)), default=Value(1))
    return [live_first, F("started_on").desc(), F("pk").desc()]


def membership_access_expression(
    member_ref: str, zone_code: str, *, with_card: bool = True
) -> Subquery:
    """A JSON subquery for the membership the gate judges ``OuterRef(member_ref)`` by.

    Annotate it onto any query with a member id column; read it back with
    :func:`membership_access_from_json`.  ``with_card`` adds the payer's default card
    expiry (one more index lookup).
    """
    windows = (
        PlanEntitlement.objects.filter(plan_id=OuterRef("plan_id"), zone_code__in=["", zone_code])
        .values("plan_id")
        .annotate(items=JSONList(JSONObject(w="weekdays", s="start_time", e="end_time")))
        .values("items")
    )
    fields: dict[str, Any] = {
        "id": F("pk"),
        "member": F("member_id"),
        "payer": F("payer_id"),
        "plan": F("plan__code"),
        "kind": F("plan__kind"),
        "status": F("status"),
        "warn": F("access_warning"),
        "start": F("started_on"),
        "cancel": F("cancel_at"),
        "ff": F("frozen_from"),
        "fu": F("frozen_until"),
        "rules": Exists(PlanEntitlement.objects.filter(plan_id=OuterRef("plan_id"))),
        "windows": Subquery(windows),
    }
    if with_card:
        card = PaymentMethod.objects.filter(
            member_id=OuterRef("payer_id"), is_default=True, status=PaymentMethodStatus.ACTIVE
        ).annotate(month_index=F("exp_year") * 12 + F("exp_month") - 1)
        fields["card"] = Subquery(card.values("month_index")[:1])
    chosen = (
        Membership.objects.filter(member_id=OuterRef(member_ref))
        .order_by(*_access_ordering())
        .values(data=JSONObject(**fields))[:1]
    )
    return Subquery(chosen, output_field=JSONField())


def json_value(value: Any) -> Any:
    """A JSON column or subquery read back as Python: SQLite nests a subquery's JSON as
    text, and a raw cursor hands JSON back as text too (Django registers jsonb as text
    with psycopg 3); the ORM on PostgreSQL hands it over decoded."""
    return json.loads(value) if isinstance(value, str) else value


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _time(value: Any) -> dt.time | None:
    return dt.time.fromisoformat(value) if value else None


def _card_last_day(month_index: Any) -> dt.date | None:
    if month_index is None:
        return None
    year, month = divmod(int(month_index), 12)
    return dt.date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def membership_access_from_json(data: Any) -> MembershipAccess | None:
    """Read what :func:`membership_access_expression` annotated (``None``: no membership)."""
    data = json_value(data)
    if not data:
        return None
    rules = bool(data["rules"])
    windows = tuple(
        AccessWindow(weekdays=w["w"] or "", start=_time(w["s"]), end=_time(w["e"]))
        for w in (json_value(data["windows"]) or [])
    )
    started_on = _date(data["start"])
    assert started_on is not None
    return MembershipAccess(
        membership_id=int(data["id"]),
        member_id=int(data["member"]),
        payer_id=int(data["payer"]),
        plan_code=data["plan"],
        prepaid=data["kind"] == PlanKind.PREPAID,
        status=data["status"],
        access_warning=bool(data["warn"]),
        started_on=started_on,
        cancel_at=_date(data["cancel"]),
        frozen_from=_date(data["ff"]),
        frozen_until=_date(data["fu"]),
        zone_included=not rules or bool(windows),
        windows=windows if rules else (),
        card_expires_on=_card_last_day(data.get("card")),
    )


def _packs_for_zone(zone_code: str) -> QuerySet[PackPurchase]:
    return PackPurchase.objects.filter(
        pack__kind__in=ACCESS_PACK_KINDS, pack__zone_code__in=["", zone_code]
    )


def packs_access_expression(
    member_ref: str, zone_code: str, day: dt.date, *, include_future: bool = False
) -> Subquery:
    """A JSON subquery: the visit packs and day passes of ``OuterRef(member_ref)`` for the
    zone, valid on the local date ``day`` (or, with ``include_future``, on any day from
    ``day`` on).  Read it back with :func:`packs_access_from_json`."""
    held = _packs_for_zone(zone_code).filter(member_id=OuterRef(member_ref), expires_on__gte=day)
    if not include_future:
        held = held.filter(valid_from__lte=day)
    items = (
        held.values("member_id")
        .annotate(
            items=JSONList(
                JSONObject(
                    id=F("pk"),
                    member=F("member_id"),
                    kind=F("pack__kind"),
                    name=F("pack__name"),
                    remaining=F("remaining"),
                    start=F("valid_from"),
                    end=F("expires_on"),
                )
            )
        )
        .values("items")
    )
    return Subquery(items, output_field=JSONField())


def packs_access_from_json(data: Any) -> list[PackAccess]:
    """Read what :func:`packs_access_expression` annotated, soonest expiry first."""
    packs = []
    for item in json_value(data) or []:
        valid_from, expires_on = _date(item["start"]), _date(item["end"])
        assert valid_from is not None and expires_on is not None
        packs.append(
            PackAccess(
                purchase_id=int(item["id"]),
                member_id=int(item["member"]),
                kind=item["kind"],
                name=item["name"],
                remaining=int(item["remaining"]),
                valid_from=valid_from,
                expires_on=expires_on,
            )
        )
    return sorted(packs, key=lambda p: (p.expires_on, p.purchase_id))


def packs_access_for_members(
    member_ids: Iterable[int], zone_code: str, *, first_day: dt.date, last_day: dt.date
) -> dict[int, list[PackAccess]]:
    """Per member: their packs for the zone valid on any day from ``first_day`` to ``last_day``."""
    found: dict[int, list[PackAccess]] = {}
    rows = (
        _packs_for_zone(zone_code)
        .filter(member_id__in=set(member_ids), valid_from__lte=last_day, expires_on__gte=first_day)
        .select_related("pack")
        .order_by("expires_on", "pk")
    )
    for purchase in rows:
        found.setdefault(purchase.member_id, []).append(
            PackAccess(
                purchase_id=purchase.pk,
                member_id=purchase.member_id,
                kind=purchase.pack.kind,
                name=purchase.pack.name,
                remaining=purchase.remaining,
                valid_from=purchase.valid_from,
                expires_on=purchase.expires_on,
            )
        )
    return found


@dataclass(frozen=True)
class AccessChangeMarks:
    """How far a reader of billing's access-relevant changes has read (ids are positions)."""

    membership_events: int = 0
    memberships: int = 0
    packs: int = 0


def _settled_mark(queryset: QuerySet[Any], settled_before: dt.datetime) -> int:
    mark = (
        queryset.filter(created_at__lte=settled_before)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return int(mark or 0)


def access_change_marks(*, settled_before: dt.datetime) -> AccessChangeMarks:
    """Positions that every row created at or before ``settled_before`` lies at or below.

    A row is created inside a transaction that commits a little later, so positions are
    only trusted once their transaction must have ended: the caller picks
    ``settled_before`` earlier than now by more than any billing transaction lasts, and
    reads again from these marks next time (re-reading a change is harmless).
    """
    return AccessChangeMarks(
        membership_events=_settled_mark(MembershipEvent.objects.all(), settled_before),
        memberships=_settled_mark(Membership.objects.all(), settled_before),
        packs=_settled_mark(PackPurchase.objects.all(), settled_before),
    )


def members_with_access_changes(after: AccessChangeMarks) -> set[int]:
    """Members whose access may have changed since ``after``: any membership event (every
    status change, freeze, plan change and restriction writes one), any new membership,
    any new visit pack or day pass."""
    changed: set[int] = set()
    changed.update(
        MembershipEvent.objects.filter(pk__gt=after.membership_events).values_list(
            "membership__member_id", flat=True
        )
    )
    changed.update(
        Membership.objects.filter(pk__gt=after.memberships).values_list("member_id", flat=True)
    )
    changed.update(
        PackPurchase.objects.filter(
            pk__gt=after.packs, pack__kind__in=ACCESS_PACK_KINDS
        ).values_list("member_id", flat=True)
    )
    return changed


def entitlements_fingerprint() -> str:
    """A digest of every plan entitlement: it changes whenever any zone's rules change."""
    rows = PlanEntitlement.objects.order_by("pk").values_list(
        "pk", "plan_id", "zone_code", "weekdays", "start_time", "end_time"
    )
    digest = hashlib.sha256(repr(list(rows)).encode())
    return digest.hexdigest()[:16]


# --- PromptPay ------------------------------------------------------------------------


def promptpay_request_of_member(request_id: object, member_id: int) -> PromptPayRequest | None:
    """The PromptPay request ``request_id`` if it is this member's, else ``None`` (an id
    that is not a whole number, or someone else's request, is simply not found)."""
    try:
        wanted = int(str(request_id))
    except ValueError:
        return None
    if not 1 <= wanted <= 2**63 - 1:
        return None
    return (
        PromptPayRequest.objects.filter(pk=wanted, member_id=member_id)
        .prefetch_related("lines__invoice", "lines__payment")
        .first()
    )


def promptpay_requests_awaiting_staff() -> QuerySet[PromptPayRequest]:
    """Transfers to the gym's own PromptPay ID that members say they made: the desk
    checks the bank and confirms each."""
    return PromptPayRequest.objects.filter(
        route=PromptPayRoute.OWN_ID,
        status__in=[PromptPayStatus.PENDING, PromptPayStatus.EXPIRED],
        member_reported_at__isnull=False,
    ).select_related("member")


def account_charges_blocked(member_id: int) -> bool:
    """Whether the dunning ladder blocks charges to this member's account now: a live
    membership of theirs, or one they pay for, has ``account_charges_blocked`` set."""
    return Membership.objects.filter(
        Q(member_id=member_id) | Q(payer_id=member_id),
        status__in=LIVE_STATUSES,
        account_charges_blocked=True,
    ).exists()


def account_statement(member_id: int, currency: str, limit: int = 200) -> list[dict[str, Any]]:
    """The member account's entries, oldest first, each with the balance after it
    (positive: the member owes; negative: credit)."""
    entries = list(
        LedgerEntry.objects.filter(member_id=member_id, currency=currency).order_by(
            "created_at", "id"
        )
    )
    balance = 0
    rows = []
    for entry in entries:
        balance += entry.amount
        rows.append({"entry": entry, "balance": balance})
    return rows[-limit:]
