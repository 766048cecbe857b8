"""What a membership change would cost and when it takes effect, worked out without
changing anything.

The lifecycle services (``memberships``) apply exactly these terms, and the member
portal shows them before the member confirms: one calculation for both, so the fee shown
is the fee charged.  Each function refuses what the plan's rules do not allow with the
same domain error the service raises.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..errors import CancellationNotAllowed, FreezeNotAllowed, TransitionNotAllowed
from ..models import LineKind, Membership, MembershipStatus, Plan, PlanKind
from ..money import prorate
from ..periods import advance, days_between
from .invoices import LineSpec, build_line, totals

S = MembershipStatus

# Which statuses each action starts from.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "upgrade": (S.ACTIVE, S.TRIALING),
    "downgrade": (S.ACTIVE, S.TRIALING),
    "freeze": (S.ACTIVE,),
    "unfreeze": (S.FROZEN,),
    "cancel": (S.PENDING, S.TRIALING, S.ACTIVE, S.FROZEN, S.PAST_DUE, S.SUSPENDED),
    "reactivate": (S.CANCELLED, S.ENDED),
    "grant_free_time": (S.TRIALING, S.ACTIVE, S.FROZEN, S.PAST_DUE, S.SUSPENDED),
    "apply_coupon": (S.PENDING, S.TRIALING, S.ACTIVE, S.FROZEN),
    # A sign-up whose first charge fails stays pending: it never had access to lose.
    "mark_past_due": (S.TRIALING, S.ACTIVE, S.PAST_DUE),
    "suspend": (S.PAST_DUE,),
    "cancel_for_nonpayment": (S.PAST_DUE, S.SUSPENDED),
    "change_addons": (S.TRIALING, S.ACTIVE),
}


def require(membership: Membership, action: str) -> None:
    """Refuse ``action`` from the membership's status (``TransitionNotAllowed``)."""
    if membership.status not in ALLOWED_FROM[action]:
        raise TransitionNotAllowed(
            _("This membership is %(status)s: it cannot do that now.")
            % {"status": membership.get_status_display().lower()},
            reason=f"{action}_from_{membership.status}",
        )


def can(membership: Membership, action: str) -> bool:
    return membership.status in ALLOWED_FROM[action]


def fees_total(fees: list[LineSpec]) -> int:
    """What an invoice of these lines charges, tax included (as ``invoice_create`` adds
    it up)."""
    return totals([build_line(spec) for spec in fees])[2] if fees else 0


# --- Cancel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelTerms:
    """``ends_on``: the last day billed for (the day it ends); ``now``: access ends today."""

    ends_on: dt.date
    now: bool
    fees: list[LineSpec]
    in_minimum_term: bool

    @property
    def fee_total(self) -> int:
        return fees_total(self.fees)


def cancel_terms(
    membership: Membership, *, at_period_end: bool, waive_fees: bool, today: dt.date
) -> CancelTerms:
    """At period end: billing continues to the first period end that is both after the
    notice period and at or after the minimum term.  Now: access ends today; inside the
    minimum term the early-termination fee is charged.  The cancellation fee applies
    either way unless staff waive the fees."""
    require(membership, "cancel")
    plan = membership.plan
    if membership.cancel_at and at_period_end:
        raise CancellationNotAllowed(reason="already_scheduled")
    fees: list[LineSpec] = []
    in_minimum_term = bool(
        membership.minimum_term_ends_on and today < membership.minimum_term_ends_on
    )
    now = not (at_period_end and membership.next_billing_date and plan.kind == PlanKind.RECURRING)
    if not now:
        assert membership.next_billing_date is not None
        earliest = today + dt.timedelta(days=plan.cancellation_notice_days)
        if membership.minimum_term_ends_on:
            earliest = max(earliest, membership.minimum_term_ends_on)
        ends_on = membership.next_billing_date
        while ends_on < earliest:
            ends_on = advance(ends_on, plan.interval, plan.interval_count, membership.anchor_day)
    else:
        ends_on = today
        if in_minimum_term and plan.early_termination_fee and not waive_fees:
            fees.append(_fee(plan, "Early-termination fee", plan.early_termination_fee))
    if plan.cancellation_fee and not waive_fees:
        fees.append(_fee(plan, "Cancellation fee", plan.cancellation_fee))
    return CancelTerms(ends_on=ends_on, now=now, fees=fees, in_minimum_term=in_minimum_term)


def _fee(plan: Plan, description: str, amount: int) -> LineSpec:
    return LineSpec(LineKind.FEE, description, amount, plan.tax_rate_bp, plan.prices_include_tax)


