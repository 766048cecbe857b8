"""The privacy registry: what each app holds about a member, and how it is exported and
erased.  Filled by each app's ``privacy.py`` from its ``AppConfig.ready``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.functional import Promise

# What an erase handler is given: the member (still with their details, so a handler can
# freeze what the law keeps before ``members`` anonymises the profile) and the moment.
EraseHandler = Callable[[Any, dt.datetime], int]
# The member's rows of one model.
RowsFor = Callable[[Any], "models.QuerySet[Any]"]
# Given the cut-off (records older than this are past their legal retention), anonymise
# what was kept; returns how many rows changed.
RetentionHandler = Callable[[dt.datetime], int]


@dataclass(frozen=True)
class ModelPolicy:
    """How one model's rows about a member are exported and erased."""

    label: str  # "billing.Invoice"
    rows: RowsFor
    # Fields never exported (gateway tokens, keyed hashes): not the member's data to take
    # away, and a risk if the file leaks.
    secret: tuple[str, ...] = ()
    # Anonymises (or deletes) the member's rows; ``None`` when they are kept as they are,
    # and then ``retained`` says why.
    erase: EraseHandler | None = None
    retained: str | Promise = ""  # translatable: the desk's privacy page shows it
    after_retention: RetentionHandler | None = None
    # Erase handlers run in this order, smallest first (freezing tax documents before the
    # profile they read from is anonymised).
    order: int = 50
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.label)

    @property
    def file_stem(self) -> str:
        return self.label.replace(".", "_").lower()


_policies: dict[str, ModelPolicy] = {}
# Models that point at a member but hold nothing to export or erase, with the reason.
_excluded: dict[str, str] = {}


def register(policy: ModelPolicy) -> None:
    """Add (or replace: ``ready`` may run more than once in tests) a model's policy."""
    if policy.erase is None and not str(policy.retained).strip():
        raise ValueError(f"{policy.label}: give an erase handler or say why rows are kept")
    _policies[policy.label] = policy


def exclude(label: str, reason: str) -> None:
    """A model that links to members but holds no personal data of theirs, and why."""
    if not reason.strip():
        raise ValueError(f"{label}: an exclusion needs its reason")
    _excluded[label] = reason


def policies() -> list[ModelPolicy]:
    """Every registered policy, in export order (app, then model)."""
    return sorted(_policies.values(), key=lambda policy: policy.label)


def erase_order() -> list[ModelPolicy]:
    return sorted(_policies.values(), key=lambda policy: (policy.order, policy.label))


def policy_for(label: str) -> ModelPolicy | None:
    return _policies.get(label)


def excluded() -> dict[str, str]:
    return dict(_excluded)
