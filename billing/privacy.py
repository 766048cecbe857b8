"""What billing holds about a member, for the privacy registry (``members.privacy``).

Invoices, payments, refunds, credit notes and account entries are money and tax records:
kept unchanged for the legal retention period (Revenue Code: 5 years).  At erasure the
buyer a tax invoice names is frozen (``InvoiceBuyer``) so the document stays as issued;
the retention task anonymises it once the period is over.  Saved cards lose their gateway
token, brand, last 4 digits and fingerprint; live memberships end at once."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import Member
from members.privacy.erasure import register_blocker
from members.privacy.registry import ModelPolicy, RowsFor, register

from .documents.tax_invoice import buyer
from .models import (
    LIVE_STATUSES,
    CreditNote,
    GatewayCustomer,
    Invoice,
    InvoiceBuyer,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    Membership,
    MembershipAddOn,
    MembershipEvent,
    MembershipFreeze,
    MrrSnapshot,
    Notification,
    PackPurchase,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    PaymentMethodStatus,
    PromptPayRequest,
    PromptPayRequestInvoice,
    Refund,
)

MONEY_KEPT = gettext_lazy(
    "A money and tax record: kept unchanged for the legal retention period (Revenue Code, "
    "5 years). It holds amounts, dates and numbers, not the member's contact details."
)
HISTORY_KEPT = gettext_lazy(
    "Membership history (statuses, dates, plan): needed to account for the invoices kept; "
    "it holds no contact details."
)


def _memberships(member: Member) -> QuerySet[Membership]:
    return Membership.objects.filter(Q(member=member) | Q(payer=member))


def freeze_invoice_buyers(member: Member, now: dt.datetime) -> int:
    """Before the profile is anonymised: the buyer each issued invoice names, as it is now."""
    party = buyer(member)
    issued = Invoice.objects.filter(member=member, number__isnull=False).exclude(
        buyer_record__isnull=False
    )
    records = [
        InvoiceBuyer(
            invoice=invoice,
            name=party.name,
            address=party.address,
            tax_id=party.tax_id,
            branch=party.branch,
            frozen_at=now,
        )
        for invoice in issued.only("pk")
    ]
    InvoiceBuyer.objects.bulk_create(records)
    return len(records)


def end_memberships(member: Member, now: dt.datetime) -> int:
    """Live memberships end today, without fees (the member is leaving)."""
    from .services.memberships import membership_cancel

    ended = 0
    for membership in _memberships(member).filter(status__in=LIVE_STATUSES):
        membership_cancel(
            membership,
            at_period_end=False,
            waive_fees=True,
            reason="other",
            channel="privacy",
        )
        ended += 1
    return ended


def erase_cards(member: Member, now: dt.datetime) -> int:
    """Saved cards: detached, with nothing left that identifies the card."""
    count = 0
    for method in PaymentMethod.objects.filter(member=member):
        PaymentMethod.objects.filter(pk=method.pk).update(
            token=f"erased-{method.pk}",
            customer_reference="",
            brand="",
            last4="",
            fingerprint="",
            is_default=False,
            status=PaymentMethodStatus.DETACHED,
            updated_at=now,
        )
        count += 1
    return count


def anonymise_invoice_buyers(cutoff: dt.datetime) -> int:
    """Past the retention period: the frozen buyer of an erased member's invoice goes."""
    from config import clock

    due = InvoiceBuyer.objects.filter(
        anonymised_at__isnull=True,
        invoice__member__erased_at__isnull=False,
        invoice__issued_at__lt=cutoff,
    )
    return due.update(
        name=_("Erased member"), address="", tax_id="", branch="", anonymised_at=clock.now()
    )


def billing_blockers(member: Member) -> list[str]:
    owing = Invoice.objects.filter(member=member, status=InvoiceStatus.OPEN)
    count = owing.count()
    if count:
        return [
            _("%(count)d invoice(s) are still open: take the payment or write them off first.")
            % {"count": count}
        ]
    return []


