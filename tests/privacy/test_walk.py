"""The model walk (issue 16, point 4): every model that points at a member, directly or
through other records, is in the privacy registry, both exported and erased (or kept,
with the reason), or excluded with a written reason.  A new app that forgets fails here."""

from __future__ import annotations

import pytest
from django.apps import apps

from members.models import Member
from members.privacy import registry

from .paths import member_linked_models


def test_every_model_that_points_at_a_member_is_exported_and_erased():
    linked = set(member_linked_models()) | {Member._meta.label}
    excluded = registry.excluded()
    missing = sorted(
        label for label in linked if registry.policy_for(label) is None and label not in excluded
    )
    assert not missing, (
        "These models point at a member but are in neither the export nor the erasure "
        f"registry (members.privacy): {missing}. Register them in their app's privacy.py."
    )
    for label in linked - set(excluded):
        policy = registry.policy_for(label)
        assert policy is not None
        assert policy.erase is not None or str(policy.retained).strip(), label


def test_the_walk_finds_indirect_links():
    """The yardstick itself: rows reached only through another record count."""
    linked = member_linked_models()
    assert "payment__invoice__member" in linked["billing.Refund"]
    assert "pos.StockMovement" in linked
    assert any(path.endswith("__member") for path in linked["billing.InvoiceLine"])


def test_every_registered_policy_names_an_installed_model_with_rows_for_a_member():
    for policy in registry.policies():
        model = apps.get_model(policy.label)
        assert policy.model is model
        for name in policy.secret:
            assert any(name in (f.name, f.attname) for f in model._meta.concrete_fields), (
                policy.label,
                name,
            )


def test_an_exclusion_or_a_kept_model_must_say_why():
    with pytest.raises(ValueError):
        registry.exclude("members.Lead", "  ")
    with pytest.raises(ValueError):
        registry.register(registry.ModelPolicy("members.Lead", rows=lambda member: None))  # type: ignore[arg-type, return-value]
    assert registry.policy_for("members.Lead").erase is not None  # unchanged
