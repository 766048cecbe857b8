"""The hosted "update your card and pay" page, behind a signed link (``dunning.links``).

The page shows what the member owes on the case and lets them pay it on-session with
the card on file or with a new card.  In the demo a new card is a sandbox token typed
into a form; in production the card form is the gateway's own (Stripe Elements with a
SetupIntent), so card numbers never reach this server.  Either way the card is stored
with ``billing.services.payments.payment_method_attach`` and the invoices are charged
with ``invoice_charge(trigger="customer")``; recovery then follows from billing's hook.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, F, Value, When

from billing.gateways.interface import CardSetup
from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentAttempt,
    PaymentMethod,
)
from billing.services.online_pay import (
    PayOutcome,
    authentication_finished,
    card_setup_start,
    pay_on_session,
)
from billing.services.payments import default_payment_method
from config import clock
from members.models import Member

from ..links import LinkInvalid, PayLink, read_token
from ..models import DeclineCategory, DunningCase, DunningMessage, EventKind, MessageStatus
from ..selectors import installments_by_case, pay_page_invoices, principal_invoices
from .events import event_add
from .messages import BEFORE_CLICKED

logger = logging.getLogger(__name__)


@dataclass
class PayPage:
    """What the page shows for one link."""

    link: PayLink
    member: Member
    invoice: Invoice
    case: DunningCase | None
    owed: list[Invoice] = field(default_factory=list)
    # Owed, but written off or with collections: payable at the desk, not on this page.
    held: list[Invoice] = field(default_factory=list)
    method: PaymentMethod | None = None
    channel: str = ""

    @property
    def total(self) -> int:
        return sum(invoice.amount_due for invoice in self.owed)

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def settled(self) -> bool:
        return not self.owed and not self.held

    @property
    def needs_new_card(self) -> bool:
        """The card on file had a hard decline: only a different card can pay."""
        case = self.case
        return bool(
            case is not None
            and case.block_reason == DeclineCategory.HARD
            and (self.method is None or self.method.fingerprint == case.blocked_fingerprint)
        )


def page_for(token: str) -> PayPage:
    """The page a token opens; raises ``LinkInvalid`` or ``LinkExpired``."""
    link = read_token(token)
    invoice = (
        Invoice.objects.select_related("member")
        .filter(pk=link.invoice_id, member_id=link.member_id)
        .first()
    )
    if invoice is None:
        raise LinkInvalid
    case = DunningCase.objects.filter(invoice=invoice).select_related("late_fee_invoice").first()
    page = PayPage(link=link, member=invoice.member, invoice=invoice, case=case)
    today = clock.today()
    if case is not None:
        installments = installments_by_case([case.pk]).get(case.pk)
        # The member was asked once for a new card for every invoice on it: this page
        # pays them all (and the message that asked says so: ``pay_page_invoices``).
        page.owed = pay_page_invoices(case, installments, today)
        page.held = [
            invoice
            for invoice in principal_invoices(case, installments)
            if invoice.status == InvoiceStatus.UNCOLLECTIBLE and invoice.amount_due > 0
        ]
    elif invoice.status == InvoiceStatus.OPEN and invoice.amount_due > 0:
        page.owed = [invoice]
    page.method = default_payment_method(page.member.pk)
    if link.message_id is not None:
        page.channel = (
            DunningMessage.objects.filter(pk=link.message_id, member_id=page.member.pk)
            .values_list("channel", flat=True)
            .first()
            or ""
        )
    return page


def link_opened(page: PayPage, now: dt.datetime | None = None) -> None:
    """Record that the member opened the link (the evidence, and the channel that worked)."""
    now = now or clock.now()
    if page.link.message_id is not None:
        # The member clicked the message's link: as a provider's "clicked" would say (the
        # only click an SMS ever reports).  The status moves forward only, as there.
        DunningMessage.objects.filter(
            pk=page.link.message_id, member_id=page.member.pk, clicked_at__isnull=True
        ).update(
            clicked_at=now,
            status=Case(
                When(status__in=BEFORE_CLICKED, then=Value(MessageStatus.CLICKED)),
                default=F("status"),
            ),
        )
    if page.case is not None:
        event_add(
            page.case,
            EventKind.LINK_OPENED,
            at=now,
            channel=page.channel,
            message_id=page.link.message_id,
        )


def member_pay(page: PayPage, *, card_token: str = "") -> PayOutcome:
    """Charge what is owed, on-session, in order: with the card on file, or with a new
    card (``card_token``), through ``billing.services.online_pay`` (a new card becomes
    the default only once it has paid).  The case's timeline notes each charge."""
    if not page.owed:
        return PayOutcome("nothing_due" if not page.held else "contact_us")
    if not card_token and (page.needs_new_card or page.method is None):
        return PayOutcome("new_card_needed")

    def failed(attempt: PaymentAttempt, invoice: Invoice) -> None:
        if page.case is not None:
            event_add(
                page.case,
                EventKind.MEMBER_PAYMENT_FAILED,
                attempt_id=attempt.pk,
                invoice=invoice.number,
                category=attempt.decline_category,
                status=attempt.status,
            )

    return pay_on_session(
        page.member,
        page.owed,
        method=page.method,
        card_token=card_token,
        on_paid=lambda attempt, invoice: _paid_noted(page, attempt, invoice),
        on_failed=failed,
    )


