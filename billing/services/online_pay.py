"""A member paying what they owe on-session, in their browser: with the card on file or a
new card, through the bank's 3-D Secure confirmation when it asks.

The hosted pay page behind dunning's links and the member portal's Pay page both pay
through here; each adds its own record-keeping through ``on_paid``/``on_failed``.

- Invoices are charged in order with ``invoice_charge(trigger="customer")``; the first
  that does not succeed stops the run (a decline, an answer not yet known, or the bank
  asking the cardholder to confirm).
- A new card is stored beside the card on file and becomes the default only once it
  has paid: a declined new card stored just now is removed again, and one waiting for the
  bank's confirmation waits beside it.
- Card changes made while the member pays on-session are marked
  (:func:`member_on_session`), so what waits on a card update (dunning's "retry at
  once") does not race the page's own charge.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError

from members.models import Member

from ..errors import PaymentNotAllowed
from ..gateways import default_gateway_name, get_gateway
from ..gateways.interface import CardSetup, GatewayError
from ..gateways.sandbox import SandboxGateway
from ..models import (
    AttemptStatus,
    AttemptTrigger,
    Invoice,
    PaymentAttempt,
    PaymentMethod,
    PaymentMethodStatus,
)
from .customers import gateway_customer_for
from .payments import (
    attempt_authenticated,
    invoice_charge,
    payment_method_attach,
    payment_method_detach,
    payment_method_set_default,
)

logger = logging.getLogger(__name__)

_on_session: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "billing_member_on_session", default=False
)


@contextlib.contextmanager
def paying_on_session() -> Iterator[None]:
    """Mark card changes in this block as the member's own, made while paying online."""
    token = _on_session.set(True)
    try:
        yield
    finally:
        _on_session.reset(token)


def member_on_session() -> bool:
    """Whether the card change being made comes from a member paying on-session."""
    return _on_session.get()


@dataclass(frozen=True)
class PayOutcome:
    """``paid``, ``declined`` (with the decline category), ``invalid_card``,
    ``new_card_needed``, ``nothing_due``, ``contact_us``, ``in_progress``, or
    ``authenticate``: the bank asks the cardholder to confirm the charge ``attempt_id``
    (in the browser with ``action_secret`` where the gateway gives one, else on the
    sandbox bank's own page).  ``paid`` lists ``(invoice id, amount)`` for every invoice
    paid this time, whatever the result (a later invoice may still decline).
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


OnPaid = Callable[[PaymentAttempt, Invoice], None]
OnFailed = Callable[[PaymentAttempt, Invoice], None]


def card_stored_beside(member: Member, token: str) -> tuple[PaymentMethod, bool]:
    """Store ``token``'s card without making it the default (unless there is none):
    ``(card, stored just now)``.  Raises ``GatewayError``, ``PaymentNotAllowed`` or
    ``ValidationError`` for a card that cannot be stored."""
    before = set(
        PaymentMethod.objects.filter(member=member, status=PaymentMethodStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    with paying_on_session():
        card = payment_method_attach(
            member,
            gateway=default_gateway_name(),
            token=token,
            make_default=False,
        )
    return card, card.pk not in before


def new_card_settled(card: PaymentMethod, outcome: PayOutcome, *, removable: bool) -> None:
    """A new card that paid becomes the default; one the bank refused, stored just now,
    is removed; one waiting for the bank's confirmation waits."""
    with paying_on_session():
        if outcome.paid:
            payment_method_set_default(card)
        elif outcome.result in ("declined", "invalid_card") and removable:
            payment_method_detach(card)


def authentication_asked(attempt: PaymentAttempt) -> PayOutcome:
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


