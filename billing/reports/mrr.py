"""MRR per membership: live from the memberships, at a past date from the records, and
from the invoices (the cross-check).

A membership's MRR is what one period of it brings in, net of VAT line by line exactly
as its invoices split it (plan, add-ons, a discount that never ends), normalised to a
month with :func:`monthly`.  Trials, pending, cancelled, ended and frozen memberships
bring in nothing; past-due and suspended ones count until dunning cancels them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q

from config import clock

from ..models import (
    AddOn,
    BillingReason,
    Coupon,
    CouponDuration,
    Interval,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Membership,
    MembershipAddOn,
    MembershipStatus,
    Plan,
)
from ..money import divide_round, percent_of, split_tax

# Statuses that bring in MRR, and those that keep a member a subscriber (a freeze pauses
# the money, not the membership).
MRR_STATUSES = (MembershipStatus.ACTIVE, MembershipStatus.PAST_DUE, MembershipStatus.SUSPENDED)
SUBSCRIBER_STATUSES = (*MRR_STATUSES, MembershipStatus.FROZEN)
PLAN_CHANGE_EVENTS = ("upgraded", "plan_changed")
RECURRING_LINES = (LineKind.PLAN, LineKind.ADDON, LineKind.DISCOUNT)

# Months per period as a fraction: a year is 52 weeks (Stripe's weekly normalisation).
_PER_MONTH = {Interval.WEEK: (52, 12), Interval.MONTH: (1, 1), Interval.YEAR: (1, 12)}


def monthly(period_amount: int, interval: str, interval_count: int) -> int:
    """``period_amount`` for one period of ``interval_count`` × ``interval``, per month."""
    numerator, denominator = _PER_MONTH[Interval(interval)]
    return divide_round(period_amount * numerator, denominator * interval_count)


def period_net(
    plan: Plan, addons: Iterable[tuple[AddOn, int]], coupon: Coupon | None = None
) -> int:
    """One period's net of VAT, line by line as the invoice splits it.  ``coupon`` only
    where it never ends (a discount that ends in time is ignored)."""
    inclusive = plan.prices_include_tax
    net = split_tax(plan.price, plan.tax_rate_bp, inclusive=inclusive)[0]
    for addon, quantity in addons:
        net += split_tax(addon.price * quantity, addon.tax_rate_bp, inclusive=inclusive)[0]
    if coupon is not None and coupon.duration == CouponDuration.FOREVER:
        if coupon.percent_off_bp is not None:
            off = percent_of(plan.price, coupon.percent_off_bp)
        else:
            off = min(coupon.amount_off or 0, plan.price)
        if off > 0:
            net += split_tax(-off, plan.tax_rate_bp, inclusive=inclusive)[0]
    return net


@dataclass(frozen=True)
class MembershipMrr:
    """One membership's standing on a day: who, which plan, its status and MRR."""

    membership_id: int
    member_id: int
    plan_id: int
    status: str
    mrr: int

    @property
    def subscriber(self) -> bool:
        return self.status in SUBSCRIBER_STATUSES


def _value(plan: Plan, addons: list[tuple[AddOn, int]], coupon: Coupon | None, status: str) -> int:
    if status not in MRR_STATUSES:
        return 0
    return monthly(period_net(plan, addons, coupon), plan.interval, plan.interval_count)


def _catalogue() -> tuple[dict[int, Plan], dict[int, AddOn], dict[int, Coupon]]:
    return (
        {p.pk: p for p in Plan.objects.filter(currency=settings.GYM_CURRENCY)},
        {a.pk: a for a in AddOn.objects.all()},
        {c.pk: c for c in Coupon.objects.filter(duration=CouponDuration.FOREVER)},
    )


def mrr_live() -> list[MembershipMrr]:
    """Every subscriber membership now, from the memberships as they stand (three queries
    for the catalogue, one for the memberships, one for their add-ons)."""
    plans, addons, coupons = _catalogue()
    today = clock.today()
    rows = list(
        Membership.objects.filter(
            status__in=SUBSCRIBER_STATUSES, currency=settings.GYM_CURRENCY
        ).values_list("pk", "member_id", "plan_id", "status", "coupon_id")
    )
    held = _addons_on(today, None)
    return _standings(rows, held, plans, addons, coupons)


