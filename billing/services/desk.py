"""The front desk's money workflows: taking a payment for a member, and signing a member
up in one go (agreement, card or payment, membership).

Each workflow reads as its steps; the rules stay in the services they call
(``invoices.payment_record_manual``, ``payments.invoice_charge``,
``payments.payment_method_attach``, ``memberships.membership_sign_up``,
``members.services.agreement_sign``).

Payment routes are data (:data:`DESK_ROUTES`): cash, the card on file and a PromptPay
QR (when the gym takes PromptPay); another route registers itself with
:func:`desk_route_register`.  A route either settles the invoices at once or leaves them
waiting (``DeskPayment.pending``: the PromptPay request the member has still to scan).

A desk page that is submitted twice (a double click) takes the payment once: the page
sends a one-time ``request_key`` that the first submission claims.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from members.models import AgreementVersion, Member
from members.services import agreement_sign

from ..errors import PaymentNotAllowed
from ..gateways import default_gateway_name
from ..models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    InvoiceStatus,
    Membership,
    MembershipStatus,
    PaymentAttempt,
    PaymentMethod,
    PaymentSource,
    Plan,
    PromptPayChannel,
)
from ..promptpay import conf as promptpay_conf
from ..summaries import NextCharge, member_invoices_open, membership_next_charge
from . import invoices as invoice_services
from . import memberships as membership_services
from . import payments as payment_services
from .promptpay import promptpay_request_create

CASH = "cash"
CARD_ON_FILE = "card"
PROMPTPAY = "promptpay"
REQUEST_KEY_SECONDS = 6 * 3600


@dataclass
class DeskPayment:
    """What a desk payment did: the invoices it paid, the amount taken, and for a card the
    attempt that did not go through (``declined``), or a route's reference while the
    member has still to pay (``pending``)."""

    currency: str
    amount: int = 0
    paid: list[Invoice] = field(default_factory=list)
    declined: PaymentAttempt | None = None
    pending: str = ""

    @property
    def complete(self) -> bool:
        return self.declined is None and not self.pending


@dataclass(frozen=True)
class DeskRoute:
    """A way the desk takes money: its label, when it is offered, and how it pays."""

    code: str
    label: Promise | str
    available: Callable[[Member], bool]
    # (member, invoices oldest first, amount, reference, user) -> what happened
    take: Callable[[Member, list[Invoice], int, str, Any], DeskPayment]
    # Whether the desk types the amount (cash can be part of what is owed).
    typed_amount: bool = False
    order: int = 50


DESK_ROUTES: dict[str, DeskRoute] = {}


def desk_route_register(route: DeskRoute) -> None:
    DESK_ROUTES[route.code] = route


def desk_routes(member: Member) -> list[DeskRoute]:
    """The routes the desk may use for ``member`` now, in order."""
    return sorted(
        (route for route in DESK_ROUTES.values() if route.available(member)),
        key=lambda route: route.order,
    )


def desk_card(member: Member) -> PaymentMethod | None:
    """The card the desk charges for ``member``: their payer's default card."""
    return payment_services.default_payment_method(member.payer.pk)


# --- Routes ---------------------------------------------------------------------------


def _take_cash(
    member: Member, invoices: list[Invoice], amount: int, reference: str, user: Any
) -> DeskPayment:
    """Cash against the invoices, oldest first; the last one may be paid in part."""
    result = DeskPayment(currency=invoices[0].currency)
    left = amount
    with transaction.atomic():  # all of it or nothing: never a half-recorded payment
        for invoice in invoices:
            if left <= 0:
                break
            share = min(left, invoice.amount_due)
            invoice_services.payment_record_manual(
                invoice, amount=share, source=PaymentSource.CASH, reference=reference, user=user
            )
            left -= share
            result.amount += share
            if invoice.status == InvoiceStatus.PAID:
                result.paid.append(invoice)
    return result


def _take_card_on_file(
    member: Member, invoices: list[Invoice], amount: int, reference: str, user: Any
) -> DeskPayment:
    """Charge each invoice in full to the card on file, stopping at the first decline."""
    card = desk_card(member)
    if card is None:
        raise PaymentNotAllowed(reason="no_payment_method")
    result = DeskPayment(currency=invoices[0].currency)
    for invoice in invoices:
        attempt = payment_services.invoice_charge(
            invoice, trigger=AttemptTrigger.STAFF, method=card
        )
        if attempt.status != AttemptStatus.SUCCEEDED:
            result.declined = attempt
            break
        invoice.refresh_from_db()
        result.amount += attempt.amount
        result.paid.append(invoice)
    return result


def _take_promptpay(
    member: Member, invoices: list[Invoice], amount: int, reference: str, user: Any
) -> DeskPayment:
    """A PromptPay QR for the invoices, shown at the desk; paid when the bank says so."""
    request = promptpay_request_create(invoices=invoices, channel=PromptPayChannel.DESK, user=user)
    return DeskPayment(currency=invoices[0].currency, pending=str(request.pk))


