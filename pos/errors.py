"""The POS's domain errors.  ``reason`` is a stable code the API and the sell screen show."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class TillNotOpen(DomainError):
    code = "till_not_open"
    default_message: ClassVar[Any] = _("This till is not open.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "closed": _("This till is closed: nothing on it can change."),
        "already_open": _("This station already has a till in use."),
        "not_opening": _("This till is not waiting for its opening count."),
        "not_closing": _("Start closing the till before counting it."),
        "pending_sales": _("Some sales are still waiting for payment: finish or void them first."),
    }


class ManagerNeeded(DomainError):
    code = "manager_needed"
    status = 403
    default_message: ClassVar[Any] = _("A manager must do this.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "difference": _(
            "The count differs from the expected cash by more than allowed: a manager must "
            "close this till."
        ),
        "discount": _("A discount this large needs a manager."),
        "refund": _("Only a manager can refund a sale."),
        "stock_adjust": _("Only a manager can adjust or count stock."),
    }


class SaleRefused(DomainError):
    code = "sale_refused"
    default_message: ClassVar[Any] = _("This sale cannot be made.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "empty": _("Add at least one line."),
        "out_of_stock": _("Not enough %(product)s in stock."),
        "product_inactive": _("This product is not on sale."),
        "pack_inactive": _("This pack or pass is not on sale."),
        "member_required": _("Choose a member for this sale."),
        "reason_required": _("Give a reason."),
        "bad_quantity": _("Quantities are whole numbers from 1 to 999."),
        "bad_amount": _("Amounts must be above zero and below the limit."),
        "discount_too_large": _("A discount cannot be more than the line."),
        "tenders_short": _("The payments do not cover the total."),
        "tenders_over": _("Only cash can be more than the total (it gives change)."),
        "account_blocked": _(
            "Charges to this member's account are blocked while their payments are overdue: "
            "take another way of paying, or settle what is owed first."
        ),
        "no_card": _("This member has no card on file."),
        "terminal_reference_required": _("Type the card terminal's reference."),
        "promptpay_unavailable": _("PromptPay is not available."),
        "one_promptpay": _("Use at most one PromptPay QR per sale."),
        "idempotency_key_reused": _("This submission key was already used for another sale."),
        "idempotency_key_required": _("A submission key is required."),
        "nothing_owed": _("Nothing is owed."),
        "invoice_not_payable_here": _("These invoices cannot be paid here."),
        "mixed_currency": _("Everything in a sale must be in one currency."),
        "card_declined": _("The card was declined."),
        "bad_tender": _("Unknown way of paying."),
    }


class RefundRefused(DomainError):
    code = "refund_refused"
    default_message: ClassVar[Any] = _("This refund cannot be made.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "not_completed": _("Only a completed sale can be refunded."),
        "more_than_sold": _("You cannot refund more than was sold and not yet refunded."),
        "reason_required": _("Give a reason for the refund."),
        "no_member_for_credit": _("Account credit needs a member on the sale."),
        "nothing": _("Choose what to refund."),
        "not_refundable": _("Payments of what was owed are refunded from the invoice's payment."),
    }


class StockRefused(DomainError):
    code = "stock_refused"
    default_message: ClassVar[Any] = _("This stock change cannot be made.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "reason_required": _("Give a reason for the adjustment."),
        "bad_quantity": _("Enter a whole number of items within the limit."),
        "not_tracked": _("This product's stock is not tracked."),
        "negative": _("Stock cannot go below zero."),
    }