def _standings(
    rows: Iterable[tuple[int, int, int, str, int | None]],
    held: dict[int, list[tuple[int, int]]],
    plans: dict[int, Plan],
    addons: dict[int, AddOn],
    coupons: dict[int, Coupon],
) -> list[MembershipMrr]:
    """Each membership's MRR; the value is worked out once per distinct (plan, add-ons,
    coupon, status) (a gym has a few dozen of them among 100,000 memberships)."""
    values: dict[tuple[int, tuple[tuple[int, int], ...], int | None, str], int] = {}
    result = []
    for pk, member_id, plan_id, status, coupon_id in rows:
        if plan_id not in plans:
            continue
        items = tuple(held.get(pk, ()))
        key = (plan_id, items, coupon_id, status)
        value = values.get(key)
        if value is None:
            value = values[key] = _value(
                plans[plan_id],
                [(addons[a], q) for a, q in items],
                coupons.get(coupon_id) if coupon_id else None,
                status,
            )
        result.append(MembershipMrr(pk, member_id, plan_id, status, value))
    return result


def _addons_on(day: dt.date, membership_ids: set[int] | None) -> dict[int, list[tuple[int, int]]]:
    query = MembershipAddOn.objects.filter(started_on__lte=day).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=day)
    )
    held: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for membership_id, addon_id, quantity in query.values_list(
        "membership_id", "addon_id", "quantity"
    ):
        if membership_ids is None or membership_id in membership_ids:
            held[membership_id].append((addon_id, quantity))
    for items in held.values():
        items.sort()
    return held


# The status and plan of every membership at an instant, from its history: the last
# event that set a status, and the last plan change (before it, the first change's
# "from"; with no change at all, the plan it has).
_STATE_AT = """
WITH status_at AS (
    SELECT DISTINCT ON (e.membership_id) e.membership_id, e.to_status
    FROM billing_membershipevent e
    WHERE e.to_status <> '' AND e.created_at < %(cutoff)s
    ORDER BY e.membership_id, e.created_at DESC, e.id DESC
), changed_before AS (
    SELECT DISTINCT ON (e.membership_id) e.membership_id, e.detail ->> 'to' AS code
    FROM billing_membershipevent e
    WHERE e.kind = ANY(%(changes)s) AND e.created_at < %(cutoff)s
    ORDER BY e.membership_id, e.created_at DESC, e.id DESC
), changed_after AS (
    SELECT DISTINCT ON (e.membership_id) e.membership_id, e.detail ->> 'from' AS code
    FROM billing_membershipevent e
    WHERE e.kind = ANY(%(changes)s) AND e.created_at >= %(cutoff)s
    ORDER BY e.membership_id, e.created_at, e.id
), coupon_from AS (
    SELECT e.membership_id, MIN(e.created_at) AS at
    FROM billing_membershipevent e
    WHERE e.kind = 'coupon_applied'
    GROUP BY e.membership_id
)
SELECT m.id, m.member_id,
       COALESCE(pb.id, pa.id, m.plan_id) AS plan_id,
       s.to_status,
       CASE WHEN cf.at IS NULL OR cf.at < %(cutoff)s THEN m.coupon_id END AS coupon_id
FROM billing_membership m
JOIN status_at s ON s.membership_id = m.id
LEFT JOIN changed_before cb ON cb.membership_id = m.id
LEFT JOIN billing_plan pb ON pb.code = cb.code
LEFT JOIN changed_after ca ON ca.membership_id = m.id AND cb.membership_id IS NULL
LEFT JOIN billing_plan pa ON pa.code = ca.code
LEFT JOIN coupon_from cf ON cf.membership_id = m.id
WHERE s.to_status = ANY(%(statuses)s) AND m.currency = %(currency)s
  AND m.started_on <= %(day)s
"""


def mrr_at(day: dt.date) -> list[MembershipMrr]:
    """Every subscriber membership at the end of the gym-local ``day``, rebuilt from the
    records (status and plan from the membership's history, add-ons from their dates)."""
    plans, addons, coupons = _catalogue()
    cutoff = clock.local_midnight(day + dt.timedelta(days=1))
    with connection.cursor() as cursor:
        cursor.execute(
            _STATE_AT,
            {
                "cutoff": cutoff,
                "changes": list(PLAN_CHANGE_EVENTS),
                "statuses": [str(s) for s in SUBSCRIBER_STATUSES],
                "currency": settings.GYM_CURRENCY,
                "day": day,
            },
        )
        rows = cursor.fetchall()
    held = _addons_on(day, {row[0] for row in rows})
    return _standings(rows, held, plans, addons, coupons)


