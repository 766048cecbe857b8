"""Dunning API shapes.  Amounts are integer minor units with their currency beside them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.api.serializers import ErrorSerializer
from billing.money import format_amount

from ..models import (
    DunningCase,
    DunningEvent,
    DunningMessage,
    PaymentPlan,
    PaymentPlanInstallment,
    RecoveryRoute,
    ScheduledRetry,
)

__all__ = ["ErrorSerializer"]  # the API's one error shape, shared with billing


class DunningCaseSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    amount_due_display = serializers.SerializerMethodField()
    # "" until the case is recovered: the schema says so.
    recovered_route = serializers.ChoiceField(
        choices=RecoveryRoute.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = DunningCase
        fields = [
            "id",
            "member",
            "member_name",
            "invoice",
            "invoice_number",
            "status",
            "stage",
            "amount_due",
            "currency",
            "amount_due_display",
            "last_decline_code",
            "last_decline_category",
            "next_action",
            "next_action_at",
            "opened_at",
            "retries_made",
            "paused_until",
            "collections_at",
            "closed_at",
            "recovered_route",
            "recovered_channel",
            "recovered_amount",
            "time_to_recover",
        ]
        read_only_fields = fields

    def get_amount_due_display(self, case: DunningCase) -> str:
        return format_amount(case.amount_due, case.currency)


class DunningEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = DunningEvent
        fields = ["id", "kind", "at", "actor", "message", "attempt", "retry", "detail"]
        read_only_fields = fields


class ScheduledRetrySerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduledRetry
        fields = [
            "id",
            "invoice",
            "due_at",
            "reason",
            "category",
            "status",
            "attempt",
            "skip_reason",
            "done_at",
        ]
        read_only_fields = fields


class DunningMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = DunningMessage
        fields = [
            "id",
            "template",
            "channel",
            "language",
            "status",
            "scheduled_for",
            "skip_reason",
            "recipient",
            "subject",
            "sent_at",
            "delivered_at",
            "opened_at",
            "clicked_at",
            "bounced_at",
            "error",
        ]
        read_only_fields = fields


class InstallmentSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    amount = serializers.IntegerField(source="invoice.total", read_only=True)
    invoice_status = serializers.CharField(source="invoice.status", read_only=True)

    class Meta:
        model = PaymentPlanInstallment
        fields = [
            "number",
            "invoice",
            "invoice_number",
            "amount",
            "invoice_status",
            "due_on",
            "paid_at",
        ]
        read_only_fields = fields


class PaymentPlanSerializer(serializers.ModelSerializer):
    installments = InstallmentSerializer(many=True, read_only=True)

    class Meta:
        model = PaymentPlan
        fields = [
            "id",
            "status",
            "installments_count",
            "interval_days",
            "total",
            "credit_note_number",
            "created_at",
            "installments",
        ]
        read_only_fields = fields


class DunningCaseDetailSerializer(DunningCaseSerializer):
    events = DunningEventSerializer(many=True, read_only=True)
    retries = ScheduledRetrySerializer(many=True, read_only=True)
    messages = DunningMessageSerializer(many=True, read_only=True)
    payment_plan = serializers.SerializerMethodField()

    class Meta(DunningCaseSerializer.Meta):
        fields = [
            *DunningCaseSerializer.Meta.fields,
            "late_fee_invoice",
            "payment_plan",
            "retries",
            "messages",
            "events",
        ]
        read_only_fields = fields

    @extend_schema_field(PaymentPlanSerializer(allow_null=True))
    def get_payment_plan(self, case: DunningCase) -> dict[str, Any] | None:
        plan = (
            PaymentPlan.objects.filter(case=case).prefetch_related("installments__invoice").first()
        )
        return dict(PaymentPlanSerializer(plan).data) if plan is not None else None


class PauseSerializer(serializers.Serializer):
    until = serializers.DateField(help_text="The date the member promised to pay by.")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class OfferPlanSerializer(serializers.Serializer):
    installments = serializers.IntegerField(min_value=2, max_value=4)
    interval_days = serializers.IntegerField(min_value=1, max_value=31, default=14)
    first_due_on = serializers.DateField(required=False, help_text="Empty: today.")


class RetryOutcomeSerializer(serializers.Serializer):
    outcome = serializers.CharField(help_text="The attempt's status: succeeded, failed, unknown…")
    case = DunningCaseSerializer()
