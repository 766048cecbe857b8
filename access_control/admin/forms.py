"""The inputs the front desk's access screens collect.  Each feeds one service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Model
from django.utils.translation import gettext_lazy as _

from members.models import Member

from ..models import (
    CredentialFormat,
    CredentialKind,
    Device,
    Direction,
    Zone,
)


def member_autocomplete(field: forms.Field, source: type[Model], site: admin.AdminSite) -> None:
    """Search members as you type (the member list's search, card numbers included)."""
    assert isinstance(field, forms.ModelChoiceField)
    widget = AutocompleteSelect(source._meta.get_field("member"), site)
    widget.choices = field.choices
    field.widget = widget


class ConfirmForm(forms.Form):
    """No inputs: the page asks for a deliberate click (no state changes on GET)."""


class CheckInForm(forms.Form):
    member = forms.ModelChoiceField(label=_("Member"), queryset=Member.objects.all())
    zone = forms.ModelChoiceField(
        label=_("Zone"), queryset=Zone.objects.select_related("location"), empty_label=None
    )
    direction = forms.ChoiceField(
        label=_("Direction"), choices=Direction.choices, initial=Direction.IN
    )

    def __init__(self, *args: Any, source: type[Model], site: admin.AdminSite, **kwargs: Any):
        super().__init__(*args, **kwargs)
        member_autocomplete(self.fields["member"], source, site)


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        help_text=_("Why this member may go in, e.g. 'paid in cash, receipt 1234'.  Logged."),
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
    )


class _CredentialValueForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=CredentialKind.choices)
    value = forms.CharField(
        label=_("Card number or barcode"),
        max_length=128,
        required=False,
        help_text=_(
            "As the reader or the card shows it: 04:A1:B2:C3, 123:45678 or a barcode.  "
            "Leave empty for a QR pass (a new one is made)."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    input_format = forms.ChoiceField(
        label=_("Number format"),
        choices=CredentialFormat.choices,
        initial=CredentialFormat.AUTO,
        help_text=_("A number of digits only must say which form it is."),
    )
    label = forms.CharField(label=_("Label"), max_length=80, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") != CredentialKind.QR and not (data.get("value") or "").strip():
            self.add_error("value", _("Enter the card number or barcode."))
        return data


class IssueCredentialForm(_CredentialValueForm):
    member = forms.ModelChoiceField(label=_("Member"), queryset=Member.objects.all())

    field_order = ["member", "kind", "value", "input_format", "label"]

    def __init__(self, *args: Any, source: type[Model], site: admin.AdminSite, **kwargs: Any):
        super().__init__(*args, **kwargs)
        member_autocomplete(self.fields["member"], source, site)


class ReplaceCredentialForm(_CredentialValueForm):
    """The new card for a lost one; its kind and label default to the lost card's."""

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].initial = kind
        self.fields["label"].help_text = _("Empty: the lost card's label.")


class RevokeCredentialForm(forms.Form):
    why = forms.ChoiceField(
        label=_("Why"),
        choices=[("lost", _("Lost or stolen")), ("revoked", _("Revoked by staff"))],
        initial="lost",
        widget=forms.RadioSelect,
    )


class DeviceCreateForm(forms.ModelForm):
    """A new device; its key is made by the service and shown once."""

    class Meta:
        model = Device
        fields = ["name", "kind", "direction", "zone", "door", "credential_format"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = self.fields["zone"]
        assert isinstance(zone, forms.ModelChoiceField)
        zone.queryset = Zone.objects.select_related("location")