desk_route_register(
    DeskRoute(CASH, _("Cash"), lambda member: True, _take_cash, typed_amount=True, order=10)
)
desk_route_register(
    DeskRoute(
        PROMPTPAY,
        _("PromptPay QR"),
        lambda member: promptpay_conf.available(),
        _take_promptpay,
        order=30,
    )
)
desk_route_register(
    DeskRoute(
        CARD_ON_FILE,
        _("Card on file"),
        lambda member: desk_card(member) is not None,
        _take_card_on_file,
        order=20,
    )
)


# --- Taking a payment -------------------------------------------------------------------


def _claim(request_key: str) -> bool:
    """Claim a page's one-time key; ``False`` if another submission already has it."""
    if not request_key:
        return True
    return bool(cache.add(f"desk-request:{request_key}", 1, REQUEST_KEY_SECONDS))


def _release(request_key: str) -> None:
    if request_key:
        cache.delete(f"desk-request:{request_key}")


def desk_payment_take(
    member: Member,
    *,
    invoice_ids: Sequence[int],
    route: str,
    amount: int | None = None,
    reference: str = "",
    user: Any = None,
    request_key: str = "",
) -> DeskPayment:
    """Take a payment at the desk for some of ``member``'s open invoices.

    The invoices must be the member's (billed to them, or their memberships' billed to a
    payer) and open, in one currency.  ``amount`` is what the desk typed for a route that
    takes one (cash): above zero and no more than is due; other routes pay the invoices
    in full.  Payment makes the membership good again at once (billing's settlement and
    the ``invoices_paid`` hooks: dunning stops, the gate admits).
    """
    chosen = DESK_ROUTES.get(route)
    if chosen is None or not chosen.available(member):
        raise PaymentNotAllowed(reason="route_not_available")
    invoices = _payable(member, invoice_ids)
    due = sum(invoice.amount_due for invoice in invoices)
    if chosen.typed_amount:
        if amount is None or amount <= 0:
            raise PaymentNotAllowed(reason="amount_not_positive")
        if amount > due:
            raise PaymentNotAllowed(reason="amount_above_due")
    else:
        amount = due
    if not _claim(request_key):
        raise PaymentNotAllowed(reason="already_submitted")
    try:
        return chosen.take(member, invoices, amount, reference.strip()[:120], user)
    except Exception:
        _release(request_key)  # nothing was taken: the page may be sent again
        raise


def _payable(member: Member, invoice_ids: Sequence[int]) -> list[Invoice]:
    wanted = set(invoice_ids)
    if not wanted:
        raise PaymentNotAllowed(reason="no_invoice_chosen")
    invoices = [invoice for invoice in member_invoices_open(member) if invoice.pk in wanted]
    if len(invoices) != len(wanted):
        raise PaymentNotAllowed(reason="invoice_not_payable_here")
    if len({invoice.currency for invoice in invoices}) > 1:
        raise PaymentNotAllowed(reason="mixed_currencies")
    return invoices


# --- Signing up at the desk ---------------------------------------------------------------


@dataclass(frozen=True)
class DeskSignature:
    """The member's signature, typed on the desk's screen, and the device it was typed on."""

    signer_name: str
    consent: bool
    ip_address: str | None
    user_agent: str


SIGN_UP_NO_PAYMENT = "later"  # the first invoice stays open, to pay at the desk
SIGN_UP_NEW_CARD = "new_card"  # a card from the gateway's form, charged now
SIGN_UP_CARD_ON_FILE = "card"
SIGN_UP_CASH = CASH


@dataclass
class DeskSignUp:
    membership: Membership
    invoice: Invoice | None
    payment: DeskPayment | None = None
    card: PaymentMethod | None = None


def agreements_to_sign() -> list[AgreementVersion]:
    """The current version of each kind of agreement: what a new member signs."""
    return list(AgreementVersion.objects.filter(is_current=True).order_by("kind"))


