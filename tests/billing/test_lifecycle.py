"""Every membership transition, and every refusal, with its domain error."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.errors import (
    CancellationNotAllowed,
    CouponNotValid,
    FreezeNotAllowed,
    TransitionNotAllowed,
)
from billing.models import (
    Coupon,
    Invoice,
    InvoiceStatus,
    LineKind,
    MembershipStatus,
)
from billing.services import memberships as ms
from members.models import MemberStatus
from tests.billing.factories import PlanFactory, card, signed_up
from tests.factories import MemberFactory

# Real commits: charges run after commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)
S = MembershipStatus
TODAY = dt.date(2027, 1, 31)


@pytest.fixture(autouse=True)
def _clock():
    # 03:00 UTC is 10:00 in Bangkok, the same local date.
    with time_machine.travel(dt.datetime(2027, 1, 31, 3, 0, tzinfo=dt.UTC), tick=False) as t:
        yield t


def invoices(membership):
    return list(Invoice.objects.filter(membership=membership).order_by("pk"))


# --- sign-up --------------------------------------------------------------------------


def test_sign_up_charges_first_period_and_joining_fee_and_activates():
    plan = PlanFactory(joining_fee=50_000)
    membership = signed_up(plan=plan)
    assert membership.status == S.ACTIVE
    assert (
        membership.member.__class__.objects.get(pk=membership.member_id).status
        == MemberStatus.ACTIVE
    )
    (invoice,) = invoices(membership)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.total == plan.price + 50_000
    assert {line.kind for line in invoice.lines.all()} == {LineKind.PLAN, LineKind.JOINING_FEE}
    assert (membership.current_period_start, membership.next_billing_date) == (
        TODAY,
        dt.date(2027, 2, 28),
    )


def test_sign_up_with_trial_bills_nothing_until_the_trial_ends():
    membership = signed_up(plan=PlanFactory(trial_days=14))
    assert membership.status == S.TRIALING
    assert membership.next_billing_date == TODAY + dt.timedelta(days=14)
    assert invoices(membership) == []


def test_sign_up_aligned_to_anchor_prorates_the_first_period():
    plan = PlanFactory(price=310_000)
    membership = signed_up(plan=plan, anchor_day=1)
    (invoice,) = invoices(membership)
    # 31 Jan → 1 Feb is one day of the 28-day period that follows.
    assert invoice.total == round(310_000 * 1 / 28)
    assert membership.next_billing_date == dt.date(2027, 2, 1)


def test_sign_up_with_a_declined_card_stays_pending():
    membership = signed_up(token="tok_decline_insufficient_funds")
    assert membership.status == S.PENDING
    (invoice,) = invoices(membership)
    assert invoice.status == InvoiceStatus.OPEN


def test_sign_up_refusals():
    member = MemberFactory()
    card(member)
    plan = PlanFactory()
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_sign_up(member, plan, start_on=TODAY - dt.timedelta(days=1))
    assert exc.value.reason == "start_in_past"
    ms.membership_sign_up(member, plan)
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_sign_up(member, plan)
    assert exc.value.reason == "already_has_membership"
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_sign_up(MemberFactory(), PlanFactory(is_active=False))
    assert exc.value.reason == "plan_not_on_sale"


def test_prepaid_plan_is_billed_once_and_ends():
    plan = PlanFactory(kind="prepaid", interval_count=3, price=399_000)
    membership = signed_up(plan=plan)
    assert membership.next_billing_date is None
    assert membership.cancel_at == dt.date(2027, 4, 30)
    ms.memberships_apply_scheduled(dt.date(2027, 4, 30))
    membership.refresh_from_db()
    assert membership.status == S.ENDED


# --- plan changes ---------------------------------------------------------------------


def test_upgrade_now_prorates(_clock):
    cheap, dear = PlanFactory(price=280_000), PlanFactory(price=560_000)
    membership = signed_up(plan=cheap)
    _clock.move_to(dt.datetime(2027, 2, 14, 3, 0, tzinfo=dt.UTC))  # 14 of 28 days left
    invoice = ms.membership_upgrade(membership, dear)
    invoice.refresh_from_db()
    amounts = sorted(line.amount for line in invoice.lines.all())
    assert amounts == [-140_000, 280_000]
    assert invoice.total == 140_000 and invoice.status == InvoiceStatus.PAID
    membership.refresh_from_db()
    assert membership.plan == dear


def test_downgrade_waits_for_the_period_end():
    dear, cheap = PlanFactory(price=560_000), PlanFactory(price=280_000)
    membership = signed_up(plan=dear)
    ms.membership_downgrade(membership, cheap)
    membership.refresh_from_db()
    assert (membership.plan, membership.pending_plan) == (dear, cheap)


def test_plan_change_refusals():
    plan = PlanFactory(price=300_000)
    membership = signed_up(plan=plan)
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_upgrade(membership, PlanFactory(price=100_000))
    assert exc.value.reason == "not_an_upgrade"
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_downgrade(membership, PlanFactory(price=900_000))
    assert exc.value.reason == "not_a_downgrade"
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_upgrade(membership, PlanFactory(price=900_000, interval="year"))
    assert exc.value.reason == "different_billing_interval"
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_upgrade(membership, plan)
    assert exc.value.reason == "same_plan"


# --- freeze ---------------------------------------------------------------------------


def freezable(**extra):
    return PlanFactory(freezes_per_year=1, freeze_min_days=7, freeze_max_days=60, **extra)


def test_freeze_pauses_billing_extends_term_and_charges_the_fee():
    membership = signed_up(plan=freezable(freeze_fee=20_000))
    before = membership.next_billing_date
    ms.membership_freeze(membership, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=14))
    membership.refresh_from_db()
    assert membership.status == S.FROZEN
    assert membership.next_billing_date == before + dt.timedelta(days=14)
    fee = Invoice.objects.get(membership=membership, billing_reason="fee")
    assert fee.total == 20_000 and fee.status == InvoiceStatus.PAID


def test_unfreeze_early_gives_back_unused_days(_clock):
    membership = signed_up(plan=freezable())
    before = membership.next_billing_date
    ms.membership_freeze(membership, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=20))
    _clock.move_to(dt.datetime(2027, 2, 5, 3, 0, tzinfo=dt.UTC))  # 5 days in
    ms.membership_unfreeze(membership)
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE
    assert membership.next_billing_date == before + dt.timedelta(days=5)


def test_scheduled_freeze_starts_and_ends_with_the_calendar():
    membership = signed_up(plan=freezable())
    start = TODAY + dt.timedelta(days=3)
    ms.membership_freeze(membership, starts_on=start, ends_on=start + dt.timedelta(days=7))
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE
    ms.memberships_apply_scheduled(start)
    membership.refresh_from_db()
    assert membership.status == S.FROZEN
    ms.memberships_apply_scheduled(start + dt.timedelta(days=7))
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE


@pytest.mark.parametrize(
    ("plan_kwargs", "offset", "length", "reason"),
    [
        ({"freezes_per_year": 0}, 0, 14, "plan_has_no_freezes"),
        ({}, -1, 14, "starts_in_past"),
        ({}, 0, 3, "too_short"),
        ({}, 0, 90, "too_long"),
    ],
)
def test_freeze_refusals(plan_kwargs, offset, length, reason):
    defaults = {"freezes_per_year": 1, "freeze_min_days": 7, "freeze_max_days": 60}
    membership = signed_up(plan=PlanFactory(**{**defaults, **plan_kwargs}))
    start = TODAY + dt.timedelta(days=offset)
    with pytest.raises(FreezeNotAllowed) as exc:
        ms.membership_freeze(membership, starts_on=start, ends_on=start + dt.timedelta(days=length))
    assert exc.value.reason == reason


def test_freeze_yearly_limit_and_unfreeze_refusal():
    membership = signed_up(plan=freezable())
    with pytest.raises(TransitionNotAllowed):
        ms.membership_unfreeze(membership)
    ms.membership_freeze(membership, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=7))
    ms.membership_unfreeze(membership)
    with pytest.raises(FreezeNotAllowed) as exc:
        ms.membership_freeze(membership, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=7))
    assert exc.value.reason == "yearly_limit_reached"


def test_frozen_membership_cannot_freeze_again():
    membership = signed_up(plan=freezable())
    ms.membership_freeze(membership, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=7))
    with pytest.raises(TransitionNotAllowed):
        ms.membership_freeze(membership, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=7))


# --- cancel and reactivate ------------------------------------------------------------


def test_cancel_at_period_end_honours_notice_and_minimum_term():
    plan = PlanFactory(minimum_term_periods=3, cancellation_notice_days=30)
    membership = signed_up(plan=plan)
    ms.membership_cancel(membership, at_period_end=True)
    membership.refresh_from_db()
    # Minimum term: 3 months from 31 Jan → 30 Apr; the first period end on or after it.
    assert membership.cancel_at == dt.date(2027, 4, 30)
    assert membership.status == S.ACTIVE


def test_cancel_at_period_end_with_notice_only():
    membership = signed_up(plan=PlanFactory(cancellation_notice_days=30))
    ms.membership_cancel(membership)
    membership.refresh_from_db()
    assert membership.cancel_at == dt.date(2027, 3, 31)  # 28 Feb is inside the notice


def test_cancel_now_inside_minimum_term_charges_early_termination_and_cancellation_fees():
    plan = PlanFactory(
        minimum_term_periods=6, early_termination_fee=300_000, cancellation_fee=50_000
    )
    membership = signed_up(plan=plan)
    ms.membership_cancel(membership, at_period_end=False, reason="moving away")
    membership.refresh_from_db()
    assert membership.status == S.CANCELLED
    assert membership.next_billing_date is None
    fee = Invoice.objects.get(membership=membership, billing_reason="fee")
    assert fee.total == 350_000


def test_cancel_with_fees_waived():
    plan = PlanFactory(
        minimum_term_periods=6, early_termination_fee=300_000, cancellation_fee=50_000
    )
    membership = signed_up(plan=plan)
    ms.membership_cancel(membership, at_period_end=False, waive_fees=True)
    assert not Invoice.objects.filter(membership=membership, billing_reason="fee").exists()


def test_cancel_refusals():
    membership = signed_up()
    ms.membership_cancel(membership)
    with pytest.raises(CancellationNotAllowed) as exc:
        ms.membership_cancel(membership)
    assert exc.value.reason == "already_scheduled"
    ms.membership_cancel(membership, at_period_end=False)
    with pytest.raises(TransitionNotAllowed):
        ms.membership_cancel(membership, at_period_end=False)


def test_reactivate_withdraws_a_scheduled_cancellation():
    membership = signed_up()
    ms.membership_cancel(membership)
    ms.membership_reactivate(membership)
    membership.refresh_from_db()
    assert membership.cancel_at is None and membership.status == S.ACTIVE


def test_reactivate_restarts_a_cancelled_membership_with_a_new_paid_period(_clock):
    membership = signed_up()
    ms.membership_cancel(membership, at_period_end=False)
    _clock.move_to(dt.datetime(2027, 3, 10, 3, 0, tzinfo=dt.UTC))
    ms.membership_reactivate(membership)
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE
    assert membership.next_billing_date == dt.date(2027, 4, 10)
    assert invoices(membership)[-1].status == InvoiceStatus.PAID


def test_reactivate_refusal_for_an_active_membership():
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_reactivate(signed_up())
    assert exc.value.reason == "reactivate_from_active"


# --- gifts, coupons, status levers ----------------------------------------------------


def test_free_time_moves_the_next_charge():
    membership = signed_up()
    before = membership.next_billing_date
    ms.membership_grant_free_time(membership, days=10, reason="Aircon broken all week")
    membership.refresh_from_db()
    assert membership.next_billing_date == before + dt.timedelta(days=10)


@pytest.mark.parametrize(("days", "reason"), [(0, "x"), (400, "x"), (5, " ")])
def test_free_time_refusals(days, reason):
    with pytest.raises(TransitionNotAllowed):
        ms.membership_grant_free_time(signed_up(), days=days, reason=reason)


def test_coupon_percent_repeating_applies_on_sign_up():
    Coupon.objects.create(
        code="HALF", name="Half", percent_off_bp=5000, duration="repeating", duration_periods=2
    )
    plan = PlanFactory(price=200_000)
    membership = signed_up(plan=plan, coupon_code="HALF")
    (invoice,) = invoices(membership)
    assert invoice.total == 100_000
    assert membership.coupon_periods_left == 1


def test_coupon_refusals():
    Coupon.objects.create(
        code="OLD",
        name="Old",
        amount_off=10_000,
        duration="once",
        valid_until=TODAY - dt.timedelta(days=1),
    )
    Coupon.objects.create(
        code="USD", name="USD", amount_off=10_000, currency="USD", duration="once"
    )
    membership = signed_up()
    for code, reason in [
        ("NOPE", "unknown_coupon"),
        ("OLD", "coupon_expired"),
        ("USD", "coupon_currency"),
    ]:
        with pytest.raises(CouponNotValid) as exc:
            ms.membership_apply_coupon(membership, code=code)
        assert exc.value.reason == reason


def past_due():
    """A member whose renewal charge failed."""
    from billing.services.run import billing_run

    membership = signed_up()
    membership.payment_method = card(membership.member, "tok_decline_insufficient_funds.x")
    membership.save()
    billing_run(membership.next_billing_date, fan_out=False)
    membership.refresh_from_db()
    assert membership.status == S.PAST_DUE
    return membership


def test_suspend_and_settle_restore_access():
    membership = past_due()
    ms.membership_suspend(membership)
    membership.refresh_from_db()
    assert membership.status == S.SUSPENDED
    from billing.services.invoices import payment_record_manual

    unpaid = Invoice.objects.get(membership=membership, status=InvoiceStatus.OPEN)
    payment_record_manual(unpaid, amount=unpaid.amount_due, source="cash")
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE
    with pytest.raises(TransitionNotAllowed):
        ms.membership_suspend(signed_up())


def test_cancel_for_nonpayment_only_from_past_due_or_suspended():
    with pytest.raises(TransitionNotAllowed):
        ms.membership_cancel_for_nonpayment(signed_up())
    membership = past_due()
    ms.membership_cancel_for_nonpayment(membership)
    membership.refresh_from_db()
    assert membership.status == S.CANCELLED


def test_sign_up_refuses_someone_elses_card():
    stranger_card = card(MemberFactory())
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_sign_up(MemberFactory(), PlanFactory(), payment_method=stranger_card)
    assert exc.value.reason == "payment_method_not_the_payers"


def test_prepaid_term_cannot_be_extended_by_reactivation():
    membership = signed_up(plan=PlanFactory(kind="prepaid", interval_count=3))
    with pytest.raises(TransitionNotAllowed) as exc:
        ms.membership_reactivate(membership)
    assert exc.value.reason == "prepaid_term_ends_as_sold"


def test_a_stored_token_is_never_moved_to_another_member():
    from billing.errors import PaymentNotAllowed
    from billing.services.payments import payment_method_attach

    owner, other = MemberFactory(), MemberFactory()
    payment_method_attach(owner, gateway="sandbox", token="tok_ok.shared")
    with pytest.raises(PaymentNotAllowed) as exc:
        payment_method_attach(other, gateway="sandbox", token="tok_ok.shared")
    assert exc.value.reason == "token_belongs_to_another_member"
    with pytest.raises(PaymentNotAllowed) as exc:
        payment_method_attach(other, gateway="sandbox", token="4242 4242 4242 4242")
    assert exc.value.reason == "card_number_refused"
