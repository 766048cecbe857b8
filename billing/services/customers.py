"""Gateway customers: the record at a gateway that a payer's saved cards belong to.

A hosted card form (a Stripe SetupIntent) must name the customer, or the card it saves
cannot be charged off-session later.  Each payer gets one customer per gateway, created
on first need with an idempotency key derived from the payer, so a retry or a race
never creates two.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from members.models import Member

from ..gateways import get_gateway
from ..gateways.interface import CustomerRequest
from ..models import GatewayCustomer, PaymentMethod


def gateway_customer_for(member: Member, gateway_name: str) -> str:
    """The gateway's customer id for ``member`` (a payer), created once if need be.

    A customer already named by one of the member's saved cards is adopted.  Raises
    ``GatewayError`` when the gateway cannot be asked; nothing is stored then.
    """
    known = (
        GatewayCustomer.objects.filter(member=member, gateway=gateway_name)
        .values_list("reference", flat=True)
        .first()
    )
    if known:
        return str(known)
    reference = (
        PaymentMethod.objects.filter(member=member, gateway=gateway_name)
        .exclude(customer_reference="")
        .order_by("-is_default", "-pk")
        .values_list("customer_reference", flat=True)
        .first()
    )
    if not reference:
        reference = get_gateway(gateway_name).create_customer(
            CustomerRequest(
                idempotency_key=f"customer-{gateway_name}-{member.pk}",
                name=member.full_name,
                email=member.email or "",
                metadata={"member_id": str(member.pk), "member_number": str(member.member_number)},
            )
        )
    try:
        with transaction.atomic():
            GatewayCustomer.objects.create(member=member, gateway=gateway_name, reference=reference)
    except IntegrityError:  # a concurrent request stored it first: the same key, the same id
        return str(
            GatewayCustomer.objects.values_list("reference", flat=True).get(
                member=member, gateway=gateway_name
            )
        )
    return str(reference)