def register_billing() -> None:
    register_blocker(billing_blockers)
    register(
        ModelPolicy(
            "billing.Membership",
            rows=_memberships,
            erase=end_memberships,
            order=10,
        )
    )
    entries1: list[tuple[str, RowsFor]] = [
        (
            "billing.MembershipAddOn",
            lambda m: MembershipAddOn.objects.filter(membership__in=_memberships(m)),
        ),
        (
            "billing.MembershipEvent",
            lambda m: MembershipEvent.objects.filter(membership__in=_memberships(m)),
        ),
        ("billing.MrrSnapshot", lambda m: MrrSnapshot.objects.filter(member=m)),
    ]
    for label, rows in entries1:
        register(ModelPolicy(label, rows=rows, retained=HISTORY_KEPT))
    register(
        ModelPolicy(
            "billing.MembershipFreeze",
            rows=lambda m: MembershipFreeze.objects.filter(membership__in=_memberships(m)),
            # The dates stay; the reason typed at the desk may say why (health, travel).
            erase=lambda m, now: MembershipFreeze.objects.filter(
                membership__in=_memberships(m)
            ).update(reason=""),
        )
    )
    register(
        ModelPolicy(
            "billing.Invoice",
            rows=lambda m: Invoice.objects.filter(member=m),
            erase=freeze_invoice_buyers,
            retained=MONEY_KEPT,
            order=5,
        )
    )
    register(
        ModelPolicy(
            "billing.InvoiceBuyer",
            rows=lambda m: InvoiceBuyer.objects.filter(invoice__member=m),
            retained=gettext_lazy(
                "The buyer a tax invoice names, frozen at erasure so the document stays "
                "as issued; anonymised when the retention period ends."
            ),
            after_retention=anonymise_invoice_buyers,
        )
    )
    entries2: list[tuple[str, RowsFor]] = [
        ("billing.InvoiceLine", lambda m: InvoiceLine.objects.filter(invoice__member=m)),
        ("billing.CreditNote", lambda m: CreditNote.objects.filter(invoice__member=m)),
        ("billing.LedgerEntry", lambda m: LedgerEntry.objects.filter(member=m)),
        ("billing.Payment", lambda m: Payment.objects.filter(invoice__member=m)),
        ("billing.Refund", lambda m: Refund.objects.filter(payment__invoice__member=m)),
        ("billing.PackPurchase", lambda m: PackPurchase.objects.filter(member=m)),
        ("billing.PromptPayRequest", lambda m: PromptPayRequest.objects.filter(member=m)),
        (
            "billing.PromptPayRequestInvoice",
            lambda m: PromptPayRequestInvoice.objects.filter(request__member=m),
        ),
    ]
    for label, rows in entries2:
        register(ModelPolicy(label, rows=rows, retained=MONEY_KEPT))
    register(
        ModelPolicy(
            "billing.PaymentAttempt",
            rows=lambda m: PaymentAttempt.objects.filter(invoice__member=m),
            secret=("idempotency_key", "raw_response"),
            # The charge's amount and outcome stay; what identifies the card goes.
            erase=lambda m, now: PaymentAttempt.objects.filter(invoice__member=m).update(
                card_fingerprint="", raw_response={}
            ),
        )
    )
    register(
        ModelPolicy(
            "billing.PaymentMethod",
            rows=lambda m: PaymentMethod.objects.filter(member=m),
            secret=("token", "customer_reference", "fingerprint"),
            erase=erase_cards,
            order=20,
        )
    )
    register(
        ModelPolicy(
            "billing.GatewayCustomer",
            rows=lambda m: GatewayCustomer.objects.filter(member=m),
            secret=("reference",),
            erase=lambda m, now: GatewayCustomer.objects.filter(member=m).delete()[0],
            order=25,
        )
    )
    register(
        ModelPolicy(
            "billing.Notification",
            rows=lambda m: Notification.objects.filter(member=m),
            erase=lambda m, now: Notification.objects.filter(member=m).update(subject="", error=""),
        )
    )