# --- Freeze ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FreezeTerms:
    days: int
    fee: LineSpec | None
    # The next billing date once the freeze moves it (None: nothing more is billed).
    next_billing_date: dt.date | None

    @property
    def fee_total(self) -> int:
        return self.fee.amount if self.fee else 0


def freeze_terms(
    membership: Membership,
    *,
    starts_on: dt.date,
    ends_on: dt.date,
    today: dt.date,
    used_this_year: int,
) -> FreezeTerms:
    """The plan's freeze rules for a freeze from ``starts_on`` to ``ends_on``
    (``used_this_year``: freezes started in the last 365 days)."""
    require(membership, "freeze")
    plan = membership.plan
    length = days_between(starts_on, ends_on)
    if plan.freezes_per_year == 0:
        raise FreezeNotAllowed(reason="plan_has_no_freezes")
    if starts_on < today:
        raise FreezeNotAllowed(reason="starts_in_past")
    if length < plan.freeze_min_days:
        raise FreezeNotAllowed(reason="too_short", minimum_days=plan.freeze_min_days)
    if length > plan.freeze_max_days:
        raise FreezeNotAllowed(reason="too_long", maximum_days=plan.freeze_max_days)
    if used_this_year >= plan.freezes_per_year:
        raise FreezeNotAllowed(reason="yearly_limit_reached", limit=plan.freezes_per_year)
    if membership.cancel_at:
        raise FreezeNotAllowed(reason="cancellation_pending")
    fee = _fee(plan, "Freeze fee", plan.freeze_fee) if plan.freeze_fee else None
    moved = membership.next_billing_date
    if moved is not None:
        moved += dt.timedelta(days=length)
    return FreezeTerms(days=length, fee=fee, next_billing_date=moved)


# --- Plan changes ---------------------------------------------------------------------


def check_plan_change(membership: Membership, new_plan: Plan) -> None:
    if new_plan.pk == membership.plan_id:
        raise TransitionNotAllowed(reason="same_plan")
    if not new_plan.is_active:
        raise TransitionNotAllowed(reason="plan_not_on_sale")
    if new_plan.currency != membership.currency:
        raise TransitionNotAllowed(reason="currency_mismatch")
    if new_plan.kind != PlanKind.RECURRING or membership.plan.kind != PlanKind.RECURRING:
        raise TransitionNotAllowed(reason="prepaid_plan_change")
    same_cycle = (new_plan.interval, new_plan.interval_count) == (
        membership.plan.interval,
        membership.plan.interval_count,
    )
    if not same_cycle:
        raise TransitionNotAllowed(reason="different_billing_interval")


@dataclass(frozen=True)
class PlanChangeTerms:
    """An upgrade charges ``lines`` now (nothing during a trial); a downgrade charges
    nothing now and the new plan's price from ``from_date``."""

    upgrade: bool
    lines: list[LineSpec]
    from_date: dt.date | None
    new_price: int

    @property
    def charge_now(self) -> int:
        return fees_total(self.lines)


def plan_change_terms(membership: Membership, new_plan: Plan, *, today: dt.date) -> PlanChangeTerms:
    """Dearer plans apply now (the unused time credited, the rest of the period on the new
    plan charged); cheaper ones from the next period."""
    old = membership.plan
    upgrade = new_plan.price >= old.price
    require(membership, "upgrade" if upgrade else "downgrade")
    check_plan_change(membership, new_plan)
    if not upgrade:
        return PlanChangeTerms(False, [], membership.next_billing_date, new_plan.price)
    if membership.status == S.TRIALING:
        return PlanChangeTerms(True, [], today, new_plan.price)
    start, end = membership.current_period_start, membership.current_period_end
    assert start is not None and end is not None
    total_days, left = days_between(start, end), days_between(today, end)
    lines = [
        LineSpec(
            LineKind.PRORATION,
            f"Unused time on {old.name}",
            -prorate(old.price, left, total_days),
            old.tax_rate_bp,
            old.prices_include_tax,
            period_start=today,
            period_end=end,
            plan_id=old.pk,
        ),
        LineSpec(
            LineKind.PRORATION,
            f"Remaining time on {new_plan.name}",
            prorate(new_plan.price, left, total_days),
            new_plan.tax_rate_bp,
            new_plan.prices_include_tax,
            period_start=today,
            period_end=end,
            plan_id=new_plan.pk,
        ),
    ]
    return PlanChangeTerms(True, lines, today, new_plan.price)
