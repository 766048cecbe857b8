"""Every way a model's rows point at a member, found by walking foreign keys: the
independent yardstick the privacy registry is checked against."""

from __future__ import annotations

from django.apps import apps
from django.db import models

from members.models import Member

MAX_HOPS = 4


def member_paths(model: type[models.Model], hops: int = MAX_HOPS) -> list[str]:
    """Lookups from ``model`` to a member (``"invoice__member"``), through forward
    foreign keys and one-to-ones, at most ``hops`` long, never through the same model
    twice."""
    found: list[str] = []

    def walk(
        current: type[models.Model], prefix: str, seen: tuple[type[models.Model], ...]
    ) -> None:
        if len(seen) > hops:
            return
        for field in current._meta.concrete_fields:
            if not field.is_relation or field.related_model is None:
                continue
            target = field.related_model
            path = f"{prefix}{field.name}"
            if target is Member:
                found.append(path)
                continue
            if target in seen or target._meta.label == "auth.User":
                continue
            walk(target, f"{path}__", (*seen, target))

    walk(model, "", (model,))
    return found


def member_linked_models() -> dict[str, list[str]]:
    """Every installed model with a path to a member, and its paths."""
    linked = {}
    for model in apps.get_models():
        if model is Member:
            continue
        paths = member_paths(model)
        if paths:
            linked[model._meta.label] = paths
    return linked
