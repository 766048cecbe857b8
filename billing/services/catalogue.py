"""The catalogue: plans on sale.  A sold plan's price terms never change; sell a new plan."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from members.audit import model_change_record, model_state

from ..models import Plan

# What members on a plan are billed by.  Once anyone holds the plan these are frozen.
PLAN_TERMS_FIXED_ONCE_SOLD = ("price", "currency", "interval", "interval_count", "kind")


@transaction.atomic
def plan_create(**fields: Any) -> Plan:
    plan = Plan(**fields)
    plan.full_clean()
    plan.save()
    model_change_record(plan, None, _plan_state(plan))
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
    before = _plan_state(plan)
    for name, value in fields.items():
        setattr(plan, name, value)
    plan.full_clean()
    plan.save()
    model_change_record(plan, before, _plan_state(plan))
    return plan


def _plan_state(plan: Plan) -> dict[str, Any]:
    """A plan as the audit trail keeps it (as the admin's edits are recorded)."""
    fields = ["zone_code", "weekdays", "start_time", "end_time"]
    rows = [
        {name: getattr(row, name) for name in fields} for row in plan.entitlements.order_by("pk")
    ]
    return model_state(plan, {"entitlements": rows})
