"""What the front desk reads about billing: a member's standing and the day's rows.

Reads only.  The member page's header card (``member_standing``) and "Today at the gym"
(``failed_payments_on``, ``memberships_ending_between``, ``memberships_thawing_between``,
``signups_awaiting_payment``) use these; each is a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from config import clock
from members.models import Member

from .models import (
    LIVE_STATUSES,
    AttemptStatus,
    BillingReason,
    Invoice,
    InvoiceStatus,
    Membership,
    MembershipAddOn,
    MembershipStatus,
    PaymentAttempt,
    PaymentMethod,
    PaymentMethodStatus,
    PlanKind,
)
from .services.invoices import build_line, totals
from .services.lines import cycle_line_specs

# Statuses whose next billing date is a charge that will be made.
CHARGED_NEXT = (
    MembershipStatus.ACTIVE,
    MembershipStatus.TRIALING,
    MembershipStatus.PAST_DUE,
    MembershipStatus.FROZEN,
)


@dataclass(frozen=True)
class NextCharge:
    on: dt.date
    amount: int
    currency: str


@dataclass
class MemberStanding:
    """A member's billing at a glance: the membership, the next charge, what is owed."""

    membership: Membership | None
    next_charge: NextCharge | None
    open_invoices: list[Invoice] = field(default_factory=list)
    card: PaymentMethod | None = None

    @property
    def owed(self) -> dict[str, int]:
        owed: dict[str, int] = {}
        for invoice in self.open_invoices:
            owed[invoice.currency] = owed.get(invoice.currency, 0) + invoice.amount_due
        return owed

    @property
    def overdue(self) -> bool:
        today = clock.today()
        return any(invoice.due_on and invoice.due_on <= today for invoice in self.open_invoices)


def member_invoices_open(member: Member) -> QuerySet[Invoice]:
    """Open invoices the desk can take payment for on ``member``'s page: those billed to
    them, and those of their own memberships billed to a household payer."""
    return (
        Invoice.objects.filter(Q(member=member) | Q(membership__member=member))
        .filter(status=InvoiceStatus.OPEN)
        .select_related("member", "membership__plan")
        .order_by("due_on", "pk")
    )


def membership_next_charge(membership: Membership) -> NextCharge | None:
    """What the billing run will charge next for ``membership`` and when (before account
    credit), or ``None`` when nothing more is billed."""
    on = membership.next_billing_date
    if on is None or membership.status not in CHARGED_NEXT:
        return None
    if membership.plan.kind != PlanKind.RECURRING:
        return None
    if membership.cancel_at and on >= membership.cancel_at:
        return None
    plan = membership.pending_plan or membership.plan
    addons = MembershipAddOn.objects.filter(
        membership=membership, ended_on__isnull=True
    ).select_related("addon")
    specs = cycle_line_specs(membership, plan, addons, (on, on + dt.timedelta(days=1)))
    total = totals([build_line(spec) for spec in specs])[2]
    return NextCharge(on=on, amount=total, currency=membership.currency)


def member_standing(member: Member) -> MemberStanding:
    membership = (
        Membership.objects.filter(member=member, status__in=LIVE_STATUSES)
        .select_related("plan", "pending_plan", "coupon", "payer")
        .order_by("-started_on", "-pk")
        .first()
    )
    if membership is None:
        membership = (
            Membership.objects.filter(member=member)
            .select_related("plan", "pending_plan", "coupon", "payer")
            .order_by("-started_on", "-pk")
            .first()
        )
    card = (
        PaymentMethod.objects.filter(
            member_id=member.payer.pk, is_default=True, status=PaymentMethodStatus.ACTIVE
        )
        .order_by("-pk")
        .first()
    )
    return MemberStanding(
        membership=membership,
        next_charge=membership_next_charge(membership) if membership else None,
        open_invoices=list(member_invoices_open(member)),
        card=card,
    )


# --- The day's rows -------------------------------------------------------------------


def _local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = clock.local_midnight(day)
    return start, clock.local_midnight(day + dt.timedelta(days=1))


def failed_payments_on(day: dt.date, limit: int = 10) -> tuple[int, list[PaymentAttempt]]:
    """Charges that failed on the local date ``day``: how many, and the latest."""
    start, end = _local_day_bounds(day)
    failed = PaymentAttempt.objects.filter(
        created_at__gte=start,
        created_at__lt=end,
        status__in=[AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION],
    )
    latest = list(failed.select_related("invoice__member").order_by("-created_at", "-pk")[:limit])
    return failed.count(), latest


def memberships_ending_between(
    first: dt.date, last: dt.date, limit: int = 10
) -> tuple[int, list[Membership]]:
    """Live memberships whose last day falls between ``first`` and ``last`` (inclusive)."""
    ending = Membership.objects.filter(
        status__in=LIVE_STATUSES,
        cancel_at__gt=first,
        cancel_at__lte=last + dt.timedelta(days=1),
    )
    rows = list(ending.select_related("member", "plan").order_by("cancel_at", "pk")[:limit])
    return ending.count(), rows


def memberships_thawing_between(
    first: dt.date, last: dt.date, limit: int = 10
) -> tuple[int, list[Membership]]:
    """Frozen memberships whose freeze ends between ``first`` and ``last`` (inclusive)."""
    thawing = Membership.objects.filter(
        status=MembershipStatus.FROZEN, frozen_until__gte=first, frozen_until__lte=last
    )
    rows = list(thawing.select_related("member", "plan").order_by("frozen_until", "pk")[:limit])
    return thawing.count(), rows


def signups_awaiting_payment(limit: int = 10) -> tuple[int, list[Invoice]]:
    """First invoices left open at sign-up (no card, no payment yet): to collect at the desk."""
    waiting = Invoice.objects.filter(
        status=InvoiceStatus.OPEN,
        billing_reason=BillingReason.SIGNUP,
        membership__status=MembershipStatus.PENDING,
    )
    rows = list(waiting.select_related("member").order_by("due_on", "pk")[:limit])
    return waiting.count(), rows


def members_owing(member_ids: set[int]) -> set[int]:
    """Those of ``member_ids`` with an open invoice to pay (billed to them, or to a payer
    for their membership): the desk can take a payment for them.  One query."""
    if not member_ids:
        return set()
    rows = (
        Invoice.objects.filter(
            Q(member_id__in=member_ids) | Q(membership__member_id__in=member_ids),
            status=InvoiceStatus.OPEN,
        )
        .values_list("member_id", "membership__member_id")
        .distinct()
    )
    owing: set[int] = set()
    for billed, member in rows:
        owing.update(pk for pk in (billed, member) if pk in member_ids)
    return owing