def _paid_noted(page: PayPage, attempt: PaymentAttempt, invoice: Invoice, **detail: Any) -> None:
    """The case's timeline: the member paid ``invoice`` on the page."""
    if page.case is not None:
        event_add(
            page.case,
            EventKind.MEMBER_PAID,
            attempt_id=attempt.pk,
            invoice=invoice.number,
            amount=attempt.amount,
            channel=page.channel,
            **detail,
        )


def member_authenticated(
    token: str, page: PayPage, attempt_id: int, *, approve: bool | None = None
) -> PayOutcome:
    """The member finished (or, on the sandbox bank's page, answered) the bank's
    confirmation of one of this page's charges: record what the bank decided, then pay
    whatever else is owed.

    Only a charge the member made on this page's invoices, still waiting, is looked at;
    anything else is ``in_progress`` (nothing to do here).  ``approve`` is the member's
    answer on the sandbox bank's page; a real gateway's page has already answered.  A new
    card (one that is not the default) becomes the default once the bank confirms it,
    and is removed if the bank refuses.
    """
    attempt = (
        PaymentAttempt.objects.filter(
            pk=attempt_id,
            invoice_id__in=[invoice.pk for invoice in page.owed],  # the member's, owed
            trigger=AttemptTrigger.CUSTOMER,
            status=AttemptStatus.REQUIRES_ACTION,
        )
        .select_related("invoice", "payment_method")
        .first()
    )
    if attempt is None:
        return PayOutcome("in_progress")
    finished = authentication_finished(attempt, approve=approve)
    if finished.status == AttemptStatus.FAILED:
        return PayOutcome("declined", finished.attempt.decline_category)
    if finished.status != AttemptStatus.SUCCEEDED:
        return PayOutcome("in_progress")  # the gateway's webhook will bring the answer
    _paid_noted(page, attempt, attempt.invoice, authenticated=True)
    confirmed = ((attempt.invoice_id, attempt.amount),)
    rest = page_for(token)
    return member_pay(rest).after(confirmed) if rest.owed else PayOutcome("paid", paid=confirmed)


@dataclass(frozen=True)
class Receipt:
    """An invoice the member paid (some or all of), with its lines and payments."""

    invoice: Invoice
    lines: list[InvoiceLine]
    payments: list[Payment]


def receipt_for(page: PayPage, invoice_id: str) -> Receipt | None:
    """The receipt for one of the link's member's invoices, or ``None`` if it is not
    theirs (or not a number) or nothing has been received for it yet."""
    if not invoice_id.isdigit() or len(invoice_id) > 18:
        return None
    invoice = Invoice.objects.filter(pk=int(invoice_id), member_id=page.member.pk).first()
    if invoice is None:
        return None
    payments = list(
        invoice.payments.select_related("attempt__payment_method").order_by("received_at", "pk")
    )
    if not payments:
        return None
    return Receipt(invoice, list(invoice.lines.all()), payments)


def card_setup_for(page: PayPage, token: str) -> CardSetup | None:
    """The gateway's hosted card form for this page, or ``None`` where cards are typed as
    tokens (the sandbox) or the gateway cannot start one right now.

    Reloading the page reuses the same session (the key is the link's own digest).
    """
    digest = hashlib.sha256(token.encode()).hexdigest()[:24]
    return card_setup_start(page.member, f"card-setup-{page.member.pk}-{digest}")
