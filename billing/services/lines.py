"""What goes on a membership's invoice for a period: plan, add-ons, discount."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..models import Coupon, LineKind, Membership, MembershipAddOn, Plan
from ..money import percent_of
from .invoices import LineSpec


def plan_line(plan: Plan, period: tuple[dt.date, dt.date], amount: int | None = None) -> LineSpec:
    start, end = period
    last_day = end - dt.timedelta(days=1)
    return LineSpec(
        LineKind.PLAN,
        f"{plan.name} ({start:%d %b %Y} – {last_day:%d %b %Y})",
        plan.price if amount is None else amount,
        plan.tax_rate_bp,
        plan.prices_include_tax,
        period_start=start,
        period_end=end,
        plan_id=plan.pk,
    )


def discount_line(coupon: Coupon, plan: Plan, base: int) -> LineSpec | None:
    """The coupon's discount on ``base`` (never more than ``base``), as a negative line."""
    if coupon.percent_off_bp is not None:
        off = percent_of(base, coupon.percent_off_bp)
    else:
        off = min(coupon.amount_off or 0, base)
    if off <= 0:
        return None
    return LineSpec(
        LineKind.DISCOUNT,
        f"Discount {coupon.code}",
        -off,
        plan.tax_rate_bp,
        plan.prices_include_tax,
    )


def coupon_applies(membership: Membership) -> bool:
    coupon = membership.coupon
    if coupon is None:
        return False
    if coupon.duration == "forever":
        return True
    return bool(membership.coupon_periods_left)


def cycle_line_specs(
    membership: Membership,
    plan: Plan,
    addons: Iterable[MembershipAddOn],
    period: tuple[dt.date, dt.date],
) -> list[LineSpec]:
    specs = [plan_line(plan, period)]
    for item in addons:
        specs.append(
            LineSpec(
                LineKind.ADDON,
                item.addon.name,
                item.addon.price,
                item.addon.tax_rate_bp,
                plan.prices_include_tax,
                quantity=item.quantity,
                period_start=period[0],
                period_end=period[1],
                addon_id=item.addon_id,
            )
        )
    if coupon_applies(membership):
        assert membership.coupon is not None
        discount = discount_line(membership.coupon, plan, plan.price)
        if discount:
            specs.append(discount)
    return specs