# Memberships that brought in MRR at some moment of a month: each one's last event in the
# month that set an MRR status, with its plan at that moment (as in _STATE_AT) and its
# coupon if it applied by then.
_PASSED = """
WITH passed AS (
    SELECT DISTINCT ON (e.membership_id) e.membership_id, e.created_at AS at, e.to_status
    FROM billing_membershipevent e
    WHERE e.to_status = ANY(%(statuses)s)
      AND e.created_at >= %(since)s AND e.created_at < %(until)s
    ORDER BY e.membership_id, e.created_at DESC, e.id DESC
)
SELECT m.id, m.member_id, COALESCE(pb.id, pa.id, m.plan_id), p.to_status,
       CASE WHEN NOT EXISTS (
           SELECT 1 FROM billing_membershipevent c
           WHERE c.membership_id = m.id AND c.kind = 'coupon_applied' AND c.created_at > p.at
       ) THEN m.coupon_id END,
       p.at
FROM passed p
JOIN billing_membership m ON m.id = p.membership_id
LEFT JOIN LATERAL (
    SELECT e.detail ->> 'to' AS code FROM billing_membershipevent e
    WHERE e.membership_id = m.id AND e.kind = ANY(%(changes)s) AND e.created_at <= p.at
    ORDER BY e.created_at DESC, e.id DESC LIMIT 1
) cb ON true
LEFT JOIN billing_plan pb ON pb.code = cb.code
LEFT JOIN LATERAL (
    SELECT e.detail ->> 'from' AS code FROM billing_membershipevent e
    WHERE e.membership_id = m.id AND e.kind = ANY(%(changes)s) AND e.created_at > p.at
    ORDER BY e.created_at, e.id LIMIT 1
) ca ON cb.code IS NULL
LEFT JOIN billing_plan pa ON pa.code = ca.code
WHERE m.currency = %(currency)s
"""


def mrr_passed(first: dt.date, last: dt.date) -> list[MembershipMrr]:
    """Every membership that brought in MRR at some moment from the start of the gym-local
    day ``first`` to the end of ``last``, with its MRR at the last such moment (its plan,
    add-ons and a never-ending coupon then).  For the members who join and leave within
    one month (``docs/reports.md``).  Five queries (the catalogue, the memberships, their
    add-ons)."""
    plans, addons, coupons = _catalogue()
    with connection.cursor() as cursor:
        cursor.execute(
            _PASSED,
            {
                "since": clock.local_midnight(first),
                "until": clock.local_midnight(last + dt.timedelta(days=1)),
                "changes": list(PLAN_CHANGE_EVENTS),
                "statuses": [str(s) for s in MRR_STATUSES],
                "currency": settings.GYM_CURRENCY,
            },
        )
        found = cursor.fetchall()
    gym_tz = clock.gym_tz()
    day_of = {row[0]: row[5].astimezone(gym_tz).date() for row in found}
    held: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for membership_id, addon_id, quantity, started, ended in MembershipAddOn.objects.filter(
        membership_id__in=list(day_of), started_on__lte=last
    ).values_list("membership_id", "addon_id", "quantity", "started_on", "ended_on"):
        day = day_of[membership_id]
        if started <= day and (ended is None or ended > day):
            held[membership_id].append((addon_id, quantity))
    for items in held.values():
        items.sort()
    return _standings([row[:5] for row in found], held, plans, addons, coupons)


def mrr_from_invoices(day: dt.date) -> dict[int, int]:
    """MRR per membership from the renewal or sign-up invoice whose period covers ``day``:
    its plan, add-on and discount lines net of VAT, normalised by the plan it billed.

    The cross-check of :func:`mrr_live` for a month without changes (a membership whose
    plan changed since, or whose discount ends, differs by design)."""
    invoices = Invoice.objects.filter(
        billing_reason__in=[BillingReason.CYCLE, BillingReason.SIGNUP],
        period_start__lte=day,
        period_end__gt=day,
        currency=settings.GYM_CURRENCY,
        membership__status__in=MRR_STATUSES,
    ).exclude(status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT])
    plan_of = dict(invoices.values_list("membership_id", "membership__plan_id"))
    plans = Plan.objects.in_bulk(set(plan_of.values()))
    nets: dict[int, int] = defaultdict(int)
    for membership_id, net in InvoiceLine.objects.filter(
        invoice__in=invoices, kind__in=RECURRING_LINES
    ).values_list("invoice__membership_id", "net_amount"):
        nets[membership_id] += net
    return {
        membership_id: monthly(
            net,
            plans[plan_of[membership_id]].interval,
            plans[plan_of[membership_id]].interval_count,
        )
        for membership_id, net in nets.items()
    }


def paying_members_sql() -> tuple[str, list[Any]]:
    """SQL selecting the ids of members with a membership that brings in MRR now (not
    frozen, not on trial), for other apps' reports to join against."""
    return (
        "SELECT DISTINCT member_id FROM billing_membership"
        " WHERE status = ANY(%s) AND currency = %s",
        [[str(s) for s in MRR_STATUSES], settings.GYM_CURRENCY],
    )
