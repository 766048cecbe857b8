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
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, F, Value, When

from billing.errors import PaymentNotAllowed
from billing.gateways import default_gateway_name, get_gateway
from billing.gateways.interface import CardSetup, GatewayError
from billing.gateways.sandbox import SandboxGateway
from billing.models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    PaymentMethodStatus,
)
from billing.services.customers import gateway_customer_for
from billing.services.payments import (
    attempt_authenticated,
    default_payment_method,
    invoice_charge,
    payment_method_attach,
    payment_method_detach,
    payment_method_set_default,
)
from config import clock
from members.models import Member

from ..links import LinkInvalid, PayLink, read_token
from ..models import DeclineCategory, DunningCase, DunningMessage, EventKind, MessageStatus
from ..selectors import installments_by_case, owed_invoices, principal_invoices
from .events import event_add
from .messages import BEFORE_CLICKED
from .retries import member_paying_online

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
        page.owed = owed_invoices(case, installments, today)
        page.held = [
            invoice
            for invoice in principal_invoices(case, installments)
            if invoice.status == InvoiceStatus.UNCOLLECTIBLE and invoice.amount_due > 0
        ]
        fee = case.late_fee_invoice
        if fee is not None and fee.status == InvoiceStatus.OPEN and fee.amount_due > 0:
            page.owed.append(fee)
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


@dataclass(frozen=True)
class PayOutcome:
    """``paid``, ``declined`` (with the decline category), ``invalid_card``,
    ``new_card_needed``, ``nothing_due``, ``contact_us``, ``in_progress``, or
    ``authenticate``: the bank asks the cardholder to confirm the charge ``attempt_id``
    (in the browser with ``action_secret`` where the gateway gives one, else on the
    sandbox bank's own page).  ``paid`` lists ``(invoice id, amount)`` for every invoice
    paid on the page this time, whatever the result (a later invoice may still decline).
    """

    result: str
    category: str = ""
    attempt_id: int | None = None
    action_secret: str = ""
    on_bank_page: bool = False  # the sandbox: its own bank page asks the cardholder
    paid: tuple[tuple[int, int], ...] = ()

    @property
    def paid_amount(self) -> int:
        return sum(amount for _, amount in self.paid)

    def after(self, earlier: tuple[tuple[int, int], ...]) -> PayOutcome:
        """This outcome, with invoices paid before it in the same visit listed first."""
        return replace(self, paid=earlier + self.paid)


def member_pay(page: PayPage, *, card_token: str = "") -> PayOutcome:
    """Charge what is owed, on-session, in order: with the card on file, or with a new
    card (``card_token``).

    A new card is stored beside the card on file and becomes the default only once it
    has paid: a declined new card is removed again and never replaces the card on file.
    One waiting for the bank's confirmation stays beside it until the bank answers.
    """
    if not page.owed:
        return PayOutcome("nothing_due" if not page.held else "contact_us")
    new_card: PaymentMethod | None = None
    if card_token:
        try:
            new_card, is_new = _card_stored_beside(page.member, card_token.strip())
        except (GatewayError, PaymentNotAllowed, ValidationError):
            return PayOutcome("invalid_card")
        page.method = new_card
    elif page.needs_new_card:
        return PayOutcome("new_card_needed")
    if page.method is None:
        return PayOutcome("new_card_needed")
    outcome = _charge_owed(page, page.method)
    if new_card is not None:
        _new_card_settled(new_card, outcome, removable=is_new)
    return outcome


