"""``GET /api/v1/dunning/metrics/?start=YYYY-MM-DD&end=YYYY-MM-DD``: recovery metrics.

The owner's report (``members.view_reports``).  The figures and their definitions are
:func:`dunning.metrics.dunning_metrics`'s; rates are fractions (0.6667) with the counts
they come from beside them, amounts are integer minor units per currency.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers import ErrorSerializer

from ..metrics import dunning_metrics, range_problem, whole_seconds

REPORTS_PERMISSION = "members.view_reports"


class MetricsRangeSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First gym-local date of the range (YYYY-MM-DD).")
    end = serializers.DateField(help_text="Last gym-local date of the range, included.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problem = range_problem(attrs["start"], attrs["end"])
        if problem:
            raise serializers.ValidationError({"end": [problem]})
        return attrs


class RateSerializer(serializers.Serializer):
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField()
    rate = serializers.DecimalField(
        source="value",
        max_digits=5,
        decimal_places=4,
        allow_null=True,
        coerce_to_string=False,
        help_text="numerator / denominator, 0 to 1; null when the denominator is 0.",
    )


class CurrencyRecoverySerializer(serializers.Serializer):
    currency = serializers.CharField()
    failed_amount = serializers.IntegerField(help_text="Minor units.")
    recovered_amount = serializers.IntegerField(help_text="Minor units: the recovered revenue.")
    rate = RateSerializer(help_text="Recovery rate by amount.")


class CategoryRecoverySerializer(serializers.Serializer):
    category = serializers.CharField(help_text="Decline category of the first failure.")
    # Declared fields leave the class body, so this does not shadow ``Field.label``.
    label = serializers.CharField()  # type: ignore[assignment]
    failed = serializers.IntegerField()
    recovered = serializers.IntegerField()
    rate = RateSerializer()


class RecoveryShareSerializer(serializers.Serializer):
    key = serializers.CharField()
    # Declared fields leave the class body, so this does not shadow ``Field.label``.
    label = serializers.CharField()  # type: ignore[assignment]
    recovered = serializers.IntegerField()
    share = RateSerializer(help_text="Share of all recoveries in the cohort.")


class OutcomesSerializer(serializers.Serializer):
    recovered = serializers.IntegerField()
    in_dunning = serializers.IntegerField()
    written_off = serializers.IntegerField()
    closed = serializers.IntegerField()


class DunningMetricsSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    as_of = serializers.DateTimeField()
    renewal_invoices = serializers.IntegerField(help_text="Renewal invoices issued in the range.")
    failed_renewal_invoices = serializers.IntegerField()
    failed_payment_rate = RateSerializer()
    attempts = serializers.IntegerField(help_text="Settled attempts on renewal invoices.")
    failed_attempts = serializers.IntegerField()
    attempt_failure_rate = RateSerializer()
    failed_invoices = serializers.IntegerField(
        help_text="The cohort: invoices whose first failure is in the range."
    )
    recovered_invoices = serializers.IntegerField()
    recovery_rate = RateSerializer(help_text="Recovery rate by count.")
    outcomes = OutcomesSerializer()
    amounts = CurrencyRecoverySerializer(many=True)
    median_time_to_recover = serializers.DurationField(allow_null=True)
    median_seconds_to_recover = serializers.SerializerMethodField()
    by_category = CategoryRecoverySerializer(many=True)
    by_attempt = RecoveryShareSerializer(many=True)
    by_channel = RecoveryShareSerializer(many=True)
    memberships_at_start = serializers.IntegerField()
    cancelled_for_nonpayment = serializers.IntegerField()
    involuntary_churn = RateSerializer()

    def get_median_seconds_to_recover(self, metrics: Any) -> int | None:
        median = metrics.median_time_to_recover
        return None if median is None else whole_seconds(median)


class DunningMetricsView(APIView):
    """Recovery metrics for a date range (the owner's report)."""

    required_permission = REPORTS_PERMISSION

    @extend_schema(
        summary="Recovery metrics over a date range",
        description=(
            "Failed-payment rate (renewals issued in the range), recovery rate by count and "
            "by amount, recovered revenue per currency, median time to recover and the "
            "breakdowns, for invoices whose first failure is in the range (followed to "
            "today); involuntary churn over memberships live on the first day."
        ),
        parameters=[MetricsRangeSerializer],
        responses={
            200: DunningMetricsSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Missing or invalid dates."),
            403: OpenApiResponse(ErrorSerializer, description="Not allowed to view reports."),
        },
    )
    def get(self, request: Request) -> Response:
        query = MetricsRangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        metrics = dunning_metrics(query.validated_data["start"], query.validated_data["end"])
        return Response(DunningMetricsSerializer(metrics).data)
