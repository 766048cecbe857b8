"""The dunning queue and its actions for staff and integrations.

Reading needs ``dunning.view_dunningcase`` (the front desk has it); every action needs
``dunning.act_on_dunning`` (managers and owners).  Each action validates its input and
calls one ``dunning.services.staff`` function; refusals come back as 409 with a stable
``code`` and ``reason``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend, OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.parsers import JSON_ONLY
from members.selectors import member_search

from ..models import DunningCase
from ..services import staff
from . import serializers as s

ACT = "dunning.act_on_dunning"
REFUSED = {
    400: OpenApiResponse(s.ErrorSerializer, description="Invalid input (field errors)."),
    409: OpenApiResponse(s.ErrorSerializer, description="Refused by a dunning rule."),
}
SEARCH_PARAMETER = OpenApiParameter(
    "q", str, description="Member name, email, phone or member number"
)


class MemberSearchBackend(BaseFilterBackend):
    """``?q=``: the front desk's member search, applied to the case's member."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        term = request.query_params.get("q", "").strip()
        if not term:
            return queryset
        return queryset.filter(member__in=member_search(term).values("pk"))


class CaseFilter(filters.FilterSet):
    class Meta:
        model = DunningCase
        fields = ["status", "stage", "last_decline_category", "member", "currency"]


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _action_schema(request_serializer: Any, summary: str) -> Any:
    return extend_schema(
        summary=summary,
        request=request_serializer,
        responses={200: s.DunningCaseDetailSerializer, **REFUSED},
    )


@extend_schema_view(list=extend_schema(parameters=[SEARCH_PARAMETER]))
class DunningCaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Accounts in dunning: stage, amount at risk, last decline and next action."""

    serializer_class = s.DunningCaseSerializer
    parser_classes = JSON_ONLY  # money moves in JSON only: integers stay integers
    queryset = DunningCase.objects.select_related("member", "invoice").order_by(
        "next_action_at", "pk"
    )
    filter_backends = [filters.DjangoFilterBackend, MemberSearchBackend, OrderingFilter]
    filterset_class = CaseFilter
    ordering_fields = ["next_action_at", "amount_due", "opened_at", "stage_position"]
    required_permission: str | None = None

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "list":
            return s.DunningCaseSerializer
        return s.DunningCaseDetailSerializer

    def get_queryset(self) -> QuerySet[DunningCase]:
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related("events__actor", "retries", "messages")
        return queryset

    def _detail(self, case: DunningCase) -> Response:
        fresh = self.get_queryset().get(pk=case.pk)
        return Response(s.DunningCaseDetailSerializer(fresh).data)

    @extend_schema(
        summary="Retry the card on file now (network rules apply)",
        request=None,
        responses={200: s.RetryOutcomeSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"], url_path="retry-now", required_permission=ACT)
    def retry_now(self, request: Request, pk: str | None = None) -> Response:
        case = self.get_object()
        outcome = staff.retry_now(case, user=request.user)
        case.refresh_from_db()
        return Response({"outcome": outcome, "case": s.DunningCaseSerializer(case).data})

    @_action_schema(s.PauseSerializer, "Pause escalation until a promised date")
    @action(detail=True, methods=["post"], required_permission=ACT)
    def pause(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.PauseSerializer, request)
        case = staff.pause(
            self.get_object(), until=data["until"], reason=data.get("reason", ""), user=request.user
        )
        return self._detail(case)

    @_action_schema(s.ReasonSerializer, "Waive the late fee (credit note)")
    @action(detail=True, methods=["post"], url_path="waive-fee", required_permission=ACT)
    def waive_fee(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.ReasonSerializer, request)
        case = self.get_object()
        staff.waive_fee(case, reason=data.get("reason", ""), user=request.user)
        return self._detail(case)

    @_action_schema(s.OfferPlanSerializer, "Split the overdue balance into 2–4 installments")
    @action(detail=True, methods=["post"], url_path="offer-plan", required_permission=ACT)
    def offer_plan(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.OfferPlanSerializer, request)
        case = self.get_object()
        staff.offer_plan(
            case,
            installments=data["installments"],
            interval_days=data["interval_days"],
            first_due_on=data.get("first_due_on"),
            user=request.user,
        )
        return self._detail(case)

    @_action_schema(None, "Hand the account to collections")
    @action(detail=True, methods=["post"], url_path="send-to-collections", required_permission=ACT)
    def send_to_collections(self, request: Request, pk: str | None = None) -> Response:
        case = staff.send_to_collections(self.get_object(), user=request.user)
        return self._detail(case)

    @_action_schema(s.ReasonSerializer, "Write the debt off (uncollectible)")
    @action(detail=True, methods=["post"], url_path="write-off", required_permission=ACT)
    def write_off(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.ReasonSerializer, request)
        case = staff.write_off(self.get_object(), reason=data.get("reason", ""), user=request.user)
        return self._detail(case)