def charge_on_session(
    invoices: Iterable[Invoice],
    method: PaymentMethod,
    *,
    on_paid: OnPaid | None = None,
    on_failed: OnFailed | None = None,
) -> PayOutcome:
    """Charge each invoice's amount due on ``method``, in order, until one does not pay."""
    paid: list[tuple[int, int]] = []
    for invoice in invoices:
        try:
            attempt = invoice_charge(invoice, trigger=AttemptTrigger.CUSTOMER, method=method)
        except PaymentNotAllowed as exc:
            if exc.reason == "nothing_due":
                continue
            return PayOutcome("in_progress", paid=tuple(paid))
        if attempt.status != AttemptStatus.SUCCEEDED:
            if on_failed is not None:
                on_failed(attempt, invoice)
            if attempt.status == AttemptStatus.UNKNOWN:
                return PayOutcome("in_progress", paid=tuple(paid))
            if attempt.status == AttemptStatus.REQUIRES_ACTION:
                return authentication_asked(attempt).after(tuple(paid))
            return PayOutcome("declined", attempt.decline_category, paid=tuple(paid))
        if on_paid is not None:
            on_paid(attempt, invoice)
        paid.append((invoice.pk, attempt.amount))
    return PayOutcome("paid", paid=tuple(paid))


def pay_on_session(
    member: Member,
    invoices: list[Invoice],
    *,
    method: PaymentMethod | None,
    card_token: str = "",
    on_paid: OnPaid | None = None,
    on_failed: OnFailed | None = None,
) -> PayOutcome:
    """Pay ``invoices`` (the member's, owed, in order) with the card on file (``method``)
    or with a new card (``card_token``, the gateway's token: never a card number)."""
    if not invoices:
        return PayOutcome("nothing_due")
    new_card: PaymentMethod | None = None
    is_new = False
    if card_token:
        try:
            new_card, is_new = card_stored_beside(member, card_token.strip())
        except (GatewayError, PaymentNotAllowed, ValidationError):
            return PayOutcome("invalid_card")
        method = new_card
    if method is None:
        return PayOutcome("new_card_needed")
    outcome = charge_on_session(invoices, method, on_paid=on_paid, on_failed=on_failed)
    if new_card is not None:
        new_card_settled(new_card, outcome, removable=is_new)
    return outcome


@dataclass(frozen=True)
class Authenticated:
    """What the bank decided about a charge it asked the cardholder to confirm."""

    status: str  # the attempt's status now: succeeded, failed, or still requires_action
    attempt: PaymentAttempt


def authentication_finished(
    attempt: PaymentAttempt, *, approve: bool | None = None
) -> Authenticated:
    """The member finished (or, on the sandbox bank's page, answered with ``approve``)
    the bank's confirmation of ``attempt`` (one of theirs, still waiting: the caller
    checks): record what the bank decided.  A new card (not the default) becomes the
    default once the bank confirms it, and is removed if the bank refuses."""
    gateway = get_gateway(attempt.gateway)
    if isinstance(gateway, SandboxGateway) and approve is not None:
        try:
            gateway.authenticate(attempt.idempotency_key, approve=approve)
        except GatewayError:
            return Authenticated(str(AttemptStatus.REQUIRES_ACTION), attempt)
    status = attempt_authenticated(attempt)
    attempt.refresh_from_db()
    card = attempt.payment_method
    pending_card = card if card is not None and not card.is_default else None
    if pending_card is not None and status == AttemptStatus.FAILED:
        new_card_settled(pending_card, PayOutcome("declined"), removable=True)
    elif pending_card is not None and status == AttemptStatus.SUCCEEDED:
        paid = PayOutcome("paid", paid=((attempt.invoice_id, attempt.amount),))
        new_card_settled(pending_card, paid, removable=False)
    return Authenticated(status, attempt)


def card_form_key() -> str:
    """The publishable key of the gateway's hosted card form, or "" where cards are typed
    as tokens (the sandbox).  Showing a page asks the gateway for nothing: the card
    session starts when the member submits a card (:func:`card_setup_start`)."""
    gateway = get_gateway(default_gateway_name())
    return str(gateway.publishable_key) if gateway.hosted_card_form else ""


def card_setup_start(member: Member, key: str) -> CardSetup | None:
    """The gateway's hosted card form session for ``member`` (the payer: the card must
    belong to their gateway customer to be charged off-session later), under the
    idempotency ``key``; ``None`` where cards are typed as tokens or the gateway cannot
    start one right now."""
    gateway = get_gateway(default_gateway_name())
    if not gateway.hosted_card_form:
        return None
    try:
        customer = gateway_customer_for(member, gateway.name)
        return gateway.begin_card_setup(customer, key)
    except GatewayError:
        logger.warning("Card setup unavailable for member %s", member.pk)
        return None
