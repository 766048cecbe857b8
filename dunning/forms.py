"""The hosted page's form: pay with the card on file, or with a new card's token."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.gateways.redaction import looks_like_card_number

PAY_SAVED = "pay_saved"
PAY_NEW = "pay_new"
PAY_PROMPTPAY = "pay_promptpay"  # show a PromptPay QR for what is owed
# The member is back from the bank's confirmation of a charge (3-D Secure).
AUTHENTICATED = "authenticated"
APPROVE, REFUSE = "approve", "refuse"  # the answer on the sandbox bank's page


class PayForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            (PAY_SAVED, PAY_SAVED),
            (PAY_NEW, PAY_NEW),
            (PAY_PROMPTPAY, PAY_PROMPTPAY),
            (AUTHENTICATED, AUTHENTICATED),
        ]
    )
    card_token = forms.CharField(max_length=120, required=False, strip=True)
    attempt = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    answer = forms.ChoiceField(choices=[(APPROVE, APPROVE), (REFUSE, REFUSE)], required=False)

    def clean_card_token(self) -> str:
        token = str(self.cleaned_data.get("card_token") or "")
        if looks_like_card_number(token):
            # Never kept, never shown back: the template renders the field empty.
            raise forms.ValidationError(
                _("Never type a card number here. Use the secure card form."),
                code="card_number_refused",
            )
        return token

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # One error for the card box: a refused card number already says what to do.
        if (
            data.get("action") == PAY_NEW
            and not data.get("card_token")
            and not self.has_error("card_token")
        ):
            self.add_error("card_token", _("Enter the new card first."))
        if data.get("action") == AUTHENTICATED and not data.get("attempt"):
            self.add_error("attempt", _("Which payment was confirmed?"))
        return data
