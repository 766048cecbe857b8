"""The membership lifecycle.  Each service refuses an invalid transition with a domain error.

Billing owns the membership status; dunning changes it only through the functions at
the bottom of this module.  Every change is written to ``MembershipEvent``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils.translation import gettext as _

from config import clock, inputs
from config.db import bulk_insert_rows, bulk_update_rows
from config.errors import InvalidInput
from members.models import Member, MemberStatus

from ..errors import (
    CouponNotValid,
    PaymentNotAllowed,
    TransitionNotAllowed,
)
from ..models import (
    LIVE_STATUSES,
    AddOn,
    AttemptTrigger,
    BillingReason,
    Coupon,
    CouponDuration,
    Invoice,
    InvoiceStatus,
    LineKind,
    Membership,
    MembershipAddOn,
    MembershipEvent,
    MembershipFreeze,
    MembershipStatus,
    PaymentAttempt,
    PaymentMethod,
    Plan,
    PlanKind,
)
from ..money import prorate
from ..periods import advance, days_between
from .history import membership_events_audit, membership_events_save
from .invoices import LineSpec, invoice_create
from .lines import cycle_line_specs, discount_line, plan_line
from .terms import ALLOWED_FROM, cancel_terms, freeze_terms, plan_change_terms, require

S = MembershipStatus
logger = logging.getLogger(__name__)

# The member's own status follows their most significant live membership.
_MEMBER_STATUS_PRIORITY = [
    (S.SUSPENDED, MemberStatus.SUSPENDED),
    (S.PAST_DUE, MemberStatus.PAST_DUE),
    (S.ACTIVE, MemberStatus.ACTIVE),
    (S.TRIALING, MemberStatus.ACTIVE),
    (S.FROZEN, MemberStatus.FROZEN),
    (S.PENDING, MemberStatus.PROSPECT),
    (S.CANCELLED, MemberStatus.CANCELLED),
    (S.ENDED, MemberStatus.ENDED),
]


def _lock(membership: Membership) -> Membership:
    return Membership.objects.select_for_update().select_related("plan").get(pk=membership.pk)


def _event_build(
    membership: Membership, kind: str, *, before: str = "", actor: Any = None, **detail: Any
) -> MembershipEvent:
    return MembershipEvent(
        membership=membership,
        kind=kind,
        from_status=before,
        to_status=membership.status if before else "",
        detail={k: str(v) for k, v in detail.items()},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _event(
    membership: Membership, kind: str, *, before: str = "", actor: Any = None, **detail: Any
) -> None:
    membership_events_save([_event_build(membership, kind, before=before, actor=actor, **detail)])


def members_sync_status(member_ids: Iterable[int]) -> None:
    """Recompute ``Member.status`` from memberships (for the desk's filters and lists)."""
    ids = set(member_ids)
    if not ids:
        return
    statuses: dict[int, set[str]] = {}
    for member_id, status in Membership.objects.filter(member_id__any=ids).values_list(
        "member_id", "status"
    ):
        statuses.setdefault(member_id, set()).add(status)
    by_status: dict[str, list[int]] = {}
    for member_id in ids:
        held = statuses.get(member_id, set())
        target = next(
            (member for ms, member in _MEMBER_STATUS_PRIORITY if ms in held), MemberStatus.PROSPECT
        )
        by_status.setdefault(target, []).append(member_id)
    for status, group in by_status.items():
        Member.objects.filter(pk__any=group).exclude(status=status).update(status=status)


def _save(membership: Membership, kind: str, before: str, actor: Any = None, **detail: Any) -> None:
    membership.save()
    _event(membership, kind, before=before, actor=actor, **detail)
    members_sync_status([membership.member_id])


def _bill_now(membership: Membership, reason: str, specs: list[LineSpec]) -> Invoice:
    """An invoice for the payer now (outside the billing cycle, without account credit),
    charged to their card once the transaction commits."""
    invoice = invoice_create(
        member=membership.payer,
        currency=membership.currency,
        reason=reason,
        specs=specs,
        membership_id=membership.pk,
        apply_account=False,
    )
    _charge_after_commit(invoice)
    return invoice


def _charge_after_commit(invoice: Invoice, method: PaymentMethod | None = None) -> None:
    """Charge ``invoice`` (on ``method``, else the payer's default card) once the
    transaction commits.  What the charge refuses (no card on file for a first invoice,
    nothing left due, a charge already in flight) leaves the invoice open: the desk or
    the member pays it."""
    if invoice.status != InvoiceStatus.OPEN:
        return

    def charge() -> None:
        from .payments import invoice_charge

        try:
            invoice_charge(invoice, trigger=AttemptTrigger.CUSTOMER, method=method)
        except PaymentNotAllowed as exc:
            logger.info("Invoice %s not charged now: %s", invoice.pk, exc.reason)

    transaction.on_commit(charge)


def _coupon_for(code: str, currency: str) -> Coupon:
    coupon = Coupon.objects.filter(code=code, is_active=True).first()
    today = clock.today()
    if coupon is None:
        raise CouponNotValid(reason="unknown_coupon")
    if coupon.valid_until and coupon.valid_until < today:
        raise CouponNotValid(reason="coupon_expired")
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        raise CouponNotValid(reason="coupon_used_up")
    if coupon.amount_off is not None and coupon.currency != currency:
        raise CouponNotValid(reason="coupon_currency")
    return coupon


def _attach_coupon(membership: Membership, coupon: Coupon) -> None:
    membership.coupon = coupon
    membership.coupon_periods_left = {
        CouponDuration.ONCE: 1,
        CouponDuration.REPEATING: coupon.duration_periods,
        CouponDuration.FOREVER: None,
    }[CouponDuration(coupon.duration)]
    Coupon.objects.filter(pk=coupon.pk).update(times_redeemed=F("times_redeemed") + 1)


# --- Sign-up --------------------------------------------------------------------------


@transaction.atomic
def membership_sign_up(
    member: Member,
    plan: Plan,
    *,
    start_on: dt.date | None = None,
    anchor_day: int | None = None,
    coupon_code: str = "",
    payment_method: PaymentMethod | None = None,
    addons: Iterable[tuple[Any, int]] = (),
    actor: Any = None,
    charge: bool = True,
) -> Membership:
    """Start a membership: a trial, or a first period (prorated to the anchor day if it
    differs from the start), plus the joining fee.  The first invoice is charged at once.

    The membership is ``pending`` until that invoice is paid (``active`` when it is free).
    """
    today = clock.today()
    start = start_on or today
    if start < today:
        raise TransitionNotAllowed(reason="start_in_past")
    with inputs.for_field("start_on"):
        inputs.check_date(start)
    if not plan.is_active:
        raise TransitionNotAllowed(reason="plan_not_on_sale")
    if Membership.objects.filter(member=member, status__in=LIVE_STATUSES).exists():
        raise TransitionNotAllowed(reason="already_has_membership")
    if payment_method is not None and payment_method.member_id not in (member.pk, member.payer.pk):
        raise TransitionNotAllowed(reason="payment_method_not_the_payers")
    anchor = anchor_day or start.day
    if not 1 <= anchor <= 31:
        raise TransitionNotAllowed(reason="invalid_anchor_day")
    membership = Membership(
        member=member,
        payer=member.payer,
        plan=plan,
        currency=plan.currency,
        anchor_day=anchor,
        started_on=start,
        payment_method=payment_method,
        status=S.PENDING,
    )
    if coupon_code:
        _attach_coupon(membership, _coupon_for(coupon_code, plan.currency))

    specs: list[LineSpec] = []
    if plan.joining_fee:
        specs.append(
            LineSpec(
                LineKind.JOINING_FEE,
                "Joining fee",
                plan.joining_fee,
                plan.tax_rate_bp,
                plan.prices_include_tax,
            )
        )
    if plan.kind == PlanKind.PREPAID:
        end = advance(start, plan.interval, plan.interval_count, anchor)
        membership.current_period_start, membership.current_period_end = start, end
        membership.cancel_at = end
        membership.next_billing_date = None
        specs.insert(0, plan_line(plan, (start, end)))
    elif plan.trial_days:
        end = start + dt.timedelta(days=plan.trial_days)
        membership.trial_ends_on = end
        membership.current_period_start, membership.current_period_end = start, end
        membership.next_billing_date = end
        membership.status = S.TRIALING
    else:
        full_end = advance(start, plan.interval, plan.interval_count, anchor)
        if anchor != start.day and plan.interval != "week":
            # Align to the anchor: a prorated stub period up to the next anchor date.
            end = _next_anchor_date(start, anchor)
            full_start = advance(end, plan.interval, plan.interval_count, anchor)
            full_days = days_between(end, full_start)
            stub = prorate(plan.price, days_between(start, end), full_days)
            specs.insert(0, plan_line(plan, (start, end), amount=stub))
        else:
            end = full_end
            specs.insert(0, plan_line(plan, (start, end)))
        membership.current_period_start, membership.current_period_end = start, end
        membership.next_billing_date = end
    if plan.minimum_term_periods:
        membership.minimum_term_ends_on = advance(
            start, plan.interval, plan.interval_count * plan.minimum_term_periods, anchor
        )
    membership.save()
    addon_items = [
        MembershipAddOn(membership=membership, addon=addon, quantity=qty, started_on=start)
        for addon, qty in addons
    ]
    MembershipAddOn.objects.bulk_create(addon_items)
    if membership.status == S.PENDING:
        for item in addon_items:
            specs.append(
                LineSpec(
                    LineKind.ADDON,
                    item.addon.name,
                    item.addon.price,
                    item.addon.tax_rate_bp,
                    plan.prices_include_tax,
                    quantity=item.quantity,
                    addon_id=item.addon_id,
                )
            )
        if membership.coupon and specs and specs[0].kind == LineKind.PLAN:
            discount = discount_line(membership.coupon, plan, specs[0].unit_amount)
            if discount:
                specs.append(discount)
                if membership.coupon_periods_left:
                    membership.coupon_periods_left -= 1
                    membership.save(update_fields=["coupon_periods_left"])
    invoice = None
    if specs:
        invoice = invoice_create(
            member=membership.payer,
            currency=plan.currency,
            reason=BillingReason.SIGNUP,
            specs=specs,
            membership_id=membership.pk,
            period=(membership.current_period_start, membership.current_period_end)
            if membership.status == S.PENDING
            else None,
        )
    if membership.status == S.PENDING and (invoice is None or invoice.status == InvoiceStatus.PAID):
        membership.status = S.ACTIVE
        membership.save(update_fields=["status"])
    _event(membership, "signed_up", before=S.PENDING, actor=actor, plan=plan.code)
    members_sync_status([member.pk])
    if invoice is not None and charge:
        _charge_after_commit(invoice, payment_method)
    return membership


def _next_anchor_date(start: dt.date, anchor: int) -> dt.date:
    from ..periods import add_months

    candidate = add_months(start, 0, anchor)
    return candidate if candidate > start else add_months(start, 1, anchor)


# --- Plan changes ---------------------------------------------------------------------


@transaction.atomic
def membership_upgrade(
    membership: Membership, new_plan: Plan, *, actor: Any = None
) -> Invoice | None:
    """Switch to a dearer plan now: credit the unused time, charge the rest of the period."""
    membership = _lock(membership)
    require(membership, "upgrade")
    old = membership.plan
    if new_plan.price < old.price:
        raise TransitionNotAllowed(reason="not_an_upgrade")
    terms = plan_change_terms(membership, new_plan, today=clock.today())
    if membership.status == S.TRIALING:
        membership.plan = new_plan
        _save(membership, "upgraded", membership.status, actor, to=new_plan.code)
        return None  # nothing billed during a trial
    specs = terms.lines
    invoice = _bill_now(membership, BillingReason.PRORATION, specs)
    before = membership.status
    membership.plan, membership.pending_plan = new_plan, None
    _save(membership, "upgraded", before, actor, **{"from": old.code, "to": new_plan.code})
    return invoice


@transaction.atomic
def membership_downgrade(
    membership: Membership, new_plan: Plan, *, actor: Any = None
) -> Membership:
    """Switch to a cheaper plan from the next period; nothing changes until then."""
    membership = _lock(membership)
    require(membership, "downgrade")
    if new_plan.price >= membership.plan.price:
        raise TransitionNotAllowed(reason="not_a_downgrade")
    plan_change_terms(membership, new_plan, today=clock.today())
    membership.pending_plan = new_plan
    _save(membership, "downgrade_scheduled", membership.status, actor, to=new_plan.code)
    return membership


# --- Add-ons --------------------------------------------------------------------------

ADDON_MAX_QUANTITY = 20


@transaction.atomic
def membership_add_addon(
    membership: Membership, addon: AddOn, *, quantity: int = 1, actor: Any = None
) -> Invoice | None:
    """Add ``addon`` from today; it renews with every period after this one.

    The rest of the current period is charged now, prorated by day, on its own invoice
    (nothing during a trial: the first full period bills it).  Returns that invoice.
    Adding an add-on whose removal is scheduled keeps it instead (nothing is charged).
    """
    membership = _lock(membership)
    require(membership, "change_addons")
    if membership.plan.kind != PlanKind.RECURRING:
        raise TransitionNotAllowed(reason="addon_on_prepaid_plan")
    if not addon.is_active:
        raise TransitionNotAllowed(reason="addon_not_on_sale")
    if addon.currency != membership.currency:
        raise TransitionNotAllowed(reason="currency_mismatch")
    if not 1 <= quantity <= ADDON_MAX_QUANTITY:
        message = _("Choose a quantity from 1 to %(most)d.") % {"most": ADDON_MAX_QUANTITY}
        raise InvalidInput({"quantity": [message]})
    today = clock.today()
    held = _live_addons(membership, today).filter(addon=addon).first()
    if held is not None and held.ended_on is not None:
        # Its removal was scheduled: keep it instead, with nothing more to pay.
        held.ended_on = None
        held.save(update_fields=["ended_on"])
        _save(membership, "addon_kept", membership.status, actor, addon=addon.code)
        return None
    if held is not None:
        raise TransitionNotAllowed(reason="addon_already_added")
    MembershipAddOn.objects.create(
        membership=membership, addon=addon, quantity=quantity, started_on=today
    )
    _save(membership, "addon_added", membership.status, actor, addon=addon.code, quantity=quantity)
    start, end = membership.current_period_start, membership.current_period_end
    if membership.status == S.TRIALING or start is None or end is None or today >= end:
        return None
    amount = prorate(addon.price * quantity, days_between(today, end), days_between(start, end))
    if amount <= 0:
        return None
    line = LineSpec(
        LineKind.ADDON,
        _("%(addon)s for the rest of the period") % {"addon": addon.name},
        amount,
        addon.tax_rate_bp,
        membership.plan.prices_include_tax,
        period_start=today,
        period_end=end,
        addon_id=addon.pk,
    )
    return _bill_now(membership, BillingReason.PRORATION, [line])


@transaction.atomic
def membership_remove_addon(
    membership: Membership, addon: AddOn, *, actor: Any = None
) -> MembershipAddOn:
    """Stop ``addon`` at the end of the period already paid for (no refund); during a
    trial, which bills nothing, at once."""
    membership = _lock(membership)
    require(membership, "change_addons")
    today = clock.today()
    item = _live_addons(membership, today).filter(addon=addon).first()
    if item is None:
        raise TransitionNotAllowed(reason="addon_not_on_membership")
    if item.ended_on is not None:
        raise TransitionNotAllowed(reason="addon_removal_scheduled")
    end = membership.current_period_end
    trial = membership.status == S.TRIALING
    item.ended_on = today if trial or end is None else max(end, today)
    item.save(update_fields=["ended_on"])
    _save(membership, "addon_removed", membership.status, actor, addon=addon.code, on=item.ended_on)
    return item


def _live_addons(membership: Membership, today: dt.date) -> Any:
    """The add-ons billed now or from the next period: not ended, or ending later."""
    return membership.addons.filter(started_on__lte=today).exclude(ended_on__lte=today)


# --- Freeze ---------------------------------------------------------------------------


@transaction.atomic
def membership_freeze(
    membership: Membership,
    *,
    starts_on: dt.date,
    ends_on: dt.date,
    reason: str = "",
    actor: Any = None,
) -> MembershipFreeze:
    """Pause billing and access; the term and the next billing date move by the freeze's length."""
    with inputs.for_field("starts_on"):
        inputs.check_date(starts_on)
    with inputs.for_field("ends_on"):
        inputs.check_date(ends_on, days_ahead=settings.INPUT_MAX_DAYS_AHEAD * 2)
    membership = _lock(membership)
    require(membership, "freeze")
    today = clock.today()
    year_ago = today - dt.timedelta(days=365)
    terms = freeze_terms(
        membership,
        starts_on=starts_on,
        ends_on=ends_on,
        today=today,
        used_this_year=membership.freezes.filter(starts_on__gt=year_ago).count(),
    )
    freeze = MembershipFreeze.objects.create(
        membership=membership, starts_on=starts_on, ends_on=ends_on, reason=reason[:200]
    )
    shift = dt.timedelta(days=terms.days)
    membership.frozen_from, membership.frozen_until = starts_on, ends_on
    if membership.next_billing_date:
        membership.next_billing_date += shift
    if membership.current_period_end:
        membership.current_period_end += shift
    if membership.minimum_term_ends_on:
        membership.minimum_term_ends_on += shift
    before = membership.status
    if starts_on == today:
        membership.status = S.FROZEN
    _save(membership, "frozen", before, actor, starts_on=starts_on, ends_on=ends_on)
    if terms.fee is not None:
        _bill_now(membership, BillingReason.FEE, [terms.fee])
    return freeze


@transaction.atomic
def membership_unfreeze(membership: Membership, *, actor: Any = None) -> Membership:
    """End a freeze early; the unused days come back off the billing date."""
    membership = _lock(membership)
    require(membership, "unfreeze")
    today = clock.today()
    assert membership.frozen_until is not None
    unused = dt.timedelta(days=max(days_between(today, membership.frozen_until), 0))
    if membership.next_billing_date:
        membership.next_billing_date -= unused
    if membership.current_period_end:
        membership.current_period_end -= unused
    if membership.minimum_term_ends_on:
        membership.minimum_term_ends_on -= unused
    membership.freezes.filter(ends_on=membership.frozen_until).update(ended_early_on=today)
    membership.frozen_from = membership.frozen_until = None
    before = membership.status
    membership.status = S.ACTIVE
    _save(membership, "unfrozen", before, actor, days_returned=unused.days)
    return membership


def memberships_apply_scheduled(today: dt.date) -> dict[str, int]:
    """The daily turn of the calendar: freezes start and end; terms and cancellations end."""
    counts = {"frozen": 0, "unfrozen": 0, "ended": 0, "cancelled": 0}
    for membership in Membership.objects.filter(
        status=S.ACTIVE, frozen_from__lte=today, frozen_until__gt=today
    ):
        with transaction.atomic():
            locked = _lock(membership)
            if locked.status == S.ACTIVE:
                locked.status = S.FROZEN
                _save(locked, "freeze_started", S.ACTIVE)
                counts["frozen"] += 1
    for membership in Membership.objects.filter(status=S.FROZEN, frozen_until__lte=today):
        with transaction.atomic():
            locked = _lock(membership)
            if locked.status == S.FROZEN:
                locked.status = S.ACTIVE
                locked.frozen_from = locked.frozen_until = None
                _save(locked, "freeze_ended", S.FROZEN)
                counts["unfrozen"] += 1
    due_to_end = Membership.objects.filter(
        status__in=LIVE_STATUSES, cancel_at__lte=today, next_billing_date__isnull=True
    )
    for membership in due_to_end:
        with transaction.atomic():
            locked = _lock(membership)
            before = locked.status
            locked.status = S.ENDED if locked.plan.kind == PlanKind.PREPAID else S.CANCELLED
            locked.ended_on = locked.cancel_at
            _save(locked, "term_ended", before)
            counts["ended" if locked.status == S.ENDED else "cancelled"] += 1
    return counts


# --- Cancel and reactivate ------------------------------------------------------------


@transaction.atomic
def membership_cancel(
    membership: Membership,
    *,
    at_period_end: bool = True,
    reason: str = "",
    waive_fees: bool = False,
    actor: Any = None,
    channel: str = "desk",
) -> Membership:
    """Cancel, honouring the minimum term and the notice period.

    At period end: billing continues to the first period end that is both after the notice
    period and at or after the minimum term.  Now: access ends today; inside the minimum
    term the early-termination fee is charged.  The cancellation fee applies either way
    unless staff waive the fees (``billing.services.terms.cancel_terms``, which the
    portal shows before the member confirms).

    ``reason`` feeds the voluntary-churn reports: it is kept on the membership and in
    the history entry, with the ``channel`` it came through ("desk", "portal", "api").
    """
    membership = _lock(membership)
    before = membership.status
    terms = cancel_terms(
        membership, at_period_end=at_period_end, waive_fees=waive_fees, today=clock.today()
    )
    membership.cancel_at = terms.ends_on
    if terms.now:
        membership.ended_on = terms.ends_on
        membership.next_billing_date = None
        membership.status = S.CANCELLED
    fees = terms.fees
    membership.cancelled_at = clock.now()
    membership.cancel_reason = reason[:200]
    _save(
        membership,
        "cancelled" if membership.status == S.CANCELLED else "cancel_scheduled",
        before,
        actor,
        cancel_at=membership.cancel_at,
        waived=waive_fees,
        reason=membership.cancel_reason,
        channel=channel,
    )
    if fees:
        _bill_now(membership, BillingReason.FEE, fees)
    return membership


@transaction.atomic
def membership_reactivate(membership: Membership, *, actor: Any = None) -> Membership:
    """Undo a scheduled cancellation, or restart a cancelled membership with a new period."""
    membership = _lock(membership)
    before = membership.status
    if membership.plan.kind == PlanKind.PREPAID and membership.status in LIVE_STATUSES:
        raise TransitionNotAllowed(reason="prepaid_term_ends_as_sold")
    if membership.status in LIVE_STATUSES and membership.cancel_at:
        membership.cancel_at = None
        membership.cancelled_at = None
        _save(membership, "cancellation_withdrawn", before, actor)
        return membership
    require(membership, "reactivate")
    plan = membership.plan
    if not plan.is_active or plan.kind != PlanKind.RECURRING:
        raise TransitionNotAllowed(reason="plan_not_on_sale")
    if Membership.objects.filter(member=membership.member, status__in=LIVE_STATUSES).exists():
        raise TransitionNotAllowed(reason="already_has_membership")
    if Invoice.objects.filter(membership=membership, status=InvoiceStatus.OPEN).exists():
        raise TransitionNotAllowed(reason="unpaid_invoices")
    today = clock.today()
    end = advance(today, plan.interval, plan.interval_count, today.day)
    membership.anchor_day = today.day
    membership.current_period_start, membership.current_period_end = today, end
    membership.next_billing_date = end
    membership.cancel_at = membership.ended_on = membership.cancelled_at = None
    membership.status = S.PENDING
    invoice = invoice_create(
        member=membership.payer,
        currency=membership.currency,
        reason=BillingReason.SIGNUP,
        specs=cycle_line_specs(
            membership, plan, membership.addons.filter(ended_on__isnull=True), (today, end)
        ),
        membership_id=membership.pk,
        period=(today, end),
    )
    if invoice.status == InvoiceStatus.PAID:
        membership.status = S.ACTIVE
    _save(membership, "reactivated", before, actor)
    _charge_after_commit(invoice)
    return membership


# --- Gifts and coupons ----------------------------------------------------------------


@transaction.atomic
def membership_grant_free_time(
    membership: Membership, *, days: int, reason: str, actor: Any = None
) -> Membership:
    """Staff-granted free days: the next charge moves later by ``days``."""
    if not 1 <= days <= 366:
        raise TransitionNotAllowed(reason="free_days_out_of_range")
    if not reason.strip():
        raise TransitionNotAllowed(reason="reason_required")
    membership = _lock(membership)
    require(membership, "grant_free_time")
    shift = dt.timedelta(days=days)
    if membership.next_billing_date:
        membership.next_billing_date += shift
    if membership.current_period_end:
        membership.current_period_end += shift
    if membership.cancel_at:
        membership.cancel_at += shift
    _save(membership, "free_time_granted", membership.status, actor, days=days, reason=reason)
    return membership


@transaction.atomic
def membership_apply_coupon(membership: Membership, *, code: str, actor: Any = None) -> Membership:
    membership = _lock(membership)
    require(membership, "apply_coupon")
    if membership.coupon_id:
        raise CouponNotValid(reason="coupon_already_applied")
    _attach_coupon(membership, _coupon_for(code, membership.currency))
    _save(membership, "coupon_applied", membership.status, actor, code=code)
    return membership


@transaction.atomic
def membership_set_payment_method(
    membership: Membership, method: PaymentMethod | None, *, actor: Any = None
) -> Membership:
    """Charge this membership on ``method`` (``None``: the payer's default card)."""
    membership = _lock(membership)
    if method is not None and method.member_id != membership.payer_id:
        raise TransitionNotAllowed(reason="payment_method_not_the_payers")
    membership.payment_method = method
    _save(
        membership,
        "payment_method_changed",
        membership.status,
        actor,
        method=method.pk if method else "default",
    )
    return membership


# --- Payment outcomes and dunning's levers --------------------------------------------


def membership_payment_failed(membership_id: int, attempt: PaymentAttempt) -> None:
    """A charge for this membership failed: it becomes past due (dunning takes it from here)."""
    memberships_mark_past_due({membership_id: attempt})


def memberships_mark_past_due(failures: Mapping[int, PaymentAttempt]) -> None:
    """Failed charges (``{membership id: attempt}``): each membership becomes past due,
    in a fixed number of queries.  One already past due, or in a status that cannot
    become so, is left as it is."""
    allowed = [s for s in ALLOWED_FROM["mark_past_due"] if s != S.PAST_DUE]
    if not failures or not Membership.objects.filter(pk__any=failures, status__in=allowed).exists():
        return
    with transaction.atomic():
        memberships = list(
            Membership.objects.select_for_update()
            .filter(pk__any=list(failures), status__in=allowed)
            .order_by("pk")
        )
        today, now = clock.today(), clock.now()
        events = []
        for membership in memberships:
            attempt = failures[membership.pk]
            events.append(
                MembershipEvent(
                    membership=membership,
                    kind="past_due",
                    from_status=membership.status,
                    to_status=S.PAST_DUE,
                    detail={"attempt": attempt.idempotency_key, "decline": attempt.decline_code},
                )
            )
            membership.status, membership.past_due_since = S.PAST_DUE, today
            membership.updated_at = now
        bulk_update_rows(memberships, ["status", "past_due_since", "updated_at"])
        bulk_insert_rows(events)
        membership_events_audit(events)
        members_sync_status({membership.member_id for membership in memberships})


# What restoring, suspending, restricting or cancelling for non-payment writes.
LEVER_FIELDS = [
    "status",
    "past_due_since",
    "access_warning",
    "bookings_blocked",
    "account_charges_blocked",
    "cancel_at",
    "ended_on",
    "next_billing_date",
    "cancelled_at",
    "cancel_reason",
    "updated_at",
]
SETTLEABLE = (S.PENDING, S.PAST_DUE, S.SUSPENDED)


def _restore(membership: Membership, today: dt.date) -> MembershipEvent:
    before = membership.status
    in_trial = membership.trial_ends_on and today < membership.trial_ends_on
    membership.status = S.TRIALING if in_trial else S.ACTIVE
    membership.past_due_since = None
    membership.access_warning = membership.bookings_blocked = False
    membership.account_charges_blocked = False
    return _event_build(
        membership, "reinstated" if before != S.PENDING else "activated", before=before
    )


def memberships_settle(membership_ids: Iterable[int]) -> None:
    """Invoices were paid: memberships with nothing left overdue are restored at once.

    Set-based: one locked read, one write, the audit events and the members' status, for
    any number of memberships.
    """
    ids = set(membership_ids)
    if not ids:
        return
    today, now = clock.today(), clock.now()
    overdue = Invoice.objects.filter(
        membership=OuterRef("pk"), status=InvoiceStatus.OPEN, due_on__lte=today
    )
    with transaction.atomic():
        locked = list(
            Membership.objects.select_for_update(of=("self",))
            .filter(pk__any=sorted(ids), status__in=SETTLEABLE)
            .exclude(Exists(overdue))
            .order_by("pk")
        )
        if not locked:
            return
        events = [_restore(membership, today) for membership in locked]
        for membership in locked:
            membership.updated_at = now
        bulk_update_rows(locked, LEVER_FIELDS)
        bulk_insert_rows(events)
        membership_events_audit(events)
        members_sync_status({membership.member_id for membership in locked})


def membership_payment_settled(membership_id: int) -> None:
    memberships_settle([membership_id])


def _suspend(membership: Membership, reason: str) -> MembershipEvent:
    require(membership, "suspend")
    membership.status = S.SUSPENDED
    return _event_build(membership, "suspended", before=S.PAST_DUE, reason=reason)


def _restrict(membership: Membership, levers: dict[str, bool | None]) -> MembershipEvent | None:
    changes = {
        key: value
        for key, value in levers.items()
        if value is not None and getattr(membership, key) != value
    }
    if not changes:
        return None
    for key, value in changes.items():
        setattr(membership, key, value)
    return _event_build(membership, "restrictions_changed", before=membership.status, **changes)


def _cancel_for_nonpayment(membership: Membership) -> MembershipEvent:
    require(membership, "cancel_for_nonpayment")
    before = membership.status
    membership.status = S.CANCELLED
    membership.cancel_at = membership.ended_on = clock.today()
    membership.next_billing_date = None
    membership.cancelled_at = clock.now()
    membership.cancel_reason = "non-payment"
    return _event_build(membership, "cancelled_for_nonpayment", before=before)


def _save_lever(membership: Membership, event: MembershipEvent | None) -> Membership:
    if event is not None:
        membership.save()
        membership_events_save([event])
        members_sync_status([membership.member_id])
    return membership


@transaction.atomic
def membership_suspend(membership: Membership, *, reason: str = "payment_overdue") -> Membership:
    membership = _lock(membership)
    return _save_lever(membership, _suspend(membership, reason))


@transaction.atomic
def membership_set_restrictions(
    membership: Membership,
    *,
    access_warning: bool | None = None,
    bookings_blocked: bool | None = None,
    account_charges_blocked: bool | None = None,
) -> Membership:
    """Dunning's softer levers: warn at the gate, block bookings, block account charges."""
    membership = _lock(membership)
    levers = {
        "access_warning": access_warning,
        "bookings_blocked": bookings_blocked,
        "account_charges_blocked": account_charges_blocked,
    }
    return _save_lever(membership, _restrict(membership, levers))


@transaction.atomic
def membership_cancel_for_nonpayment(membership: Membership) -> Membership:
    membership = _lock(membership)
    return _save_lever(membership, _cancel_for_nonpayment(membership))
