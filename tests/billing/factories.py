"""Billing test data, made through the services wherever a workflow is involved."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from billing.models import Membership, PaymentMethod, Plan
from billing.services import memberships, payments
from members.models import Member
from tests.factories import MemberFactory


class PlanFactory(factory.django.DjangoModelFactory[Plan]):
    class Meta:
        model = Plan

    code = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"Monthly {n}")
    interval = "month"
    interval_count = 1
    price = 150_000  # ฿1,500.00
    currency = "THB"
    tax_rate_bp = 700
    prices_include_tax = True


def card(member: Member, token: str = "tok_ok") -> PaymentMethod:
    """A sandbox card for ``member``; each member gets their own card with that behaviour."""
    if "." not in token:
        token = f"{token}.m{member.pk}"
    return payments.payment_method_attach(member, gateway="sandbox", token=token)


def signed_up(
    *,
    plan: Plan | None = None,
    token: str | None = "tok_ok",
    member: Member | None = None,
    start_on: dt.date | None = None,
    **kwargs: Any,
) -> Membership:
    """A member with a card (``token``) signed up to ``plan``; the first invoice is charged."""
    member = member or MemberFactory()
    if token:
        card(member.payer, token)
    membership = memberships.membership_sign_up(
        member, plan or PlanFactory(), start_on=start_on, **kwargs
    )
    membership.refresh_from_db()
    return membership
