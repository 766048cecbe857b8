"""Billing endpoints.  Each write validates its input and calls one billing service.

Permissions are the staff roles' model permissions (``RolePermissions``); every action
endpoint names the one permission it needs in ``required_permission``.  Services refuse
what the rules forbid with a domain error, which the API answers with its status
(mostly 409) and a stable ``code`` and ``reason``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend, OrderingFilter
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.gateways import GATEWAY_NAMES
from billing.gateways.interface import GatewayError, WebhookSignatureError
from billing.models import (
    AttemptTrigger,
    Invoice,
    Membership,
    Payment,
    PaymentMethod,
    Plan,
)
from billing.services import invoices, memberships, payments, refunds, webhooks
from config.api.parsers import JSON_ONLY
from config.errors import DomainError
from members.selectors import member_search

from . import serializers as s

logger = logging.getLogger(__name__)

CONFLICT = {
    400: OpenApiResponse(s.ErrorSerializer, description="Invalid input (field errors)."),
    409: OpenApiResponse(s.ErrorSerializer, description="Refused by a business rule."),
}


class MemberSearchBackend(BaseFilterBackend):
    """``?q=``: the front desk's member search, applied to the record's member."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        term = request.query_params.get("q", "").strip()
        if not term:
            return queryset
        return queryset.filter(member__in=member_search(term).values("pk"))


SEARCH_PARAMETER = OpenApiParameter(
    "q", str, description="Member name, email, phone or member number"
)


class ActionPermissionMixin:
    """Lets ``@action(required_permission=...)`` name the one permission an action needs."""

    required_permission: str | None = None


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- Plans ----------------------------------------------------------------------------


