"""The catalogue: plans on sale.  A sold plan's price terms never change; sell a new plan."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..models import Plan

# What members on a plan are billed by.  Once anyone holds the plan these are frozen.
PLAN_TERMS_FIXED_ONCE_SOLD = ("price", "currency", "interval", "interval_count", "kind")


@transaction.atomic
def plan_create(**fields: Any) -> Plan:
    plan = Plan(**fields)
    plan.full_clean()
    plan.save()
    return plan


@transaction.atomic
def plan_update(plan: Plan, **fields: Any) -> Plan:
    """Change a plan.  Raises ``ValidationError`` on a fixed term of a plan already sold."""
    if plan.pk and plan.memberships.exists():
        fixed = {
            name: [_("Members are billed on this; make a new plan to change it.")]
            for name in PLAN_TERMS_FIXED_ONCE_SOLD
            if name in fields and fields[name] != getattr(plan, name)
        }
        if fixed:
            raise ValidationError(fixed)
    for name, value in fields.items():
        setattr(plan, name, value)
    plan.full_clean()
    plan.save()
    return plan