def desk_sign_up(
    member: Member,
    plan: Plan,
    *,
    signature: DeskSignature,
    payment: str,
    card_token: str = "",
    start_on: Any = None,
    coupon_code: str = "",
    user: Any = None,
    request_key: str = "",
) -> DeskSignUp:
    """Sign ``member`` up to ``plan`` at the desk, in one flow.

    1. The member signs the current agreements on the desk's screen (typed name and
       consent; the time, the desk's address and its browser are recorded).
    2. A new card from the gateway's form is stored (its token only), if given.
    3. The membership starts (``pending`` until its first invoice is paid).
    4. The first invoice is paid now (the new card or the card on file is charged, or
       cash is recorded), or left open to pay at the desk: with no card given, that is
       not a failed payment, and no message goes out.

    A refusal before the membership exists (no consent, a card the gateway refuses, a
    plan not on sale, a live membership already) saves nothing, the card included.  A
    card declined at step 4 leaves the membership pending with its invoice open; the desk
    sees the decline.
    """
    if not signature.consent:
        raise PaymentNotAllowed(reason="agreement_not_accepted")
    if not _claim(request_key):
        raise PaymentNotAllowed(reason="already_submitted")
    try:
        with transaction.atomic():
            card = _sign_up_card(member, payment, card_token)
            for version in agreements_to_sign():
                if not member.signatures.filter(version=version).exists():
                    agreement_sign(
                        member=member,
                        version=version,
                        signer_name=signature.signer_name,
                        ip_address=signature.ip_address,
                        user_agent=signature.user_agent,
                    )
            membership = membership_services.membership_sign_up(
                member,
                plan,
                start_on=start_on,
                coupon_code=coupon_code,
                payment_method=card if payment == SIGN_UP_NEW_CARD else None,
                actor=user,
                charge=False,  # paid below, the way the desk chose
            )
    except Exception:
        _release(request_key)
        raise
    invoice = (
        Invoice.objects.filter(membership=membership, status=InvoiceStatus.OPEN)
        .order_by("pk")
        .first()
    )
    result = DeskSignUp(membership=membership, invoice=invoice, card=card)
    if invoice is not None and payment != SIGN_UP_NO_PAYMENT:
        result.payment = _first_payment(member, invoice, payment, card, user)
    membership.refresh_from_db()
    return result


def _sign_up_card(member: Member, payment: str, card_token: str) -> PaymentMethod | None:
    if payment == SIGN_UP_NEW_CARD:
        if not card_token.strip():
            raise PaymentNotAllowed(reason="card_missing")
        return payment_services.payment_method_attach(
            member.payer, gateway=default_gateway_name(), token=card_token.strip()
        )
    if payment == SIGN_UP_CARD_ON_FILE:
        card = desk_card(member)
        if card is None:
            raise PaymentNotAllowed(reason="no_payment_method")
        return card
    if payment not in (SIGN_UP_CASH, SIGN_UP_NO_PAYMENT):
        raise PaymentNotAllowed(reason="route_not_available")
    return None


def _first_payment(
    member: Member, invoice: Invoice, payment: str, card: PaymentMethod | None, user: Any
) -> DeskPayment:
    if payment == SIGN_UP_CASH:
        return _take_cash(member, [invoice], invoice.amount_due, "", user)
    assert card is not None
    attempt = payment_services.invoice_charge(invoice, trigger=AttemptTrigger.STAFF, method=card)
    result = DeskPayment(currency=invoice.currency)
    if attempt.status == AttemptStatus.SUCCEEDED:
        invoice.refresh_from_db()
        result.amount, result.paid = attempt.amount, [invoice]
    else:
        result.declined = attempt
    return result


# --- What a sign-up costs -------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteLine:
    kind: str
    label: str
    amount: int
    period_start: Any = None
    period_end: Any = None


@dataclass(frozen=True)
class SignUpQuote:
    """What signing up now costs: the first invoice's lines and total, and what follows."""

    currency: str
    lines: tuple[QuoteLine, ...]
    total: int
    status: str  # what the membership is once the first invoice is paid
    trial_ends_on: Any
    minimum_term_ends_on: Any
    next_charge: NextCharge | None


class _QuoteMade(Exception):
    def __init__(self, quote: SignUpQuote) -> None:
        self.quote = quote


def sign_up_quote(
    member: Member,
    plan: Plan,
    *,
    start_on: Any = None,
    coupon_code: str = "",
    anchor_day: int | None = None,
) -> SignUpQuote:
    """The first invoice ``membership_sign_up`` would issue now, and the charge after it.

    Worked out by signing up for real inside a transaction that is rolled back, so the
    quote is exactly what the member will be billed (joining fee, prorating, coupon,
    tax, account credit) and refuses what the sign-up would refuse.  Nothing is kept.
    """
    try:
        with transaction.atomic():
            membership = membership_services.membership_sign_up(
                member,
                plan,
                start_on=start_on,
                coupon_code=coupon_code,
                anchor_day=anchor_day,
                charge=False,
            )
            invoice = Invoice.objects.filter(membership=membership).order_by("pk").first()
            lines = tuple(
                QuoteLine(
                    line.kind,
                    line.get_kind_display(),
                    line.amount,
                    line.period_start,
                    line.period_end,
                )
                for line in (invoice.lines.all() if invoice else [])
            )
            if membership.status == MembershipStatus.PENDING:
                membership.status = MembershipStatus.ACTIVE  # as it is once paid
            raise _QuoteMade(
                SignUpQuote(
                    currency=plan.currency,
                    lines=lines,
                    total=invoice.total if invoice else 0,
                    status=membership.status,
                    trial_ends_on=membership.trial_ends_on,
                    minimum_term_ends_on=membership.minimum_term_ends_on,
                    next_charge=membership_next_charge(membership),
                )
            )
    except _QuoteMade as made:
        return made.quote
