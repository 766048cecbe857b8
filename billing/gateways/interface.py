"""The one small interface every payment gateway implements.

Plain dataclasses cross the boundary: a request in, a result out.  Gateways never see
our models and our models never see a gateway's SDK objects.  Raw responses are
redacted before they leave the gateway module (no card numbers, no secrets).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class ChargeStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The outcome is not known (timeout, network error, 5xx).  Reconcile by idempotency key.
    UNKNOWN = "unknown"
    # The issuer wants the cardholder to authenticate (3-D Secure) before it approves.
    REQUIRES_ACTION = "requires_action"


@dataclass(frozen=True)
class ChargeRequest:
    amount: int  # minor units
    currency: str  # ISO 4217, upper case
    payment_token: str  # the gateway's token for the stored payment method
    customer_reference: str  # the gateway's customer id, or "" where the gateway has none
    idempotency_key: str  # the same key never moves money twice
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    off_session: bool = True  # merchant-initiated (the billing run, retries)


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    gateway_reference: str = ""  # e.g. a PaymentIntent id; "" when nothing was created
    amount: int = 0
    currency: str = ""
    decline_code: str = ""  # e.g. "insufficient_funds"
    network_code: str = ""  # ISO 8583 response code, e.g. "51"
    advice_code: str = ""  # e.g. Stripe's "do_not_try_again" or Mastercard MAC "03"
    message: str = ""  # the gateway's own words, for staff; never shown raw to members
    raw: dict[str, Any] = field(default_factory=dict)  # redacted response, for evidence


@dataclass(frozen=True)
class RefundRequest:
    gateway_reference: str  # of the charge being refunded
    amount: int
    currency: str
    idempotency_key: str
    reason: str = ""


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool
    gateway_reference: str = ""
    message: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""  # the refund's own key, where the gateway echoes it (events)


@dataclass(frozen=True)
class CardDetails:
    """What we may store about a card: a token and display details, never the number."""

    token: str
    brand: str  # "visa", "mastercard", "amex", "jcb", "unionpay", ...
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str  # the same card gives the same fingerprint across tokens
    customer_reference: str = ""


@dataclass(frozen=True)
class CustomerRequest:
    """Who a gateway customer is for: the payer whose cards it will hold."""

    idempotency_key: str  # the same key never creates a second customer
    name: str = ""
    email: str = ""
    metadata: dict[str, str] = field(default_factory=dict)  # our ids, never card data


@dataclass(frozen=True)
class CardSetup:
    """A gateway-hosted card form session: the browser collects the card, never us.

    The page loads the gateway's script with ``publishable_key`` and confirms
    ``client_secret``; the resulting payment method id is what we store.
    """

    client_secret: str
    publishable_key: str
    gateway_reference: str = ""


@dataclass(frozen=True)
class PromptPayChargeRequest:
    """A PromptPay payment the payer makes by scanning a QR code (customer-initiated).

    The gateway answers with the QR to show; the money moves when the payer confirms in
    their banking app, and the gateway's webhook (or :meth:`PaymentGateway.promptpay_status`)
    brings the outcome.  ``payer_email`` is where the gateway sends refund instructions
    (Stripe asks the payer there for an account to return money to).
    """

    amount: int  # satang
    currency: str  # "THB": PromptPay pays in baht only
    idempotency_key: str  # the same key never creates a second payment
    payer_email: str
    payer_name: str = ""
    customer_reference: str = ""
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptPayCharge:
    """A PromptPay payment as the gateway created it.

    ``charge.status`` is REQUIRES_ACTION while the QR waits to be paid; SUCCEEDED or
    FAILED if it was settled already (a key sent again); UNKNOWN if the gateway could
    not be heard.  ``qr_data`` is the EMVCo payload (or the gateway's test URL) to draw.
    """

    charge: ChargeResult
    qr_data: str = ""
    expires_at: dt.datetime | None = None  # the gateway's own expiry, where it says
    instructions_url: str = ""  # the gateway's hosted page showing the QR, if any


class EventType(enum.StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    # The payment was cancelled before it completed (e.g. a PromptPay QR withdrawn).
    PAYMENT_CANCELED = "payment.canceled"
    REFUND_SUCCEEDED = "refund.succeeded"
    CARD_UPDATED = "card.updated"  # card-updater: new expiry or number behind the same token
    IGNORED = "ignored"


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook event, normalised."""

    event_id: str  # the gateway's event id: process each once
    type: EventType
    charge: ChargeResult | None = None  # for payment events
    idempotency_key: str = ""  # of the charge, where the gateway echoes it (metadata)
    refund: RefundResult | None = None
    card: CardDetails | None = None  # for card.updated
    raw_type: str = ""  # the gateway's own event type name


class GatewayError(Exception):
    """The gateway could not be asked at all (configuration, bad request on our side)."""


class WebhookSignatureError(Exception):
    """The webhook payload is not signed by the gateway, or is stale or malformed."""


class PaymentGateway(Protocol):
    name: str
    hosted_card_form: bool  # whether begin_card_setup can start a gateway-hosted card form
    publishable_key: str  # the browser's key for that form ("" where there is none)
    supports_promptpay: bool  # whether promptpay_charge can create PromptPay payments

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Move money.  Never raises for a decline or a timeout: it says so in the result."""
        ...

    def lookup_charge(self, idempotency_key: str) -> ChargeResult | None:
        """What became of the charge sent with this key, or ``None`` if none arrived."""
        ...

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def card_details(self, token: str) -> CardDetails:
        """Display details of a stored payment method, for saving it on our side."""
        ...

    def parse_webhook(self, payload: bytes, headers: dict[str, str]) -> GatewayEvent:
        """Verify the signature and normalise the event; raise ``WebhookSignatureError``."""
        ...

    def charge_authentication(self, gateway_reference: str) -> str:
        """For a charge that REQUIRES_ACTION, the secret the member's browser uses to let
        the cardholder authenticate it (Stripe: the PaymentIntent's client secret); "" if
        the charge no longer waits for that, or the gateway's bank page does it alone."""
        ...

    def cancel_charge(self, gateway_reference: str) -> ChargeResult:
        """Stop a charge that waits for the cardholder (REQUIRES_ACTION), so it can never
        go through later; the charge's record afterwards: FAILED once stopped, or what it
        had already become.  ``GatewayError`` if the gateway cannot be asked."""
        ...

    def begin_card_setup(self, customer_reference: str, idempotency_key: str) -> CardSetup | None:
        """Start a hosted card form for a saved, off-session card; ``None`` if the gateway
        has none (the sandbox: its test tokens are typed in)."""
        ...

    def create_customer(self, request: CustomerRequest) -> str:
        """The gateway's customer id for a payer, created once per idempotency key.

        Cards saved for off-session charges belong to a customer (Stripe refuses to reuse
        a payment method that is attached to none)."""
        ...

    def promptpay_charge(self, request: PromptPayChargeRequest) -> PromptPayCharge:
        """Create a PromptPay payment and the QR the payer scans.  Never raises for an
        unheard answer (UNKNOWN: send the same key again); ``GatewayError`` if the gateway
        refuses the request itself (PromptPay not enabled, amount out of its range)."""
        ...

    def promptpay_status(self, gateway_reference: str) -> ChargeResult:
        """What became of the PromptPay payment: REQUIRES_ACTION while its QR waits,
        SUCCEEDED once paid, FAILED once expired or cancelled.  ``GatewayError`` if the
        gateway cannot be asked or knows no such payment."""
        ...
