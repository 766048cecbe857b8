"""Billing's domain errors.  ``reason`` is a stable code the API and admin show."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class TransitionNotAllowed(DomainError):
    code = "transition_not_allowed"
    default_message: ClassVar[Any] = _("This membership cannot do that in its current state.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "already_has_membership": _(
            "This member already has a live membership: change or cancel it instead."
        ),
        "plan_not_on_sale": _("This plan is not on sale."),
        "start_in_past": _("The start cannot be in the past."),
        "payment_method_not_the_payers": _("This card is not the payer's."),
        "same_plan": _("This is already the plan."),
        "currency_mismatch": _("This plan is priced in another currency."),
        "prepaid_plan_change": _("A prepaid plan cannot be changed; it ends as sold."),
        "different_billing_interval": _(
            "This plan is billed at a different interval: ask the front desk to change it."
        ),
    }


class FreezeNotAllowed(DomainError):
    code = "freeze_not_allowed"
    default_message: ClassVar[Any] = _("This membership cannot be frozen now.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "plan_has_no_freezes": _("This plan cannot be frozen."),
        "starts_in_past": _("A freeze cannot start in the past."),
        "too_short": _("A freeze lasts at least %(minimum_days)s days."),
        "too_long": _("A freeze lasts at most %(maximum_days)s days."),
        "yearly_limit_reached": _("This plan allows %(limit)s freezes a year; none are left."),
        "cancellation_pending": _("The membership is ending: it cannot be frozen."),
    }


class CancellationNotAllowed(DomainError):
    code = "cancellation_not_allowed"
    default_message: ClassVar[Any] = _("This membership cannot be cancelled that way.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "already_scheduled": _("The membership is already set to end."),
    }


class InvoiceImmutable(DomainError):
    code = "invoice_immutable"
    default_message: ClassVar[Any] = _(
        "An issued invoice cannot be changed; issue a credit note instead."
    )


class PaymentNotAllowed(DomainError):
    code = "payment_not_allowed"
    default_message: ClassVar[Any] = _("This payment cannot be taken.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "no_payment_method": _(
            "There is no card on file: take the payment at the desk, or add a card first."
        ),
        "nothing_due": _("Nothing is due on this invoice any more."),
        "card_payment_in_progress": _(
            "A card payment of %(amount)s is in progress, started %(seconds)s s ago. "
            "Wait for its outcome before taking money another way."
        ),
        "attempt_in_flight": _(
            "A card charge for this invoice is still in progress; wait for its outcome."
        ),
        "already_paid": _("This invoice is already paid."),
        "amount_not_positive": _("Enter an amount above zero."),
        "method_detached": _("This card was removed."),
        "card_number_refused": _("Never enter a card number; use the card form."),
        "token_belongs_to_another_member": _("This card is stored for another member."),
        "route_not_available": _("This way of paying cannot be used for this member now."),
        "amount_above_due": _("The amount is more than is owed on the chosen invoices."),
        "already_submitted": _(
            "This page was already sent; check the member's invoices before trying again."
        ),
        "no_invoice_chosen": _("Choose at least one invoice to pay."),
        "invoice_not_payable_here": _(
            "One of the chosen invoices is no longer open, or is not this member's."
        ),
        "mixed_currencies": _("Take invoices in different currencies one at a time."),
        "agreement_not_accepted": _("The member must accept the agreement to sign up."),
        "card_missing": _("Take the card in the card form first."),
    }


class RefundNotAllowed(DomainError):
    code = "refund_not_allowed"
    default_message: ClassVar[Any] = _("This refund cannot be made.")


class CouponNotValid(DomainError):
    code = "coupon_not_valid"
    status = 400
    default_message: ClassVar[Any] = _("This coupon cannot be used.")


class PromptPayNotAllowed(DomainError):
    """A PromptPay request that cannot be made, confirmed or cancelled; ``reason`` says why."""

    code = "promptpay_not_allowed"
    default_message: ClassVar[Any] = _("This PromptPay payment cannot be taken.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "promptpay_unavailable": _("PromptPay is not offered here."),
        "nothing_due": _("Nothing is owed on these invoices."),
        "invoice_not_payable": _("One of these invoices cannot be paid now."),
        "invoices_of_several_members": _("A PromptPay QR pays one member's invoices."),
        "currency_not_supported": _("PromptPay pays in Thai baht only."),
        "amount_invalid": _("Enter an amount from ฿0.01 to ฿9,999,999,999.99."),
        "amount_exceeds_request": _("The amount received is more than was asked for."),
        "member_or_reference_required": _("Say who pays: a member, or the asking app's reference."),
        "reference_invalid": _("Enter the bank's reference for the transfer (plain text)."),
        "attempt_in_flight": _("A card payment for these invoices is being processed."),
        "gateway_unavailable": _("The payment provider could not be reached. Please try again."),
        "idempotency_key_reused": _("This idempotency key was used for another request."),
        "already_paid": _("This PromptPay request is already paid."),
        "confirmed_by_gateway": _("The payment provider confirms this payment by itself."),
        "not_pending": _("This PromptPay request is no longer waiting for payment."),
    }
