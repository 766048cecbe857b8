"""API fields for hot endpoints."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.db import get_with_related

BIGINT_MAX = 2**63 - 1


class RowByKeyField(serializers.PrimaryKeyRelatedField):
    """A ``PrimaryKeyRelatedField`` that reads its row (and the rows its required foreign
    keys ``related`` lead to) in one prepared statement written once, not through a
    queryset built and compiled for every request (``config.db.get_with_related``).
    Same answers: the object, or ``does_not_exist`` / ``incorrect_type``."""

    def __init__(self, *, model: type[Any], related: tuple[str, ...] = (), **kwargs: Any):
        self.model, self.related = model, related
        kwargs.setdefault("queryset", model._default_manager.select_related(*related))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = int(data)
        except ValueError:
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < pk <= BIGINT_MAX:
            self.fail("does_not_exist", pk_value=data)
        try:
            return get_with_related(self.model, pk, *self.related)
        except self.model.DoesNotExist:
            self.fail("does_not_exist", pk_value=data)
