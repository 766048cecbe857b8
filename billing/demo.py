"""Demo billing: plans, add-ons, packs, a coupon, sandbox cards and memberships.

Most demo members get an active membership and a sandbox card that works; a few get
cards that decline, so the billing run and dunning have something to do.  Bulk
inserts keep ``seed_demo --members 100000`` within minutes.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import transaction
from tqdm import tqdm

from config import clock
from members.demo import DEMO_EMAIL_DOMAIN, SeedContext
from members.models import Member

from .models import (
    AddOn,
    Coupon,
    Membership,
    MembershipStatus,
    Pack,
    PaymentMethod,
    Plan,
    PlanEntitlement,
)
from .periods import add_months
from .services.memberships import members_sync_status

PLANS: list[tuple[str, str, str, str, int, int, dict[str, Any]]] = [
    # code, name, name_th, interval, count, price, extra
    (
        "monthly",
        "Monthly",
        "รายเดือน",
        "month",
        1,
        159_000,
        {
            "joining_fee": 99_000,
            "minimum_term_periods": 3,
            "cancellation_notice_days": 30,
            "freezes_per_year": 2,
            "freeze_fee": 20_000,
            "class_credits_per_period": 8,
        },
    ),
    ("fortnightly", "Fortnightly", "ราย 2 สัปดาห์", "week", 2, 79_000, {"freezes_per_year": 1}),
    ("quarterly", "Quarterly", "ราย 3 เดือน", "month", 3, 429_000, {"freezes_per_year": 2}),
    (
        "annual",
        "Annual",
        "รายปี",
        "year",
        1,
        1_490_000,
        {"freezes_per_year": 3, "early_termination_fee": 300_000, "minimum_term_periods": 1},
    ),
    ("off-peak", "Off-peak monthly", "รายเดือน (นอกเวลาเร่งด่วน)", "month", 1, 99_000, {}),
    ("prepaid-3m", "3 months prepaid", "เหมา 3 เดือน", "month", 3, 399_000, {"kind": "prepaid"}),
]
# Share of demo members on each plan, and of cards with each sandbox behaviour.
PLAN_WEIGHTS = {"monthly": 55, "fortnightly": 10, "quarterly": 10, "annual": 10, "off-peak": 15}
CARD_WEIGHTS = {
    "tok_ok": 88,
    "tok_decline_insufficient_funds": 5,
    "tok_succeed_after_2": 3,
    "tok_decline_expired_card": 2,
    "tok_decline_do_not_honor": 1,
    "tok_decline_lost_card": 1,
}
BATCH = 5000


def seed_catalogue() -> dict[str, Plan]:
    plans = {}
    for code, name, name_th, interval, count, price, extra in PLANS:
        plan, _ = Plan.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_th": name_th,
                "interval": interval,
                "interval_count": count,
                "price": price,
                "currency": "THB",
                **extra,
            },
        )
        plans[code] = plan
    off_peak = plans["off-peak"]
    if not off_peak.entitlements.exists():
        PlanEntitlement.objects.bulk_create(
            [
                PlanEntitlement(
                    plan=off_peak,
                    zone_code="gym-floor",
                    weekdays="12345",
                    start_time=dt.time(10, 0),
                    end_time=dt.time(16, 0),
                ),
                PlanEntitlement(
                    plan=off_peak,
                    zone_code="gym-floor",
                    weekdays="67",
                    start_time=dt.time(8, 0),
                    end_time=dt.time(20, 0),
                ),
            ]
        )
    for code, name, price in [
        ("locker", "Locker", 30_000),
        ("towel", "Towel service", 15_000),
        ("pt-4", "4 PT sessions a month", 320_000),
    ]:
        AddOn.objects.get_or_create(code=code, defaults={"name": name, "price": price})
    for code, name, kind, qty, days, price in [
        ("visits-10", "10-visit pack", "visits", 10, 90, 250_000),
        ("classes-5", "5-class pack", "classes", 5, 60, 120_000),
        ("day-pass", "Day pass", "day_pass", 1, 1, 35_000),
    ]:
        Pack.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "quantity": qty,
                "valid_days": days,
                "price": price,
            },
        )
    Coupon.objects.get_or_create(
        code="NEWYEAR20",
        defaults={
            "name": "New year 20% off for 3 months",
            "percent_off_bp": 2000,
            "duration": "repeating",
            "duration_periods": 3,
        },
    )
    return plans


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def seed_memberships(ctx: SeedContext, plans: dict[str, Plan]) -> None:
    """Give demo members without one a membership and a card, in bulk."""
    today = clock.today()
    candidates = (
        Member.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}", memberships__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ids = list(candidates)
    if not ids:
        return
    bar = tqdm(total=len(ids), desc="memberships", unit="membership", disable=not ctx.progress)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        methods, memberships = [], []
        for member_id in chunk:
            rng = random.Random(member_id)
            if rng.random() < 0.08:
                continue  # a prospect: no membership yet
            plan = plans[_pick(rng, PLAN_WEIGHTS)]
            behaviour = _pick(rng, CARD_WEIGHTS)
            methods.append(
                PaymentMethod(
                    member_id=member_id,
                    gateway="sandbox",
                    token=f"{behaviour}.m{member_id}",
                    brand="mastercard" if rng.random() < 0.35 else "visa",
                    last4=f"{rng.randint(0, 9999):04d}",
                    exp_month=rng.randint(1, 12),
                    exp_year=today.year + rng.randint(0, 4),
                    fingerprint=f"fp_demo_{member_id}",
                    is_default=True,
                )
            )
            started = today - dt.timedelta(days=rng.randint(20, 700))
            anchor = started.day
            # The current period: the latest anchor date on or before today.
            months = plan.interval_count * (12 if plan.interval == "year" else 1)
            if plan.interval == "week":
                period_days = 7 * plan.interval_count
                period_start = started + dt.timedelta(
                    days=((today - started).days // period_days) * period_days
                )
                period_end = period_start + dt.timedelta(days=period_days)
            else:
                period_start = started
                while add_months(period_start, months, anchor) <= today:
                    period_start = add_months(period_start, months, anchor)
                period_end = add_months(period_start, months, anchor)
            memberships.append(
                Membership(
                    member_id=member_id,
                    payer_id=member_id,
                    plan=plan,
                    currency=plan.currency,
                    status=MembershipStatus.ACTIVE,
                    anchor_day=anchor,
                    started_on=started,
                    current_period_start=period_start,
                    current_period_end=period_end,
                    next_billing_date=period_end,
                )
            )
        with transaction.atomic():
            PaymentMethod.objects.bulk_create(methods, ignore_conflicts=True)
            Membership.objects.bulk_create(memberships)
            members_sync_status(m.member_id for m in memberships)
        bar.update(len(chunk))
    bar.close()


def seed(ctx: SeedContext) -> None:
    plans = seed_catalogue()
    seed_memberships(ctx, plans)
