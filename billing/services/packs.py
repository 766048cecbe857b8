"""Packs and passes: selling them and using them up.

A visit on a pack is taken with one conditional UPDATE, so two gates admitting the
same member at once can never take the last visit twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F

from config import clock
from members.models import Member

from ..models import BillingReason, LineKind, Pack, PackPurchase
from .invoices import LineSpec, invoice_create


@transaction.atomic
def pack_purchase(
    member: Member, pack: Pack, *, valid_from: dt.date | None = None, charge: bool = True
) -> PackPurchase:
    """Sell ``pack`` to ``member``: an invoice to the payer, and the pack valid from today."""
    start = valid_from or clock.today()
    invoice = invoice_create(
        member=member.payer,
        currency=pack.currency,
        reason=BillingReason.PACK,
        specs=[
            LineSpec(
                LineKind.PACK,
                pack.name,
                pack.price,
                pack.tax_rate_bp,
                inclusive=True,
                pack_id=pack.pk,
            )
        ],
    )
    purchase = PackPurchase.objects.create(
        member=member,
        pack=pack,
        remaining=pack.quantity,
        valid_from=start,
        expires_on=start + dt.timedelta(days=pack.valid_days),
        invoice=invoice,
    )
    if charge and invoice.amount_due:

        def charge_now() -> Any:
            from .payments import invoice_charge

            return invoice_charge(invoice, trigger="customer")

        transaction.on_commit(charge_now)
    return purchase


def pack_visit_take(purchase_id: int) -> bool:
    """Use one visit or credit of a pack; ``False`` if none was left."""
    return bool(
        PackPurchase.objects.filter(pk=purchase_id, remaining__gt=0).update(
            remaining=F("remaining") - 1
        )
    )


def pack_grant(member: Member, pack: Pack, *, valid_from: dt.date | None = None) -> PackPurchase:
    """Give ``member`` a pack paid elsewhere (a till's sale, whose receipt is the tax
    document): valid from today, with no invoice of its own."""
    start = valid_from or clock.today()
    return PackPurchase.objects.create(
        member=member,
        pack=pack,
        remaining=pack.quantity,
        valid_from=start,
        expires_on=start + dt.timedelta(days=pack.valid_days),
    )


def pack_revoke(purchase_id: int) -> None:
    """A refunded pack: nothing left on it, so the gate no longer admits on it."""
    PackPurchase.objects.filter(pk=purchase_id).update(remaining=0)
