"""The desk's billing forms.

Every form refuses card numbers in any field and never shows one back.  Amounts are
typed in the currency's major units (``1500.00``) and cleaned to integer minor units.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelect
from django.db.models import Model, Q
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from members.models import Member

from ..fields import MoneyFormField
from ..gateways import GATEWAY_NAMES, default_gateway_name
from ..gateways.redaction import looks_like_card_number
from ..models import AddOn, Membership, PaymentMethod, PaymentSource, Plan
from ..services.memberships import ADDON_MAX_QUANTITY

CARD_NUMBER_MESSAGE = _("Never enter a card number; enter the gateway's token for the card.")


class BillingForm(forms.Form):
    """A form that refuses card numbers in any field and never shows one back."""

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound:
            return
        refused = [
            name
            for name in self.fields
            if looks_like_card_number(str(self.data.get(self.add_prefix(name), "") or ""))
        ]
        if not refused:
            return
        scrubbed = QueryDict(mutable=True)
        scrubbed.update(self.data)
        for name in refused:
            scrubbed[self.add_prefix(name)] = ""
            self.add_error(name, str(CARD_NUMBER_MESSAGE))
        self.data = scrubbed


class MoneyField(MoneyFormField):
    """An amount the desk takes or gives back (a payment, a refund, a credit): typed in
    major units (``1500``, ``1,500.50``), above zero, cleaned to integer minor units."""

    def __init__(self, *, currency: str, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Amount (%(currency)s)") % {"currency": currency})
        kwargs.setdefault("help_text", _("In %(currency)s, e.g. 1500.00") % {"currency": currency})
        kwargs.setdefault("min_value", 1)
        super().__init__(currency=currency, **kwargs)


def use_autocomplete(field: forms.Field, model: type[Model], admin_site: admin.AdminSite) -> None:
    """Search members as you type instead of listing every member in a select."""
    assert isinstance(field, forms.ModelChoiceField)
    widget = AutocompleteSelect(model._meta.get_field("member"), admin_site)
    widget.choices = field.choices
    field.widget = widget


class ConfirmForm(BillingForm):
    """No inputs: the page asks for a deliberate click (no state changes on GET)."""


class FreezeForm(BillingForm):
    starts_on = forms.DateField(label=_("Freeze from"), widget=AdminDateWidget)
    ends_on = forms.DateField(label=_("Until"), widget=AdminDateWidget)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends <= starts:
            self.add_error("ends_on", _("End the freeze after it starts."))
        return data


class GrantFreeTimeForm(BillingForm):
    days = forms.IntegerField(label=_("Free days"), min_value=1, max_value=366)
    reason = forms.CharField(label=_("Reason"), max_length=200)


class CancelForm(BillingForm):
    when = forms.ChoiceField(
        label=_("When"),
        choices=[
            ("period_end", _("At the end of the period (notice and minimum term apply)")),
            ("now", _("Now: access ends today")),
        ],
        initial="period_end",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
    waive_fees = forms.BooleanField(label=_("Waive cancellation fees"), required=False)

    def __init__(self, *args: Any, can_waive: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can_waive:
            del self.fields["waive_fees"]


class ChangePlanForm(BillingForm):
    direction = forms.ChoiceField(
        label=_("Change"),
        choices=[
            ("upgrade", _("Upgrade now (the rest of this period is prorated)")),
            ("downgrade", _("Downgrade from the next period")),
        ],
        widget=forms.RadioSelect,
    )
    plan = forms.ModelChoiceField(label=_("New plan"), queryset=Plan.objects.none())

    def __init__(self, *args: Any, current: Plan | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = Plan.objects.filter(is_active=True)
        if current is not None:
            plans = plans.exclude(pk=current.pk)
        plan_field = self.fields["plan"]
        assert isinstance(plan_field, forms.ModelChoiceField)
        plan_field.queryset = plans


class AddOnForm(BillingForm):
    change = forms.ChoiceField(
        label=_("Change"),
        choices=[
            ("add", _("Add now (the rest of this period is charged, prorated)")),
            ("remove", _("Remove at the end of the period already paid for")),
        ],
        widget=forms.RadioSelect,
    )
    addon = forms.ModelChoiceField(label=_("Add-on"), queryset=AddOn.objects.none())
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=ADDON_MAX_QUANTITY, initial=1
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        held = membership.addons.values("addon")
        field = self.fields["addon"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = AddOn.objects.filter(
            Q(is_active=True, currency=membership.currency) | Q(pk__in=held)
        ).order_by("name")


class CouponForm(BillingForm):
    code = forms.CharField(label=_("Coupon code"), max_length=40)


class ManualPaymentForm(BillingForm):
    source = forms.ChoiceField(
        label=_("Paid by"),
        choices=[
            (s.value, s.label)
            for s in (PaymentSource.CASH, PaymentSource.PROMPTPAY, PaymentSource.BANK_TRANSFER)
        ],
    )
    reference = forms.CharField(
        label=_("Reference"),
        max_length=120,
        required=False,
        help_text=_("Receipt or transfer reference, if any."),
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {"amount": MoneyField(currency=currency), **self.fields}


class AmountReasonForm(BillingForm):
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {"amount": MoneyField(currency=currency), **self.fields}


class AttachCardForm(BillingForm):
    member = forms.ModelChoiceField(label=_("Member"), queryset=Member.objects.all())
    gateway = forms.ChoiceField(label=_("Gateway"), choices=[(n, n) for n in GATEWAY_NAMES])
    token = forms.CharField(
        label=_("Gateway token"),
        max_length=120,
        help_text=_("The token from the card terminal or payment page — never the card number."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    make_default = forms.BooleanField(label=_("Make default"), required=False, initial=True)

    def __init__(self, *args: Any, admin_site: admin.AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_autocomplete(self.fields["member"], PaymentMethod, admin_site)
        self.fields["gateway"].initial = default_gateway_name()
