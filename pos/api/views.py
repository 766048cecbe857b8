"""POS endpoints for a kiosk or an external terminal.  Each write validates its input and
calls one POS service; refusals come back as the service's domain error (a stable
``code`` and ``reason``).  Permissions are the staff roles' (``RolePermissions``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers import ErrorSerializer
from billing.models import Location
from billing.selectors import account_statement
from config.api.parsers import JSON_ONLY
from members.models import Member

from ..barcodes import normalise_scan
from ..models import LineKind, Product, Sale, TillSession
from ..selectors import product_by_code, stock_levels, till_report
from ..services import refunds, sales, stock, tills
from . import serializers as s

CONFLICT = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input (field errors)."),
    409: OpenApiResponse(ErrorSerializer, description="Refused by a business rule."),
}


def _valid(serializer_class: type[serializers.Serializer[Any]], request: Request) -> Any:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ActionPermissionMixin:
    required_permission: str | None = None


class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Products.  ``?code=`` finds one by barcode or SKU (what a scanner typed).  Creating
    and changing them (prices) is the manager's job."""

    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers

    serializer_class = s.ProductSerializer
    queryset = Product.objects.order_by("name", "pk")
    filterset_fields = ["is_active", "category", "track_stock"]
    search_fields = ["name", "name_th", "sku", "barcode"]

    @extend_schema(parameters=[OpenApiParameter("code", str, description="Barcode or SKU")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        code = request.query_params.get("code")
        if code is not None:
            product = product_by_code(normalise_scan(code) or code[:40])
            if product is None:
                raise exceptions.NotFound("No product on sale with that code.")
            return Response({"count": 1, "results": [s.ProductSerializer(product).data]})
        return super().list(request, *args, **kwargs)


class StockView(APIView):
    """Stock levels at a location, and what is at or below its reorder level."""

    required_permission = "pos.view_stocklevel"

    @extend_schema(
        parameters=[OpenApiParameter("location", int, required=True)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        try:
            location_id = int(request.query_params.get("location", ""))
        except ValueError:
            raise exceptions.ValidationError({"location": ["A location id is required."]}) from None
        if not Location.objects.filter(pk=location_id).exists():
            raise exceptions.NotFound("No such location.")
        return Response({"location": location_id, "levels": stock_levels(location_id)})


class StockChangeView(APIView):
    """Receive (front desk), adjust or count (manager) stock."""

    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers

    kind = "receive"

    def get_permissions(self) -> Any:
        self.required_permission = (
            "pos.receive_stock" if self.kind == "receive" else "pos.adjust_stock"
        )
        return super().get_permissions()

    @extend_schema(
        request=s.StockChangeSerializer, responses={201: OpenApiTypes.OBJECT, **CONFLICT}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.StockChangeSerializer, request)
        product, location, quantity = data["product"], data["location"], data["quantity"]
        movement: Any
        if self.kind == "receive":
            movement = stock.stock_receive(
                product, location, quantity, user=request.user, reason=data["reason"]
            )
        elif self.kind == "adjust":
            movement = stock.stock_adjust(
                product, location, quantity, user=request.user, reason=data["reason"]
            )
        else:
            movement = stock.stock_count(
                product, location, quantity, user=request.user, reason=data["reason"]
            )
        return Response(
            {"movement": movement.pk if movement else None, "kind": self.kind},
            status=status.HTTP_201_CREATED,
        )


class TillViewSet(
    ActionPermissionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Till sessions: open with a counted float, cash in and out, the X report any time,
    close with the drawer counted (the Z report)."""

    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers

    serializer_class = s.TillSerializer
    queryset = TillSession.objects.select_related("station").order_by("-pk")
    filterset_fields = ["station", "status"]

    @extend_schema(request=s.TillOpenSerializer, responses={201: s.TillSerializer, **CONFLICT})
    def create(self, request: Request) -> Response:
        if not request.user.has_perm("pos.add_tillsession"):
            raise exceptions.PermissionDenied()
        data = _valid(s.TillOpenSerializer, request)
        till = tills.till_start_and_open(data["station"], count=data["count"], user=request.user)
        return Response(s.TillSerializer(till).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CashMoveSerializer, responses={201: OpenApiTypes.OBJECT, **CONFLICT})
    @action(detail=True, methods=["post"], required_permission="pos.change_tillsession")
    def cash(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.CashMoveSerializer, request)
        movement = tills.cash_move(self.get_object(), user=request.user, **data)
        return Response({"id": movement.pk}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.TillSerializer, **CONFLICT})
    @action(
        detail=True,
        methods=["post"],
        url_path="begin-close",
        required_permission="pos.change_tillsession",
    )
    def begin_close(self, request: Request, pk: str | None = None) -> Response:
        till = tills.till_begin_close(self.get_object(), user=request.user)
        return Response(s.TillSerializer(till).data)

    @extend_schema(request=s.TillCloseSerializer, responses={200: s.TillSerializer, **CONFLICT})
    @action(detail=True, methods=["post"], required_permission="pos.change_tillsession")
    def close(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.TillCloseSerializer, request)
        till = tills.till_close(self.get_object(), count=data["count"], user=request.user)
        return Response(s.TillSerializer(till).data)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], required_permission="pos.view_tillsession")
    def report(self, request: Request, pk: str | None = None) -> Response:
        """The X report now, or the frozen Z report of a closed till."""
        till = self.get_object()
        if till.z_report:
            return Response({"kind": "Z", **till.z_report})
        return Response({"kind": "X", **till_report(till)})


class StatementView(APIView):
    """A member's account: every entry, oldest first, with the balance after it
    (positive: owed; negative: credit)."""

    required_permission = "billing.view_ledgerentry"

    @extend_schema(
        parameters=[OpenApiParameter("currency", str, description="Default THB")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, member_id: int) -> Response:
        if not Member.objects.filter(pk=member_id).exists():
            raise exceptions.NotFound("No such member.")
        currency = request.query_params.get("currency", "THB")[:3].upper()
        rows = account_statement(member_id, currency)
        return Response(
            {
                "member": member_id,
                "currency": currency,
                "balance": rows[-1]["balance"] if rows else 0,
                "entries": [
                    {
                        "at": row["entry"].created_at,
                        "kind": row["entry"].kind,
                        "description": row["entry"].description,
                        "amount": row["entry"].amount,
                        "balance": row["balance"],
                    }
                    for row in rows
                ],
            }
        )


class SaleViewSet(
    ActionPermissionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Sales.  ``POST`` sells (or takes what is owed, or a deposit); send the same
    ``Idempotency-Key`` header (or ``idempotency_key``) again and the same sale comes back,
    sold and charged once."""

    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers

    serializer_class = s.SaleSerializer
    filterset_fields = ["till", "member", "status", "kind"]

    def get_queryset(self) -> QuerySet[Sale]:
        return Sale.objects.prefetch_related("lines", "tenders__promptpay_request").order_by("-pk")

    @extend_schema(
        request=s.SaleInSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER)],
        responses={201: s.SaleSerializer, **CONFLICT},
    )
    def create(self, request: Request) -> Response:
        data = _valid(s.SaleInSerializer, request)
        key = request.headers.get("Idempotency-Key") or data.get("idempotency_key") or ""
        if not key:
            raise exceptions.ValidationError(
                {"idempotency_key": ["Send an Idempotency-Key header or idempotency_key."]}
            )
        lines = []
        for line in data.get("lines", []):
            product = line.get("product")
            if line["kind"] == LineKind.PRODUCT and product is None and line.get("barcode"):
                product = product_by_code(normalise_scan(line["barcode"]))
                if product is None:
                    raise exceptions.ValidationError({"lines": ["Unknown barcode."]})
            pack = line.get("pack")
            lines.append(
                sales.LineIn(
                    kind=line["kind"],
                    product_id=product.pk if product else None,
                    pack_id=pack.pk if pack else None,
                    quantity=line["quantity"],
                    unit_price=line.get("unit_price"),
                    description=line.get("description", ""),
                    reason=line.get("reason", ""),
                    discount=line["discount"],
                )
            )
        tenders = [
            sales.TenderIn(
                kind=t["kind"],
                amount=t["amount"],
                tendered=t.get("tendered"),
                reference=t.get("reference", ""),
            )
            for t in data["tenders"]
        ]
        buyer = data.get("buyer")
        sale = sales.sale_submit(
            till=data["till"],
            user=request.user,
            idempotency_key=key[:80],
            lines=lines,
            tenders=tenders,
            member=data.get("member"),
            kind=data["kind"],
            invoice_ids=data.get("invoices", []),
            deposit=data["deposit"],
            buyer=sales.Buyer(**buyer) if buyer else None,
            language=getattr(request, "LANGUAGE_CODE", "en"),
        )
        fresh = self.get_queryset().get(pk=sale.pk)
        return Response(s.SaleSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.SaleSerializer, **CONFLICT})
    @action(detail=True, methods=["post"], required_permission="pos.add_sale")
    def void(self, request: Request, pk: str | None = None) -> Response:
        """Give up a sale still waiting for payment."""
        sale = sales.sale_void(self.get_object(), reason="Voided at the till", user=request.user)
        return Response(s.SaleSerializer(self.get_queryset().get(pk=sale.pk)).data)

    @extend_schema(
        request=s.PosRefundInSerializer, responses={201: s.PosRefundSerializer, **CONFLICT}
    )
    @action(detail=True, methods=["post"], required_permission="pos.refund_sale")
    def refund(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.PosRefundInSerializer, request)
        quantities = None
        if data.get("lines"):
            try:
                quantities = {int(k): v for k, v in data["lines"].items()}
            except ValueError:
                raise exceptions.ValidationError({"lines": ["Line ids are numbers."]}) from None
        refund = refunds.sale_refund(
            self.get_object(),
            till=data["till"],
            user=request.user,
            reason=data["reason"],
            quantities=quantities,
            destination=data["destination"],
        )
        return Response(s.PosRefundSerializer(refund).data, status=status.HTTP_201_CREATED)
