"""POS API serializers: bounded input, money in minor units with its currency beside it."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from billing.models import Location, Pack
from members.models import Member

from ..models import (
    Category,
    LineKind,
    Product,
    RefundDestination,
    Sale,
    SaleKind,
    SaleLine,
    Station,
    Tender,
    TenderKind,
    TillSession,
)

MAX_AMOUNT = 100_000_000


class ProductSerializer(serializers.ModelSerializer[Product]):
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all())

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "name_th",
            "category",
            "sku",
            "barcode",
            "price",
            "currency",
            "prices_include_tax",
            "tax_rate_bp",
            "track_stock",
            "allow_negative_stock",
            "reorder_level",
            "is_active",
        ]


class StockChangeSerializer(serializers.Serializer[Any]):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    quantity = serializers.IntegerField(min_value=-100_000, max_value=100_000)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CountSerializer(serializers.DictField):
    child = serializers.IntegerField(min_value=0, max_value=100_000)


class TillOpenSerializer(serializers.Serializer[Any]):
    station = serializers.PrimaryKeyRelatedField(queryset=Station.objects.filter(is_active=True))
    count = CountSerializer(help_text="Pieces by denomination in minor units, e.g. {'10000': 5}")


class TillCloseSerializer(serializers.Serializer[Any]):
    count = CountSerializer()


class CashMoveSerializer(serializers.Serializer[Any]):
    kind = serializers.RegexField(r"^(in|out)$", help_text="in or out")
    amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT)
    reason = serializers.CharField(max_length=200)


class TillSerializer(serializers.ModelSerializer[TillSession]):
    class Meta:
        model = TillSession
        fields = [
            "id",
            "station",
            "status",
            "currency",
            "opened_at",
            "opening_float",
            "expected_cash",
            "counted_cash",
            "difference",
            "closed_at",
            "z_number",
        ]
        read_only_fields = fields


# What a till may put on a sale (the other line kinds are made by the services).
SOLD_LINE_KINDS = [
    (LineKind.PRODUCT.value, LineKind.PRODUCT.label),
    (LineKind.PACK.value, LineKind.PACK.label),
    (LineKind.GENERAL.value, LineKind.GENERAL.label),
]


class LineInSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=SOLD_LINE_KINDS, default=LineKind.PRODUCT)
    product = serializers.PrimaryKeyRelatedField(
        queryset=Product.objects.all(), required=False, allow_null=True
    )
    barcode = serializers.CharField(max_length=40, required=False, allow_blank=True)
    pack = serializers.PrimaryKeyRelatedField(
        queryset=Pack.objects.all(), required=False, allow_null=True
    )
    quantity = serializers.IntegerField(min_value=1, max_value=999, default=1)
    unit_price = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    discount = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT, default=0)


class TenderInSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=TenderKind.choices)
    amount = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT)
    tendered = serializers.IntegerField(
        min_value=0, max_value=MAX_AMOUNT, required=False, allow_null=True
    )
    reference = serializers.CharField(max_length=120, required=False, allow_blank=True)


class BuyerSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    address = serializers.CharField(max_length=500)
    tax_id = serializers.RegexField(r"^\d{13}$", required=False, allow_blank=True)
    branch = serializers.CharField(max_length=40, required=False, allow_blank=True)


class SaleInSerializer(serializers.Serializer[Any]):
    till = serializers.PrimaryKeyRelatedField(queryset=TillSession.objects.all())
    idempotency_key = serializers.CharField(
        max_length=80,
        required=False,
        help_text="Or the Idempotency-Key header: the same key returns the same sale.",
    )
    kind = serializers.ChoiceField(choices=SaleKind.choices, default=SaleKind.SALE)
    member = serializers.PrimaryKeyRelatedField(
        queryset=Member.objects.all(), required=False, allow_null=True
    )
    lines = LineInSerializer(many=True, required=False, max_length=200)  # type: ignore[call-arg]
    tenders = TenderInSerializer(many=True, max_length=10)  # type: ignore[call-arg]
    invoices = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100
    )
    deposit = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT, default=0)
    buyer = BuyerSerializer(required=False, allow_null=True)


class SaleLineSerializer(serializers.ModelSerializer[SaleLine]):
    class Meta:
        model = SaleLine
        fields = [
            "id",
            "kind",
            "product",
            "pack",
            "description",
            "category",
            "quantity",
            "unit_price",
            "discount",
            "reason",
            "amount",
            "net_amount",
            "tax_rate_bp",
            "tax_amount",
            "refunded_quantity",
        ]


class TenderSerializer(serializers.ModelSerializer[Tender]):
    promptpay_qr = serializers.SerializerMethodField()

    class Meta:
        model = Tender
        fields = [
            "id",
            "kind",
            "amount",
            "tendered",
            "change",
            "status",
            "reference",
            "promptpay_request",
            "promptpay_qr",
        ]

    def get_promptpay_qr(self, tender: Tender) -> str:
        """The PromptPay payload to show as a QR while the tender waits."""
        request = tender.promptpay_request
        return request.qr_data if request is not None else ""


class SaleSerializer(serializers.ModelSerializer[Sale]):
    lines = SaleLineSerializer(many=True, read_only=True)
    tenders = TenderSerializer(many=True, read_only=True)

    class Meta:
        model = Sale
        fields = [
            "id",
            "number",
            "kind",
            "status",
            "till",
            "member",
            "currency",
            "subtotal",
            "tax_total",
            "total",
            "discount_total",
            "change_given",
            "document",
            "buyer_name",
            "buyer_address",
            "buyer_tax_id",
            "buyer_branch",
            "created_at",
            "completed_at",
            "lines",
            "tenders",
        ]
        read_only_fields = fields


class PosRefundInSerializer(serializers.Serializer[Any]):
    till = serializers.PrimaryKeyRelatedField(queryset=TillSession.objects.all())
    reason = serializers.CharField(max_length=200)
    destination = serializers.ChoiceField(
        choices=RefundDestination.choices, default=RefundDestination.ORIGINAL
    )
    lines = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=999),
        required=False,
        help_text="Line id to quantity; leave out to refund everything not yet refunded.",
    )


class PosRefundSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    number = serializers.CharField()
    sale = serializers.IntegerField(source="sale_id")
    amount = serializers.IntegerField()
    tax_amount = serializers.IntegerField()
    destination = serializers.CharField()
