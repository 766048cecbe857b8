"""PromptPay requests over the API: a kiosk, a terminal or a POS shows the QR and polls.

- ``POST /promptpay-requests/``: a QR for what invoices owe (or for an amount); send an
  ``Idempotency-Key`` header and a retry returns the same request;
- ``GET /promptpay-requests/{id}/``: its status (poll it; ``qr_data`` is the payload to
  draw, ``qr_svg`` the same drawn as an SVG);
- ``POST /promptpay-requests/{id}/confirm/``: staff saw the transfer to the gym's own
  PromptPay ID (amount and bank reference);
- ``POST /promptpay-requests/{id}/cancel/``: withdraw the QR.

Every refusal is a 4xx with a stable ``code`` (``promptpay_not_allowed`` and a
``reason``; ``invalid`` with field errors).  The services do the work.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import Invoice, PromptPayChannel, PromptPayRequest, PromptPayRequestInvoice
from billing.money import format_amount
from billing.promptpay.display import promptpay_display
from billing.promptpay.payload import MAX_AMOUNT
from billing.services import promptpay
from config.api.parsers import JSON_ONLY
from members.models import Member

from .serializers import ErrorSerializer, MinorUnitsField, RefusingCardNumbers
from .views import ActionPermissionMixin

REFUSED = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input (field errors)."),
    409: OpenApiResponse(ErrorSerializer, description="Refused (`promptpay_not_allowed`)."),
}
MAX_INVOICES = 50
# Printable text with no control characters (an idempotency key or a reference).
_PLAIN = re.compile(r"[^\x00-\x1f\x7f]*")


def _plain(value: str) -> str:
    if not _PLAIN.fullmatch(value) or any(not ch.isprintable() for ch in value):
        raise serializers.ValidationError(_("Use plain text, without control characters."))
    return value


class PromptPayLineSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = PromptPayRequestInvoice
        fields = ["invoice", "invoice_number", "amount", "payment", "credited"]


class PromptPayRequestSerializer(serializers.ModelSerializer):
    lines = PromptPayLineSerializer(many=True, read_only=True)
    amount_display = serializers.SerializerMethodField()
    qr_svg = serializers.SerializerMethodField()

    class Meta:
        model = PromptPayRequest
        fields = [
            "id",
            "member",
            "status",
            "route",
            "channel",
            "amount",
            "currency",
            "amount_display",
            "expires_at",
            "qr_data",
            "qr_svg",
            "payee",
            "reference",
            "gateway_reference",
            "member_reported_at",
            "paid_amount",
            "paid_at",
            "bank_reference",
            "created_at",
            "lines",
        ]

    def get_amount_display(self, obj: PromptPayRequest) -> str:
        return format_amount(obj.amount, obj.currency)

    def get_qr_svg(self, obj: PromptPayRequest) -> str:
        """The QR as an inline SVG while it can be paid, else ""."""
        return str(promptpay_display(obj).qr)


class PromptPayCreateSerializer(RefusingCardNumbers):
    invoices = serializers.PrimaryKeyRelatedField(
        queryset=Invoice.objects.all(), many=True, required=False, allow_empty=True
    )
    amount = MinorUnitsField(min_value=1, max_value=MAX_AMOUNT, required=False)
    member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.all(), required=False)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=80)

    def validate_invoices(self, value: list[Invoice]) -> list[Invoice]:
        if len(value) > MAX_INVOICES:
            raise serializers.ValidationError(_("At most 50 invoices at a time."))
        return value

    def validate_reference(self, value: str) -> str:
        return _plain(value)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if bool(data.get("invoices")) == ("amount" in data):
            raise serializers.ValidationError(_("Give either invoices or an amount."))
        return data


class PromptPayConfirmSerializer(RefusingCardNumbers):
    amount = MinorUnitsField(min_value=1, max_value=MAX_AMOUNT)
    bank_reference = serializers.CharField(max_length=120)

    def validate_bank_reference(self, value: str) -> str:
        return _plain(value)


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="A retry with the same key returns the same request (at most 80 characters).",
)


class PromptPayRequestViewSet(
    ActionPermissionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """PromptPay QR codes: what was asked, and whether it was paid."""

    serializer_class = PromptPayRequestSerializer
    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers
    queryset = PromptPayRequest.objects.prefetch_related("lines__invoice").order_by(
        "-created_at", "-pk"
    )
    filter_backends = [filters.DjangoFilterBackend]
    filterset_fields = ["status", "route", "member", "channel"]

    def get_permissions(self) -> Any:
        if self.action == "create":
            self.required_permission = "billing.take_payment"
        return super().get_permissions()

    @extend_schema(
        summary="Show a PromptPay QR for invoices or an amount",
        parameters=[IDEMPOTENCY_HEADER],
        request=PromptPayCreateSerializer,
        responses={201: PromptPayRequestSerializer, **REFUSED},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PromptPayCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = str(request.headers.get("Idempotency-Key", "") or "")
        if len(key) > 80 or not _PLAIN.fullmatch(key) or not key.isprintable():
            raise serializers.ValidationError(
                {"Idempotency-Key": [_("At most 80 characters of plain text.")]}
            )
        pp = promptpay.promptpay_request_create(
            invoices=data.get("invoices") or [],
            amount=data.get("amount"),
            member=data.get("member"),
            channel=PromptPayChannel.API,
            user=request.user,
            reference=data.get("reference", ""),
            idempotency_key=key,
        )
        fresh = self.get_queryset().get(pk=pp.pk)
        return Response(PromptPayRequestSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Confirm a transfer to the gym's own PromptPay ID",
        request=PromptPayConfirmSerializer,
        responses={200: PromptPayRequestSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"], required_permission="billing.take_payment")
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        serializer = PromptPayConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        pp = promptpay.promptpay_request_confirm_transfer(
            self.get_object(),
            amount=data["amount"],
            bank_reference=data["bank_reference"],
            user=request.user,
        )
        return Response(PromptPayRequestSerializer(self.get_queryset().get(pk=pp.pk)).data)

    @extend_schema(
        summary="Withdraw a PromptPay QR",
        request=None,
        responses={200: PromptPayRequestSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"], required_permission="billing.take_payment")
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        pp = promptpay.promptpay_request_cancel(self.get_object(), why="withdrawn_by_api")
        return Response(PromptPayRequestSerializer(self.get_queryset().get(pk=pp.pk)).data)
