from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.filters import BaseFilterBackend

from members.models import Member
from members.selectors import member_search

from .serializers import MemberSerializer


class MemberFilter(filters.FilterSet):
    joined_after = filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    joined_before = filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = Member
        fields = ["status", "language", "household", "lead_source"]


class MemberSearchBackend(BaseFilterBackend):
    """``?q=``: the front desk's search (name, email, any phone format, member number)."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        return member_search(request.query_params.get("q", ""), queryset)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Name, email, phone or member number"),
        ]
    )
)
class MemberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Members.  Staff only; each method needs the matching model permission."""

    serializer_class = MemberSerializer
    queryset = Member.objects.select_related("household").order_by("-member_number")
    filter_backends = [
        filters.DjangoFilterBackend,
        MemberSearchBackend,
    ]
    filterset_class = MemberFilter