class PlanViewSet(
    ActionPermissionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The plans on sale and off sale.  Creating and changing them is the manager's job."""

    serializer_class = s.PlanSerializer
    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers
    queryset = Plan.objects.prefetch_related("entitlements").order_by("price", "pk")
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["is_active", "kind", "interval", "currency"]
    ordering_fields = ["price", "name", "created_at"]


# --- Memberships ----------------------------------------------------------------------


class MembershipFilter(filters.FilterSet):
    class Meta:
        model = Membership
        fields = ["status", "plan", "member", "payer"]


def _membership_response(membership: Membership, code: int = status.HTTP_200_OK) -> Response:
    fresh = MembershipViewSet.queryset.get(pk=membership.pk)
    return Response(s.MembershipSerializer(fresh).data, status=code)


def _membership_action(request_serializer: Any, summary: str) -> Any:
    return extend_schema(
        summary=summary,
        request=request_serializer,
        responses={200: s.MembershipSerializer, **CONFLICT},
    )


@extend_schema_view(
    list=extend_schema(parameters=[SEARCH_PARAMETER]),
    create=extend_schema(
        summary="Sign a member up",
        request=s.MembershipSignUpSerializer,
        responses={201: s.MembershipSerializer, **CONFLICT},
    ),
)
class MembershipViewSet(
    ActionPermissionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Memberships and their lifecycle.  ``POST`` signs a member up."""

    serializer_class = s.MembershipSerializer
    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers
    queryset = (
        Membership.objects.select_related("member", "plan", "coupon")
        .prefetch_related("events__actor", "freezes", "addons__addon")
        .order_by("-pk")
    )
    filter_backends = [filters.DjangoFilterBackend, MemberSearchBackend, OrderingFilter]
    filterset_class = MembershipFilter
    ordering_fields = ["next_billing_date", "started_on", "created_at"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.MembershipSignUpSerializer, request)
        membership = memberships.membership_sign_up(
            data["member"],
            data["plan"],
            start_on=data.get("start_on"),
            anchor_day=data.get("anchor_day"),
            coupon_code=data.get("coupon_code", ""),
            payment_method=data.get("payment_method"),
            actor=request.user,
        )
        return _membership_response(membership, status.HTTP_201_CREATED)

    @_membership_action(s.PlanChangeSerializer, "Upgrade now (prorated)")
    @action(detail=True, methods=["post"], required_permission="billing.change_membership")
    def upgrade(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.PlanChangeSerializer, request)
        membership = self.get_object()
        memberships.membership_upgrade(membership, data["plan"], actor=request.user)
        return _membership_response(membership)

    @_membership_action(s.PlanChangeSerializer, "Downgrade from the next period")
    @action(detail=True, methods=["post"], required_permission="billing.change_membership")
    def downgrade(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.PlanChangeSerializer, request)
        membership = self.get_object()
        memberships.membership_downgrade(membership, data["plan"], actor=request.user)
        return _membership_response(membership)

    @_membership_action(s.FreezeSerializer, "Freeze")
    @action(detail=True, methods=["post"], required_permission="billing.change_membership")
    def freeze(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.FreezeSerializer, request)
        membership = self.get_object()
        memberships.membership_freeze(
            membership,
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            reason=data.get("reason", ""),
            actor=request.user,
        )
        return _membership_response(membership)

    @_membership_action(None, "End a freeze now")
    @action(detail=True, methods=["post"], required_permission="billing.change_membership")
    def unfreeze(self, request: Request, pk: str | None = None) -> Response:
        membership = self.get_object()
        memberships.membership_unfreeze(membership, actor=request.user)
        return _membership_response(membership)

    @extend_schema(
        summary="Cancel (at period end, or now)",
        description="Waiving fees needs the permission to grant free time (managers).",
        request=s.CancelSerializer,
        responses={
            200: s.MembershipSerializer,
            403: OpenApiResponse(s.ErrorSerializer, description="Not allowed to waive fees."),
            **CONFLICT,
        },
    )
    @action(detail=True, methods=["post"], required_permission="billing.change_membership")
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.CancelSerializer, request)
        if data["waive_fees"] and not request.user.has_perm("billing.grant_free_time"):
            raise exceptions.PermissionDenied("Only a manager can waive cancellation fees.")
        membership = self.get_object()
        memberships.membership_cancel(
            membership,
            at_period_end=data["at_period_end"],
            reason=data.get("reason", ""),
            waive_fees=data["waive_fees"],
            actor=request.user,
        )
        return _membership_response(membership)

    @_membership_action(None, "Withdraw a cancellation, or restart a cancelled membership")
    @action(detail=True, methods=["post"], required_permission="billing.change_membership")
    def reactivate(self, request: Request, pk: str | None = None) -> Response:
        membership = self.get_object()
        memberships.membership_reactivate(membership, actor=request.user)
        return _membership_response(membership)

    @_membership_action(
        s.AddOnAddSerializer, "Add an add-on now (the rest of the period is prorated)"
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="add-addon",
        required_permission="billing.change_membership",
    )
    def add_addon(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.AddOnAddSerializer, request)
        membership = self.get_object()
        memberships.membership_add_addon(
            membership, data["addon"], quantity=data["quantity"], actor=request.user
        )
        return _membership_response(membership)

    @_membership_action(s.AddOnChangeSerializer, "Remove an add-on at the end of the period")
    @action(
        detail=True,
        methods=["post"],
        url_path="remove-addon",
        required_permission="billing.change_membership",
    )
    def remove_addon(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.AddOnChangeSerializer, request)
        membership = self.get_object()
        memberships.membership_remove_addon(membership, data["addon"], actor=request.user)
        return _membership_response(membership)

    @_membership_action(s.GrantFreeTimeSerializer, "Grant free days")
    @action(
        detail=True,
        methods=["post"],
        url_path="grant-free-time",
        required_permission="billing.grant_free_time",
    )
    def grant_free_time(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.GrantFreeTimeSerializer, request)
        membership = self.get_object()
        memberships.membership_grant_free_time(
            membership, days=data["days"], reason=data["reason"], actor=request.user
        )
        return _membership_response(membership)

    @_membership_action(s.ApplyCouponSerializer, "Apply a coupon")
    @action(
        detail=True,
        methods=["post"],
        url_path="apply-coupon",
        required_permission="billing.change_membership",
    )
    def apply_coupon(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.ApplyCouponSerializer, request)
        membership = self.get_object()
        memberships.membership_apply_coupon(membership, code=data["code"], actor=request.user)
        return _membership_response(membership)


# --- Invoices -------------------------------------------------------------------------


class InvoiceFilter(filters.FilterSet):
    class Meta:
        model = Invoice
        fields = ["status", "member", "membership", "billing_reason"]


@extend_schema_view(list=extend_schema(parameters=[SEARCH_PARAMETER]))
class InvoiceViewSet(
    ActionPermissionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Invoices are read-only; money moves through the actions below and credit notes."""

    serializer_class = s.InvoiceSerializer
    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers
    queryset = (
        Invoice.objects.select_related("member")
        .prefetch_related(
            "lines", "payments__refunds", "payments__received_by", "credit_notes", "attempts"
        )
        .order_by("-created_at", "-pk")
    )
    filter_backends = [filters.DjangoFilterBackend, MemberSearchBackend, OrderingFilter]
    filterset_class = InvoiceFilter
    ordering_fields = ["due_on", "issued_at", "total"]

    def _detail(self, invoice: Invoice) -> dict[str, Any]:
        fresh = self.get_queryset().get(pk=invoice.pk)
        return dict(s.InvoiceSerializer(fresh).data)

    @extend_schema(
        summary="Charge the card on file now",
        request=None,
        responses={200: s.PaymentAttemptSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], required_permission="billing.take_payment")
    def charge(self, request: Request, pk: str | None = None) -> Response:
        attempt = payments.invoice_charge(self.get_object(), trigger=AttemptTrigger.STAFF)
        return Response(s.PaymentAttemptSerializer(attempt).data)

    @extend_schema(
        summary="Record a cash, PromptPay or transfer payment",
        request=s.ManualPaymentSerializer,
        responses={201: s.PaymentSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], required_permission="billing.take_payment")
    def pay(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.ManualPaymentSerializer, request)
        payment = invoices.payment_record_manual(
            self.get_object(),
            amount=data["amount"],
            source=data["source"],
            reference=data.get("reference", ""),
            user=request.user,
        )
        return Response(s.PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Void an open invoice nothing was paid on",
        request=None,
        responses={200: s.InvoiceSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], required_permission="billing.add_creditnote")
    def void(self, request: Request, pk: str | None = None) -> Response:
        invoice = invoices.invoice_void(self.get_object(), user=request.user)
        return Response(self._detail(invoice))

    @extend_schema(
        summary="Issue a credit note",
        request=s.CreditNoteCreateSerializer,
        responses={201: s.CreditNoteSerializer, **CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="credit-notes",
        required_permission="billing.add_creditnote",
    )
    def credit_notes(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.CreditNoteCreateSerializer, request)
        note = invoices.credit_note_issue(
            self.get_object(), amount=data["amount"], reason=data["reason"], user=request.user
        )
        return Response(s.CreditNoteSerializer(note).data, status=status.HTTP_201_CREATED)


# --- Payments -------------------------------------------------------------------------


class PaymentViewSet(
    ActionPermissionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Payments received.  Refunding one issues a credit note on its invoice."""

    serializer_class = s.PaymentSerializer
    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers
    queryset = (
        Payment.objects.select_related("received_by")
        .prefetch_related("refunds")
        .order_by("-received_at", "-pk")
    )
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["invoice", "source", "invoice__member"]
    ordering_fields = ["received_at", "amount"]

    @extend_schema(
        summary="Refund (part of) a payment",
        request=s.RefundCreateSerializer,
        description="201: refunded.  202: the card gateway has not answered yet; the "
        "refund stays `pending` and is asked again automatically.",
        responses={201: s.RefundSerializer, 202: s.RefundSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], required_permission="billing.refund_payment")
    def refund(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.RefundCreateSerializer, request)
        refund = refunds.payment_refund(
            self.get_object(), amount=data["amount"], reason=data["reason"], user=request.user
        )
        code = status.HTTP_201_CREATED if refund.succeeded else status.HTTP_202_ACCEPTED
        return Response(s.RefundSerializer(refund).data, status=code)


# --- Payment methods ------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        summary="Store a card by its gateway token",
        description="Card numbers are refused (`card_number_refused`); "
        "a token the gateway does not know gives `invalid_token`.",
        request=s.PaymentMethodAttachSerializer,
        responses={201: s.PaymentMethodSerializer, 400: s.ErrorSerializer},
    )
)
class PaymentMethodViewSet(
    ActionPermissionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Stored cards: a gateway token plus display details, never a card number."""

    serializer_class = s.PaymentMethodSerializer
    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers
    queryset = PaymentMethod.objects.order_by("-created_at", "-pk")
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["member", "status", "gateway", "is_default"]
    ordering_fields = ["created_at"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.PaymentMethodAttachSerializer, request)
        try:
            method = payments.payment_method_attach(
                data["member"],
                gateway=data["gateway"],
                token=data["token"],
                make_default=data["make_default"],
            )
        except GatewayError:
            # The gateway's message may quote the token: it is neither logged nor echoed.
            raise s.InvalidToken(
                {"token": ["The payment gateway does not recognise this token."]}
            ) from None
        method.refresh_from_db()
        return Response(s.PaymentMethodSerializer(method).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Make this the member's default card",
        request=None,
        responses={200: s.PaymentMethodSerializer, **CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="set-default",
        required_permission="billing.add_paymentmethod",
    )
    def set_default(self, request: Request, pk: str | None = None) -> Response:
        method = payments.payment_method_set_default(self.get_object())
        return Response(s.PaymentMethodSerializer(method).data)

    @extend_schema(
        summary="Remove a stored card",
        request=None,
        responses={200: s.PaymentMethodSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], required_permission="billing.add_paymentmethod")
    def detach(self, request: Request, pk: str | None = None) -> Response:
        method = payments.payment_method_detach(self.get_object())
        return Response(s.PaymentMethodSerializer(method).data)


# --- Webhooks -------------------------------------------------------------------------


def _refusal(code: str, message: str, http_status: int) -> Response:
    return Response({"code": code, "message": message}, status=http_status)


class GatewayWebhookView(APIView):
    """Events from a payment gateway.  No login: the gateway's signature is the proof.

    The body is read as raw bytes (the signature covers them exactly) and never parsed
    by DRF.  Whatever arrives, the answer is 200 or a 4xx, never a 500.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Receive a gateway event",
        auth=[],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: s.WebhookResultSerializer,
            400: OpenApiResponse(s.ErrorSerializer, description="Bad signature or payload."),
            404: OpenApiResponse(s.ErrorSerializer, description="No such gateway."),
        },
    )
    def post(self, request: Request, gateway: str) -> Response:
        if gateway not in GATEWAY_NAMES:
            return _refusal("unknown_gateway", "No such payment gateway.", 404)
        try:
            body = request._request.body
        except RequestDataTooBig:
            return _refusal("payload_too_large", "The payload is too large.", 413)
        try:
            outcome = webhooks.webhook_receive(gateway, body, dict(request.headers))
        except WebhookSignatureError as exc:
            logger.info("Webhook from %s refused: %s", gateway, exc)
            return _refusal("invalid_signature", "The signature does not verify.", 400)
        except GatewayError:
            return _refusal("unknown_gateway", "This payment gateway is not configured.", 404)
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeError) as exc:
            # Only the error's type: its text may quote the payload.
            logger.warning("Webhook from %s could not be applied: %s", gateway, type(exc).__name__)
            return _refusal("invalid_payload", "The payload could not be processed.", 400)
        except (DomainError, DatabaseError) as exc:
            # Nothing was recorded: the gateway delivers the event again later.
            logger.error("Webhook from %s not applied: %s", gateway, type(exc).__name__)
            return _refusal("webhook_not_applied", "Try again later.", 503)
        return Response({"result": outcome})
