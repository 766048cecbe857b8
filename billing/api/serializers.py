"""Billing serializers: shapes of reads, and validated inputs for the services.

Input serializers never write; the views hand their validated data to a service.
Two rules hold for every input here:

- no card numbers: any text (or number) that looks like one is refused with
  ``card_number_refused`` before any field is looked at, so it is never stored, echoed
  or logged;
- amounts are JSON integers in minor units (satang for THB); ``10.5``, ``"1000"`` and
  ``1000.0`` are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from billing.gateways import GATEWAY_NAMES
from billing.gateways.redaction import looks_like_card_number
from billing.models import (
    AddOn,
    CreditNote,
    Invoice,
    InvoiceLine,
    Membership,
    MembershipAddOn,
    MembershipEvent,
    MembershipFreeze,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    PaymentMethodStatus,
    PaymentSource,
    Plan,
    PlanEntitlement,
    Refund,
)
from billing.money import format_amount
from billing.services import catalogue
from billing.services.memberships import ADDON_MAX_QUANTITY
from config.errors import InvalidInput
from config.inputs import max_amount
from members.models import Member

CARD_NUMBER_MESSAGE = _("Never send a card number; send the gateway's token for the card.")
MANUAL_SOURCES = (PaymentSource.CASH, PaymentSource.PROMPTPAY, PaymentSource.BANK_TRANSFER)
# Catalogue terms existing members are billed on: a new price means a new plan.


class CardNumberRefused(InvalidInput):
    """A request carried a card number.  The response names the field, never the value."""

    code = "card_number_refused"
    default_message = "Card numbers are never accepted; use the gateway's token."


class InvalidToken(InvalidInput):
    """The gateway does not know the payment token (or the gateway cannot be asked)."""

    code = "invalid_token"
    default_message = "The payment gateway does not recognise this token."


def _card_number_fields(data: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Names of the fields in ``data`` whose value holds a card number."""
    if depth > 5:
        return []
    found: list[str] = []
    if isinstance(data, Mapping):
        for key in data:
            name = f"{prefix}.{key}" if prefix else str(key)
            values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
            for value in values:
                found.extend(_card_number_fields(value, name, depth + 1))
    elif isinstance(data, list | tuple):
        for value in data:
            found.extend(_card_number_fields(value, prefix, depth + 1))
    elif (
        isinstance(data, str | int)
        and not isinstance(data, bool)
        and looks_like_card_number(str(data))
    ):
        found.append(prefix or "non_field_errors")
    return found


def refuse_card_numbers(data: Any) -> None:
    """Raise :class:`CardNumberRefused` if any value in ``data`` looks like a card number."""
    fields = _card_number_fields(data)
    if fields:
        raise CardNumberRefused(
            {name: [str(CARD_NUMBER_MESSAGE)] for name in dict.fromkeys(fields)}
        )


class RefusingCardNumbers(serializers.Serializer):
    """Base for input serializers: card numbers are refused before anything else runs."""

    def to_internal_value(self, data: Any) -> Any:
        refuse_card_numbers(data)
        return super().to_internal_value(data)


class MinorUnitsField(serializers.IntegerField):
    """An amount: a JSON integer in the currency's minor units (satang), nothing else."""

    default_error_messages = {
        "not_minor_units": _(
            "Give a whole number of minor units as a JSON integer, e.g. 150000 for ฿1,500.00."
        ),
    }

    def __init__(self, **kwargs: Any) -> None:
        # Bounded like every amount (config.inputs): the schema shows the maximum.
        kwargs.setdefault("max_value", max_amount())
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_minor_units")
        return int(super().to_internal_value(data))


class ErrorSerializer(serializers.Serializer):
    """The API's error shape (see ``config.api.errors``), for the schema."""

    code = serializers.CharField()
    message = serializers.CharField()
    reason = serializers.CharField(required=False)
    # Declared fields leave the class body, so this does not shadow ``Serializer.fields``.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    detail = serializers.DictField(child=serializers.CharField(), required=False)


# --- Plans ----------------------------------------------------------------------------


class PlanEntitlementSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanEntitlement
        fields = ["id", "zone_code", "weekdays", "start_time", "end_time"]