def _card_stored_beside(member: Member, token: str) -> tuple[PaymentMethod, bool]:
    """Store ``token``'s card without making it the default (unless there is none):
    ``(card, stored just now)``."""
    before = set(
        PaymentMethod.objects.filter(member=member, status=PaymentMethodStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    with member_paying_online():
        card = payment_method_attach(
            member, gateway=default_gateway_name(), token=token, make_default=False
        )
    return card, card.pk not in before


def _new_card_settled(card: PaymentMethod, outcome: PayOutcome, *, removable: bool) -> None:
    """A new card that paid becomes the default; one the bank refused, stored just now,
    is removed; one waiting for the bank's confirmation waits."""
    with member_paying_online():
        if outcome.paid:
            payment_method_set_default(card)
        elif outcome.result in ("declined", "invalid_card") and removable:
            payment_method_detach(card)


def _charge_owed(page: PayPage, method: PaymentMethod) -> PayOutcome:
    paid: list[tuple[int, int]] = []
    for invoice in page.owed:
        try:
            attempt = invoice_charge(invoice, trigger=AttemptTrigger.CUSTOMER, method=method)
        except PaymentNotAllowed as exc:
            if exc.reason == "nothing_due":
                continue
            return PayOutcome("in_progress", paid=tuple(paid))
        if attempt.status != AttemptStatus.SUCCEEDED:
            if page.case is not None:
                event_add(
                    page.case,
                    EventKind.MEMBER_PAYMENT_FAILED,
                    attempt_id=attempt.pk,
                    invoice=invoice.number,
                    category=attempt.decline_category,
                    status=attempt.status,
                )
            if attempt.status == AttemptStatus.UNKNOWN:
                return PayOutcome("in_progress", paid=tuple(paid))
            if attempt.status == AttemptStatus.REQUIRES_ACTION:
                return _authentication_asked(attempt).after(tuple(paid))
            return PayOutcome("declined", attempt.decline_category, paid=tuple(paid))
        _paid_noted(page, attempt, invoice)
        paid.append((invoice.pk, attempt.amount))
    return PayOutcome("paid", paid=tuple(paid))


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


def _authentication_asked(attempt: PaymentAttempt) -> PayOutcome:
    """The bank wants the cardholder to confirm ``attempt`` (3-D Secure)."""
    gateway = get_gateway(attempt.gateway)
    try:
        secret = gateway.charge_authentication(attempt.gateway_reference)
    except GatewayError:
        secret = ""
    return PayOutcome(
        "authenticate",
        attempt.decline_category,
        attempt_id=attempt.pk,
        action_secret=secret,
        on_bank_page=isinstance(gateway, SandboxGateway),
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
    gateway = get_gateway(attempt.gateway)
    if isinstance(gateway, SandboxGateway) and approve is not None:
        try:
            gateway.authenticate(attempt.idempotency_key, approve=approve)
        except GatewayError:
            return PayOutcome("in_progress")
    status = attempt_authenticated(attempt)
    card = attempt.payment_method
    pending_card = card if card is not None and not card.is_default else None
    if status == AttemptStatus.FAILED:
        attempt.refresh_from_db()
        outcome = PayOutcome("declined", attempt.decline_category)
        if pending_card is not None:
            _new_card_settled(pending_card, outcome, removable=True)
        return outcome
    if status != AttemptStatus.SUCCEEDED:
        return PayOutcome("in_progress")  # the gateway's webhook will bring the answer
    _paid_noted(page, attempt, attempt.invoice, authenticated=True)
    confirmed = ((attempt.invoice_id, attempt.amount),)
    if pending_card is not None:
        _new_card_settled(pending_card, PayOutcome("paid", paid=confirmed), removable=False)
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


def card_form_key() -> str:
    """The publishable key of the gateway's hosted card form, or "" where cards are typed
    as tokens (the sandbox) or the form cannot be offered.  Showing the page asks the
    gateway for nothing: the card session starts when the member submits a card
    (:func:`card_setup_for`), so a mail scanner opening the link creates nothing."""
    gateway = get_gateway(default_gateway_name())
    return str(gateway.publishable_key) if gateway.hosted_card_form else ""


def card_setup_for(page: PayPage, token: str) -> CardSetup | None:
    """The gateway's hosted card form for this page, or ``None`` where cards are typed as
    tokens (the sandbox) or the gateway cannot start one right now.

    Reloading the page reuses the same session (the key is the link's own digest).
    """
    gateway = get_gateway(default_gateway_name())
    if not gateway.hosted_card_form:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()[:24]
    try:
        # The card must belong to the payer's customer to be charged off-session later.
        customer = gateway_customer_for(page.member, gateway.name)
        return gateway.begin_card_setup(customer, f"card-setup-{page.member.pk}-{digest}")
    except GatewayError:
        logger.warning("Card setup unavailable for member %s", page.member.pk)
        return None
