"""What a member is told after paying online (the hosted pay page and the portal)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..services.online_pay import PayOutcome

# Why a PromptPay QR could not be shown (billing's stable reasons).
PROMPTPAY_REFUSALS = frozenset({"promptpay_unavailable"})


def pay_outcome_text(outcome: PayOutcome) -> tuple[str, str]:
    """``(css class, sentence)`` for what happened when the member paid."""
    if outcome.result == "paid":
        return "success", _("Thank you! Your payment went through and your account is up to date.")
    if outcome.result == "contact_us":
        return "info", _(
            "This balance can no longer be paid online. Please pay at the front desk or call us."
        )
    if outcome.result == "nothing_due":
        return "success", _("Nothing is owed on this account. Thank you!")
    if outcome.result == "in_progress":
        return "info", _(
            "Your payment is being processed. Please check this page again in a few minutes."
        )
    if outcome.result == "authenticate":
        return "info", _(
            "Your bank asks you to confirm this payment. Nothing has been taken yet: "
            "confirm it below to finish paying."
        )
    if outcome.result in PROMPTPAY_REFUSALS:
        return "error", _(
            "PromptPay cannot be used for this payment just now. "
            "Please pay by card, or try again in a few minutes."
        )
    if outcome.result == "invalid_card":
        return "error", _("We could not use that card. Please check it and try again.")
    if outcome.result == "new_card_needed":
        return "error", _("The card we have on file can no longer be used. Please add a new card.")
    by_category: dict[str, str] = {
        "funds": _(
            "Your bank declined the payment because of the available balance. "
            "You can try another card, or pay at the front desk."
        ),
        "hard": _("This card cannot be used. Please use a different card."),
        "customer_action": _(
            "Your bank needs you to check the card details or approve the payment. "
            "Please try again or use another card."
        ),
    }
    fallback = _("Your bank declined the payment. Please try another card or contact your bank.")
    return "error", by_category.get(outcome.category, fallback)
