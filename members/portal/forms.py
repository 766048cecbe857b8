"""The portal's own forms: the member's profile and their privacy requests."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import Member, PrivacyRequestKind
from ..services import PORTAL_PROFILE_FIELDS


class ProfileForm(forms.ModelForm):
    """What a member changes about themselves (``PORTAL_PROFILE_FIELDS`` and marketing)."""

    class Meta:
        model = Member
        fields = [*PORTAL_PROFILE_FIELDS, "marketing_email", "marketing_sms"]
        widgets = {
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "emergency_contact_phone": forms.TextInput(attrs={"type": "tel"}),
            "address_line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "address_line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "province": forms.TextInput(attrs={"autocomplete": "address-level1"}),
            "postal_code": forms.TextInput(
                attrs={"autocomplete": "postal-code", "inputmode": "numeric"}
            ),
            "tax_id": forms.TextInput(attrs={"inputmode": "numeric"}),
            "tax_address": forms.Textarea(attrs={"rows": 3}),
        }

    CONTACT = (
        "nickname",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "province",
        "postal_code",
    )
    EMERGENCY = (
        "emergency_contact_name",
        "emergency_contact_phone",
        "emergency_contact_relationship",
    )
    MESSAGES = (
        "language",
        "transactional_email",
        "transactional_sms",
        "marketing_email",
        "marketing_sms",
    )
    TAX = ("tax_name", "tax_address", "tax_id", "tax_branch")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A tax ID is often written with dashes (0-1055-51234-56-7): accepted, kept as digits.
        tax_id = self.fields["tax_id"]
        tax_id.max_length = 20  # type: ignore[attr-defined]
        tax_id.validators = []
        tax_id.widget.attrs["maxlength"] = "20"

    def clean_tax_id(self) -> str:
        return "".join(ch for ch in self.cleaned_data.get("tax_id") or "" if ch.isdigit())

    def groups(self) -> list[tuple[str, list[Any]]]:
        """The form's fields in the page's sections."""
        return [
            (str(_("Contact details")), [self[name] for name in self.CONTACT]),
            (str(_("Emergency contact")), [self[name] for name in self.EMERGENCY]),
            (str(_("Language and messages")), [self[name] for name in self.MESSAGES]),
            (str(_("Tax invoice details")), [self[name] for name in self.TAX]),
        ]


class PrivacyRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=PrivacyRequestKind.choices, widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Anything we should know (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
