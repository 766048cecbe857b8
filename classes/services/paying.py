"""What pays for a booking, first that applies, and giving a credit back.

1. the plan's credits for the current billing period (0: none; empty: unlimited),
   counted under the member's booking lock (taken by every booking that takes a place),
   so two bookings never share the last one;
2. a class pack's credit, the soonest-expiring first, taken by one conditional UPDATE;
3. the drop-in price, posted to the payer's account or charged to the card;
4. otherwise ``no_credit``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F

from billing.models import BillingReason, LedgerKind, LineKind, Membership, PackKind, PackPurchase
from billing.services.invoices import LineSpec, invoice_create, ledger_post
from billing.services.packs import pack_visit_take
from members.models import Member

from ..errors import BookingRefused
from ..models import Booking, ClassSession, DropInRoute, PaidBy, Payment


@dataclass
class Paid:
    by: str
    membership_id: int | None = None
    period_start: dt.date | None = None
    pack_purchase_id: int | None = None


def _plan_credit(membership: Membership) -> Paid | None:
    credits = membership.plan.class_credits_per_period
    if credits == 0:
        return None
    if credits is None:
        return Paid(PaidBy.PLAN, membership.pk, membership.current_period_start)
    # The member's booking lock (held by the caller) counts their bookings one at a time.
    used = (
        Booking.objects.filter(
            membership_id=membership.pk,
            paid_by=PaidBy.PLAN,
            credit_period_start=membership.current_period_start,
            credit_returned=False,
        )
        .exclude(status="waitlisted")
        .count()
    )
    if used >= credits:
        return None
    return Paid(PaidBy.PLAN, membership.pk, membership.current_period_start)


def _pack_credit(member: Member, session: ClassSession, today: dt.date) -> Paid | None:
    day = session.starts_at.astimezone(session.room.location.tz).date()
    packs = list(
        PackPurchase.objects.filter(
            member_id=member.pk,
            pack__kind=PackKind.CLASSES,
            remaining__gt=0,
            valid_from__lte=today,
            expires_on__gte=day,
        )
        .order_by("expires_on", "pk")
        .values_list("pk", flat=True)[:5]
    )
    for purchase_id in packs:
        if pack_visit_take(purchase_id):  # UPDATE ... WHERE remaining > 0: taken once
            return Paid(PaidBy.PACK, pack_purchase_id=purchase_id)
    return None


def pay(
    member: Member,
    session: ClassSession,
    membership: Membership | None,
    *,
    plan_applies: bool,
    today: dt.date,
) -> Paid:
    """Take what pays for ``member``'s place in ``session``, or refuse with ``no_credit``."""
    kind = session.class_type
    if kind.payment == Payment.FREE:
        return Paid(PaidBy.FREE)
    if kind.payment == Payment.CREDIT:
        if plan_applies and membership is not None:
            paid = _plan_credit(membership)
            if paid:
                return paid
        paid = _pack_credit(member, session, today)
        if paid:
            return paid
    if kind.drop_in_price > 0:
        return Paid(PaidBy.DROP_IN, membership.pk if membership else None)
    raise BookingRefused(reason="no_credit")


def apply(booking: Booking, paid: Paid) -> None:
    booking.paid_by = paid.by
    booking.membership_id = paid.membership_id
    booking.credit_period_start = paid.period_start
    booking.pack_purchase_id = paid.pack_purchase_id
    booking.credit_returned = False


def drop_in_charge(booking: Booking, session: ClassSession) -> None:
    """Post or charge a drop-in once the booking row exists (its id is the reference)."""
    if booking.paid_by != PaidBy.DROP_IN:
        return
    kind = session.class_type
    payer = booking.member.payer
    description = f"{kind.name} · {session.starts_at:%Y-%m-%d %H:%M} UTC"
    if kind.drop_in_route == DropInRoute.CARD:
        invoice = invoice_create(
            member=payer,
            currency=kind.currency,
            reason=BillingReason.FEE,
            specs=[
                LineSpec(LineKind.OTHER, description, kind.drop_in_price, kind.tax_rate_bp, True)
            ],
        )

        def charge() -> Any:
            from billing.services.payments import invoice_charge

            return invoice_charge(invoice, trigger="customer")

        if invoice.amount_due:
            transaction.on_commit(charge)
        return
    ledger_post(
        payer,
        kind=LedgerKind.ACCOUNT_CHARGE,
        amount=kind.drop_in_price,
        currency=kind.currency,
        description=description,
        reference=f"class-drop-in:{booking.pk}",
    )


def give_back(booking: Booking) -> None:
    """Return what paid for ``booking``: the credit to its own pack, the plan's credit,
    or the drop-in price as credit on the account.  Once: ``credit_returned`` says so."""
    if booking.credit_returned or not booking.paid_by or booking.paid_by == PaidBy.FREE:
        return
    if booking.paid_by == PaidBy.PACK and booking.pack_purchase_id:
        PackPurchase.objects.filter(pk=booking.pack_purchase_id).update(
            remaining=F("remaining") + 1
        )
    elif booking.paid_by == PaidBy.DROP_IN:
        kind = booking.session.class_type
        ledger_post(
            booking.member.payer,
            kind=LedgerKind.CREDIT,
            amount=kind.drop_in_price,
            currency=kind.currency,
            description=f"{kind.name}: drop-in returned",
            reference=f"class-drop-in-back:{booking.pk}",
        )
    booking.credit_returned = True