class PlanSerializer(RefusingCardNumbers, serializers.ModelSerializer):
    price = MinorUnitsField(min_value=0)
    joining_fee = MinorUnitsField(min_value=0, required=False)
    cancellation_fee = MinorUnitsField(min_value=0, required=False)
    early_termination_fee = MinorUnitsField(min_value=0, required=False)
    freeze_fee = MinorUnitsField(min_value=0, required=False)
    price_display = serializers.SerializerMethodField()
    entitlements = PlanEntitlementSerializer(many=True, read_only=True)

    class Meta:
        model = Plan
        fields = [
            "id",
            "code",
            "name",
            "name_th",
            "description",
            "kind",
            "interval",
            "interval_count",
            "price",
            "price_display",
            "currency",
            "joining_fee",
            "trial_days",
            "minimum_term_periods",
            "cancellation_notice_days",
            "cancellation_fee",
            "early_termination_fee",
            "freezes_per_year",
            "freeze_min_days",
            "freeze_max_days",
            "freeze_fee",
            "tax_rate_bp",
            "prices_include_tax",
            "renewal_reminder_days",
            "class_credits_per_period",
            "is_active",
            "entitlements",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def get_price_display(self, obj: Plan) -> str:
        return format_amount(obj.price, obj.currency)

    def validate_currency(self, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise serializers.ValidationError(_("Use an ISO 4217 code such as THB."))
        return value.upper()

    def create(self, validated_data: dict[str, Any]) -> Plan:
        return catalogue.plan_create(**validated_data)

    def update(self, instance: Plan, validated_data: dict[str, Any]) -> Plan:
        return catalogue.plan_update(instance, **validated_data)


# --- Memberships ----------------------------------------------------------------------


class MembershipEventSerializer(serializers.ModelSerializer):
    actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = MembershipEvent
        fields = ["id", "kind", "from_status", "to_status", "detail", "actor", "created_at"]


class MembershipFreezeSerializer(serializers.ModelSerializer):
    class Meta:
        model = MembershipFreeze
        fields = ["id", "starts_on", "ends_on", "ended_early_on", "reason", "created_at"]


class MembershipAddOnSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="addon.code", read_only=True)
    name = serializers.CharField(source="addon.name", read_only=True)
    price = serializers.IntegerField(source="addon.price", read_only=True)

    class Meta:
        model = MembershipAddOn
        fields = ["id", "addon", "code", "name", "price", "quantity", "started_on", "ended_on"]


class MembershipSerializer(serializers.ModelSerializer):
    """A membership with its add-ons, its freezes and its audit trail (newest event first)."""

    member_name = serializers.CharField(source="member.full_name", read_only=True)
    member_number = serializers.IntegerField(source="member.member_number", read_only=True)
    plan_code = serializers.CharField(source="plan.code", read_only=True)
    coupon: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    addons = MembershipAddOnSerializer(many=True, read_only=True)
    freezes = MembershipFreezeSerializer(many=True, read_only=True)
    events = MembershipEventSerializer(many=True, read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "member",
            "member_name",
            "member_number",
            "payer",
            "plan",
            "plan_code",
            "pending_plan",
            "status",
            "currency",
            "anchor_day",
            "started_on",
            "trial_ends_on",
            "current_period_start",
            "current_period_end",
            "next_billing_date",
            "minimum_term_ends_on",
            "cancel_at",
            "cancelled_at",
            "cancel_reason",
            "ended_on",
            "frozen_from",
            "frozen_until",
            "past_due_since",
            "access_warning",
            "bookings_blocked",
            "account_charges_blocked",
            "coupon",
            "coupon_periods_left",
            "addons",
            "payment_method",
            "created_at",
            "updated_at",
            "freezes",
            "events",
        ]
        read_only_fields = fields


class MembershipSignUpSerializer(RefusingCardNumbers):
    member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.all())
    plan = serializers.PrimaryKeyRelatedField(queryset=Plan.objects.all())
    start_on = serializers.DateField(required=False, allow_null=True)
    anchor_day = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=31
    )
    coupon_code = serializers.CharField(required=False, allow_blank=True, max_length=40)
    payment_method = serializers.PrimaryKeyRelatedField(
        queryset=PaymentMethod.objects.filter(status=PaymentMethodStatus.ACTIVE),
        required=False,
        allow_null=True,
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        method = attrs.get("payment_method")
        member = attrs["member"]
        if method is not None and method.member_id not in {member.pk, member.payer.pk}:
            raise serializers.ValidationError(
                {"payment_method": [_("This card belongs to someone else.")]}
            )
        return attrs


class PlanChangeSerializer(RefusingCardNumbers):
    plan = serializers.PrimaryKeyRelatedField(queryset=Plan.objects.all())


class AddOnChangeSerializer(RefusingCardNumbers):
    addon = serializers.SlugRelatedField(slug_field="code", queryset=AddOn.objects.all())


class AddOnAddSerializer(AddOnChangeSerializer):
    quantity = serializers.IntegerField(default=1, min_value=1, max_value=ADDON_MAX_QUANTITY)


class FreezeSerializer(RefusingCardNumbers):
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["ends_on"] <= attrs["starts_on"]:
            raise serializers.ValidationError({"ends_on": [_("End the freeze after it starts.")]})
        return attrs


class CancelSerializer(RefusingCardNumbers):
    at_period_end = serializers.BooleanField(default=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
    waive_fees = serializers.BooleanField(default=False)


class GrantFreeTimeSerializer(RefusingCardNumbers):
    days = serializers.IntegerField(min_value=1, max_value=366)
    reason = serializers.CharField(max_length=200)


class ApplyCouponSerializer(RefusingCardNumbers):
    code = serializers.CharField(max_length=40)


# --- Invoices and payments ------------------------------------------------------------


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "kind",
            "description",
            "quantity",
            "unit_amount",
            "amount",
            "net_amount",
            "tax_rate_bp",
            "tax_amount",
            "period_start",
            "period_end",
        ]


class RefundSerializer(serializers.ModelSerializer):
    succeeded = serializers.BooleanField(read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "amount",
            "currency",
            "status",
            "succeeded",
            "message",
            "reason",
            "created_at",
        ]


class PaymentSerializer(serializers.ModelSerializer):
    received_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    refunds = RefundSerializer(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "amount",
            "currency",
            "source",
            "reference",
            "attempt",
            "received_at",
            "received_by",
            "amount_refunded",
            "refunds",
        ]


class CreditNoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "amount",
            "tax_amount",
            "currency",
            "reason",
            "refund",
            "issued_at",
        ]


class PaymentAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentAttempt
        fields = [
            "id",
            "invoice",
            "payment_method",
            "attempt_number",
            "trigger",
            "gateway",
            "amount",
            "currency",
            "status",
            "decline_code",
            "network_code",
            "advice_code",
            "decline_category",
            "message",
            "card_brand",
            "created_at",
            "completed_at",
        ]


class InvoiceSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    amount_due = serializers.IntegerField(read_only=True)
    total_display = serializers.SerializerMethodField()
    lines = InvoiceLineSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)
    credit_notes = CreditNoteSerializer(many=True, read_only=True)
    attempts = PaymentAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "member",
            "member_name",
            "membership",
            "status",
            "billing_reason",
            "currency",
            "period_start",
            "period_end",
            "subtotal",
            "tax_total",
            "total",
            "total_display",
            "amount_paid",
            "amount_credited",
            "amount_due",
            "issued_at",
            "due_on",
            "paid_at",
            "voided_at",
            "seller_tax_id",
            "lines",
            "payments",
            "credit_notes",
            "attempts",
        ]
        read_only_fields = fields

    def get_total_display(self, obj: Invoice) -> str:
        return format_amount(obj.total, obj.currency)


class ManualPaymentSerializer(RefusingCardNumbers):
    amount = MinorUnitsField(min_value=1)
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[(s.value, s.label) for s in MANUAL_SOURCES]
    )
    reference = serializers.CharField(required=False, allow_blank=True, max_length=120)


class CreditNoteCreateSerializer(RefusingCardNumbers):
    amount = MinorUnitsField(min_value=1)
    reason = serializers.CharField(max_length=200)


class RefundCreateSerializer(RefusingCardNumbers):
    amount = MinorUnitsField(min_value=1)
    reason = serializers.CharField(max_length=200)


# --- Payment methods ------------------------------------------------------------------


class PaymentMethodSerializer(serializers.ModelSerializer):
    """A stored card as staff see it: display details only, never the token."""

    class Meta:
        model = PaymentMethod
        fields = [
            "id",
            "member",
            "gateway",
            "brand",
            "last4",
            "exp_month",
            "exp_year",
            "is_default",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PaymentMethodAttachSerializer(RefusingCardNumbers):
    member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.all())
    gateway = serializers.ChoiceField(choices=list(GATEWAY_NAMES))
    token = serializers.CharField(max_length=120, trim_whitespace=True)
    make_default = serializers.BooleanField(default=True)


# --- Webhooks -------------------------------------------------------------------------


class WebhookResultSerializer(serializers.Serializer):
    result = serializers.CharField(help_text="What was done: e.g. attempt_succeeded, duplicate.")
