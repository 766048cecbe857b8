"""The Stripe gateway, on the official SDK (a ``stripe.StripeClient``, no global state).

Charges are off-session PaymentIntents, created and confirmed in one call with our
idempotency key as Stripe's ``Idempotency-Key`` (Stripe keeps it for 24 hours) and in
the metadata (so :meth:`StripeGateway.lookup_charge` can find the PaymentIntent later).

How Stripe's answers map onto :class:`ChargeResult`:

* PaymentIntent ``succeeded``: SUCCEEDED.
* ``card_error`` (HTTP 402): FAILED, with ``decline_code`` (else the error ``code``),
  the network decline code and the advice code, from the error or the charge outcome.
* an ``authentication_required`` error, or a PaymentIntent ``requires_action``:
  REQUIRES_ACTION.
* a connection error or timeout, HTTP 5xx or 409, a rate limit, or a PaymentIntent still
  ``processing``: UNKNOWN; reconcile by idempotency key.
* an invalid request, bad credentials, missing permission or a misused idempotency key:
  ``GatewayError`` (our side is wrong; retrying will not help).

PromptPay payments (:meth:`StripeGateway.promptpay_charge`) are on-session PaymentIntents
with ``payment_method_types=["promptpay"]``, confirmed at once with the payer's billing
details (Stripe needs an email for refunds); the QR comes from
``next_action.promptpay_display_qr_code``.  Their outcome arrives as
``payment_intent.succeeded``, ``payment_intent.payment_failed`` (the QR lapsed) or
``payment_intent.canceled``.

``ChargeResult.advice_code`` holds one code: a Mastercard merchant advice code of 03 or
21 (never retry) wins, then Stripe's own ``advice_code``, then any other merchant advice
code.  Both raw values stay in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe
from django.conf import settings
from stripe.params import PaymentIntentCreateParams, RefundCreateParams

from .http_headers import header_value
from .interface import (
    CardDetails,
    CardSetup,
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    CustomerRequest,
    EventType,
    GatewayError,
    GatewayEvent,
    PromptPayCharge,
    PromptPayChargeRequest,
    RefundRequest,
    RefundResult,
    WebhookSignatureError,
)
from .redaction import mask_card_numbers, redact

__all__ = ["SIGNATURE_HEADER", "StripeGateway", "stripe_gateway_from_settings"]

SIGNATURE_HEADER = "Stripe-Signature"
# Merchant advice codes after which Mastercard forbids any reattempt.
MASTERCARD_NO_RETRY_ADVICE = frozenset({"03", "21"})
_AUTHENTICATION_REQUIRED = "authentication_required"
_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
# Fields kept from Stripe objects as evidence; everything else (card details, client
# secrets, billing addresses) is dropped before redaction even looks at it.
_KEPT_FIELDS = (
    "id",
    "object",
    "status",
    "amount",
    "amount_refunded",
    "currency",
    "created",
    "livemode",
    "customer",
    "payment_intent",
    "charge",
    "type",
    "code",
    "decline_code",
    "advice_code",
    "network_decline_code",
    "network_advice_code",
    "reason",
    "failure_reason",
    "cancellation_reason",
)
_KEPT_OUTCOME_FIELDS = (
    "network_status",
    "reason",
    "type",
    "advice_code",
    "network_advice_code",
    "network_decline_code",
)


class StripeGateway:
    """Stripe behind the :class:`PaymentGateway` interface.

    ``http_client`` replaces the SDK's HTTP client (tests pass a stub; nothing else
    should).  ``max_network_retries`` is the SDK's automatic retry count; every retry
    resends the same ``Idempotency-Key``, so it never charges twice.
    """

    name = "stripe"
    hosted_card_form = True  # Stripe Elements with a SetupIntent
    supports_promptpay = True  # for Thai accounts with PromptPay enabled

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        http_client: stripe.HTTPClient | None = None,
        *,
        max_network_retries: int | None = None,
        publishable_key: str = "",
    ) -> None:
        if not api_key:
            raise GatewayError("The Stripe gateway needs a secret API key.")
        self.webhook_secret = webhook_secret
        self.publishable_key = publishable_key
        self._client = stripe.StripeClient(
            api_key,
            http_client=http_client,
            max_network_retries=max_network_retries,
        )

    # --- charges ----------------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Create and confirm a PaymentIntent; never raises for a decline or a timeout."""
        if not request.idempotency_key:
            raise GatewayError("A charge needs an idempotency key.")
        params: PaymentIntentCreateParams = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "payment_method": request.payment_token,
            "confirm": True,
            "off_session": request.off_session,
            # Off-session card charges cannot follow a redirect; never offer one.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "metadata": {**request.metadata, "idempotency_key": request.idempotency_key},
            "expand": ["latest_charge"],
        }
        if request.customer_reference:
            params["customer"] = request.customer_reference
        if request.description:
            params["description"] = request.description
        try:
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        except stripe.CardError as exc:
            return _charge_result_from_card_error(exc)
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            return ChargeResult(
                status=ChargeStatus.UNKNOWN,
                message=f"Stripe: outcome unknown ({type(exc).__name__}: {_said(exc)}).",
                raw=_error_raw(exc),
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused the charge request: {_said(exc)}") from exc
        return _charge_result_from_intent(intent.to_dict())

    # --- PromptPay --------------------------------------------------------------------

    def promptpay_charge(self, request: PromptPayChargeRequest) -> PromptPayCharge:
        """Create and confirm a PromptPay PaymentIntent; the QR is in its ``next_action``.

        Our idempotency key is Stripe's ``Idempotency-Key`` and is in the metadata, so the
        ``payment_intent.*`` webhooks name it.  An unheard answer is UNKNOWN (send the same
        key again); a refusal (PromptPay not enabled on the account, an amount Stripe does
        not take) raises ``GatewayError``.
        """
        if not request.idempotency_key:
            raise GatewayError("A PromptPay payment needs an idempotency key.")
        billing_details = {"email": request.payer_email}
        if request.payer_name:
            billing_details["name"] = request.payer_name
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "payment_method_types": ["promptpay"],
            "payment_method_data": {"type": "promptpay", "billing_details": billing_details},
            "confirm": True,
            "metadata": {**request.metadata, "idempotency_key": request.idempotency_key},
        }
        if request.customer_reference:
            params["customer"] = request.customer_reference
        if request.description:
            params["description"] = request.description
        try:
            intent = self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            return PromptPayCharge(
                charge=ChargeResult(
                    status=ChargeStatus.UNKNOWN,
                    message=f"Stripe: outcome unknown ({type(exc).__name__}: {_said(exc)}).",
                    raw=_error_raw(exc),
                )
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused the PromptPay payment: {_said(exc)}") from exc
        body = intent.to_dict()
        qr = _mapping(_mapping(body.get("next_action")).get("promptpay_display_qr_code"))
        return PromptPayCharge(
            charge=_promptpay_result_from_intent(body),
            qr_data=str(qr.get("data") or ""),
            instructions_url=str(qr.get("hosted_instructions_url") or ""),
        )

    def promptpay_status(self, gateway_reference: str) -> ChargeResult:
        """The PromptPay PaymentIntent as Stripe has it now (read by id, never searched)."""
        if not gateway_reference.startswith("pi_"):
            raise GatewayError("A PromptPay payment is a PaymentIntent.")
        try:
            intent = self._client.v1.payment_intents.retrieve(gateway_reference)
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe could not read the payment: {_said(exc)}") from exc
        return _promptpay_result_from_intent(intent.to_dict())

    def begin_card_setup(self, customer_reference: str, idempotency_key: str) -> CardSetup | None:
        """A SetupIntent for a card to charge off-session later, for Stripe Elements.

        Raises ``GatewayError`` when Stripe cannot be asked or no publishable key is set.
        """
        if not self.publishable_key:
            raise GatewayError("Set STRIPE_PUBLISHABLE_KEY to collect cards with Stripe Elements.")
        params: dict[str, Any] = {"usage": "off_session", "payment_method_types": ["card"]}
        if customer_reference:
            params["customer"] = customer_reference
        try:
            intent = self._client.v1.setup_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe could not start a card form: {_said(exc)}") from exc
        return CardSetup(
            client_secret=str(intent.client_secret or ""),
            publishable_key=self.publishable_key,
            gateway_reference=str(intent.id),
        )

    def create_customer(self, request: CustomerRequest) -> str:
        """A Stripe Customer for the payer; the idempotency key makes a retry return it."""
        params: dict[str, Any] = {"metadata": dict(request.metadata)}
        if request.name:
            params["name"] = request.name
        if request.email:
            params["email"] = request.email
        try:
            customer = self._client.v1.customers.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe could not create the customer: {_said(exc)}") from exc
        return str(customer.id)

    def charge_authentication(self, gateway_reference: str) -> str:
        """The PaymentIntent's client secret while it ``requires_action``, else "".

        Stripe.js (``handleNextAction``) shows the issuer's authentication with it; the
        secret is handed to the member's browser only, never stored.
        """
        if not gateway_reference.startswith("pi_"):
            return ""
        try:
            intent = self._client.v1.payment_intents.retrieve(gateway_reference).to_dict()
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe could not read the payment: {_said(exc)}") from exc
        if str(intent.get("status") or "") != "requires_action":
            return ""
        return str(intent.get("client_secret") or "")

    def cancel_charge(self, gateway_reference: str) -> ChargeResult:
        """Cancel the PaymentIntent; if Stripe refuses (it succeeded or is processing),
        the intent as it stands."""
        if not gateway_reference.startswith("pi_"):
            raise GatewayError("Only a PaymentIntent can be cancelled.")
        intents = self._client.v1.payment_intents
        try:
            intent = intents.cancel(gateway_reference)
        except stripe.InvalidRequestError:
            try:
                intent = intents.retrieve(gateway_reference)
            except stripe.StripeError as exc:
                raise GatewayError(f"Stripe could not read the payment: {_said(exc)}") from exc
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe could not cancel the payment: {_said(exc)}") from exc
        return _charge_result_from_intent(intent.to_dict())

    def lookup_charge(self, idempotency_key: str) -> ChargeResult | None:
        """The latest PaymentIntent whose metadata carries this key, or ``None``.

        Stripe's search index trails writes by up to a minute (rarely more), so ``None``
        shortly after a charge is not proof that nothing happened: retry with the *same*
        idempotency key, which Stripe deduplicates for 24 hours, never with a new one.
        Raises ``GatewayError`` if Stripe cannot be asked.
        """
        escaped = idempotency_key.replace("\\", "\\\\").replace("'", "\\'")
        try:
            found = self._client.v1.payment_intents.search(
                params={
                    "query": f"metadata['idempotency_key']:'{escaped}'",
                    "expand": ["data.latest_charge"],
                }
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe search failed: {_said(exc)}") from exc
        intents = [intent.to_dict() for intent in found.data]
        if not intents:
            return None
        latest = max(intents, key=lambda intent: int(intent.get("created") or 0))
        return _charge_result_from_intent(latest)

    # --- refunds ----------------------------------------------------------------------

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund a PaymentIntent (``gateway_reference``), idempotently by key.

        A refund Stripe refuses (already refunded, amount too large...) gives
        ``succeeded=False``; a pending refund counts as succeeded (the money is on its way
        back).  Raises ``GatewayError`` when the outcome is unknown or Stripe cannot be
        asked: retrying with the same idempotency key is then safe.
        """
        params: RefundCreateParams = {
            "payment_intent": request.gateway_reference,
            "amount": request.amount,
            "metadata": {"idempotency_key": request.idempotency_key},
        }
        if request.reason in _REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:
            params["metadata"] = {
                "idempotency_key": request.idempotency_key,
                "reason": request.reason[:500],
            }
        try:
            refund = self._client.v1.refunds.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        except (stripe.InvalidRequestError, stripe.CardError) as exc:
            return RefundResult(
                succeeded=False,
                message=f"Stripe refused the refund: {_said(exc)}",
                raw=_error_raw(exc),
            )
        except (
            stripe.IdempotencyError,
            stripe.AuthenticationError,
            stripe.PermissionError,
        ) as exc:
            raise GatewayError(f"Stripe refused the refund request: {_said(exc)}") from exc
        except stripe.StripeError as exc:
            raise GatewayError(
                f"Stripe refund outcome unknown ({type(exc).__name__}); "
                "retry with the same idempotency key."
            ) from exc
        return _refund_result(refund.to_dict())

    # --- cards ------------------------------------------------------------------------

    def card_details(self, token: str) -> CardDetails:
        """Display details of a card PaymentMethod; ``GatewayError`` if there is none."""
        try:
            method = self._client.v1.payment_methods.retrieve(token)
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe: cannot read payment method: {_said(exc)}") from exc
        return _card_details(method.to_dict())

    # --- webhooks ---------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Verify ``Stripe-Signature`` (tolerance 300 s) and normalise the event.

        payment_intent.succeeded / payment_intent.payment_failed give payment events, and
        payment_intent.canceled gives PAYMENT_CANCELED; charge.refunded and refund.created /
        refund.updated (once succeeded or pending) give REFUND_SUCCEEDED;
        payment_method.automatically_updated gives CARD_UPDATED.
        Anything else, including refund.failed, is IGNORED with ``raw_type`` set (a failed
        refund still carries ``refund`` with ``succeeded=False``).
        """
        signature = header_value(headers, SIGNATURE_HEADER)
        try:
            event = self._client.construct_event(payload, signature, self.webhook_secret)
        except stripe.SignatureVerificationError as exc:
            raise WebhookSignatureError(str(exc.user_message)) from exc
        except ValueError as exc:
            raise WebhookSignatureError("The webhook payload is not a Stripe event.") from exc
        body = event.to_dict()
        try:
            return _normalise_event(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise WebhookSignatureError("The Stripe event is malformed.") from exc


def stripe_gateway_from_settings() -> StripeGateway:
    """A :class:`StripeGateway` with ``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET``."""
    api_key = getattr(settings, "STRIPE_SECRET_KEY", "")
    if not api_key:
        raise GatewayError("Set STRIPE_SECRET_KEY to use the Stripe gateway.")
    return StripeGateway(
        api_key=api_key,
        webhook_secret=getattr(settings, "STRIPE_WEBHOOK_SECRET", ""),
        publishable_key=getattr(settings, "STRIPE_PUBLISHABLE_KEY", ""),
    )


# --- mapping Stripe objects -----------------------------------------------------------


def _charge_result_from_intent(intent: Mapping[str, Any]) -> ChargeResult:
    status = str(intent.get("status") or "")
    error = _mapping(intent.get("last_payment_error"))
    charge = _mapping(intent.get("latest_charge"))
    common: dict[str, Any] = {
        "gateway_reference": str(intent.get("id") or ""),
        "amount": int(intent.get("amount") or 0),
        "currency": str(intent.get("currency") or "").upper(),
        "raw": _intent_raw(intent),
    }
    if status == "succeeded":
        return ChargeResult(status=ChargeStatus.SUCCEEDED, **common)
    if status == "requires_action":
        return ChargeResult(
            status=ChargeStatus.REQUIRES_ACTION,
            decline_code=_AUTHENTICATION_REQUIRED,
            message="Stripe: the cardholder must authenticate.",
            **common,
        )
    if status in ("requires_payment_method", "canceled") and (error or status == "canceled"):
        decline_code, network_code, advice_code = _decline_codes(error, charge)
        charge_status = (
            ChargeStatus.REQUIRES_ACTION
            if decline_code == _AUTHENTICATION_REQUIRED
            else ChargeStatus.FAILED
        )
        message = mask_card_numbers(
            str(error.get("message") or intent.get("cancellation_reason") or status)
        )
        return ChargeResult(
            status=charge_status,
            decline_code=decline_code,
            network_code=network_code,
            advice_code=advice_code,
            message=f"Stripe: {message}",
            **common,
        )
    return ChargeResult(
        status=ChargeStatus.UNKNOWN,
        message=f"Stripe: the PaymentIntent is {status or 'in an unknown state'}.",
        **common,
    )


def _promptpay_result_from_intent(intent: Mapping[str, Any]) -> ChargeResult:
    """A PromptPay PaymentIntent as a result: waiting, paid, lapsed or withdrawn."""
    status = str(intent.get("status") or "")
    common: dict[str, Any] = {
        "gateway_reference": str(intent.get("id") or ""),
        "amount": int(intent.get("amount") or 0),
        "currency": str(intent.get("currency") or "").upper(),
        "raw": _intent_raw(intent),
    }
    if status == "succeeded":
        return ChargeResult(status=ChargeStatus.SUCCEEDED, **common)
    if status == "requires_action":
        return ChargeResult(
            status=ChargeStatus.REQUIRES_ACTION,
            message="Stripe: the PromptPay QR waits to be paid.",
            **common,
        )
    if status == "canceled":
        reason = str(intent.get("cancellation_reason") or "canceled")
        return ChargeResult(
            status=ChargeStatus.FAILED,
            decline_code="canceled",
            message=f"Stripe: the PromptPay payment was cancelled ({reason}).",
            **common,
        )
    if status == "requires_payment_method":
        error = _mapping(intent.get("last_payment_error"))
        return ChargeResult(
            status=ChargeStatus.FAILED,
            decline_code=_first(error.get("decline_code"), error.get("code"), "expired"),
            message="Stripe: "
            + mask_card_numbers(str(error.get("message") or "the PromptPay QR was not paid.")),
            **common,
        )
    return ChargeResult(
        status=ChargeStatus.UNKNOWN,
        message=f"Stripe: the PaymentIntent is {status or 'in an unknown state'}.",
        **common,
    )


def _charge_result_from_card_error(exc: stripe.CardError) -> ChargeResult:
    body = exc.json_body if isinstance(exc.json_body, Mapping) else {}
    error = _mapping(body.get("error"))
    intent = _mapping(error.get("payment_intent"))
    charge = _mapping(intent.get("latest_charge"))
    decline_code, network_code, advice_code = _decline_codes(
        {**error, "code": error.get("code") or exc.code}, charge
    )
    status = ChargeStatus.FAILED
    if _AUTHENTICATION_REQUIRED in (decline_code, error.get("code")):
        status, decline_code = ChargeStatus.REQUIRES_ACTION, _AUTHENTICATION_REQUIRED
    return ChargeResult(
        status=status,
        gateway_reference=str(intent.get("id") or ""),
        amount=int(intent.get("amount") or 0),
        currency=str(intent.get("currency") or "").upper(),
        decline_code=decline_code,
        network_code=network_code,
        advice_code=advice_code,
        message=f"Stripe: {_said(exc) or 'the card was declined'}",
        raw=_error_raw(exc),
    )


def _decline_codes(error: Mapping[str, Any], charge: Mapping[str, Any]) -> tuple[str, str, str]:
    """(decline, network, advice) codes from an error object and the charge's outcome."""
    outcome = _mapping(charge.get("outcome"))
    card_details = _mapping(_mapping(charge.get("payment_method_details")).get("card"))
    stripe_advice = _first(error.get("advice_code"), outcome.get("advice_code"))
    merchant_advice = _first(error.get("network_advice_code"), outcome.get("network_advice_code"))
    if merchant_advice in MASTERCARD_NO_RETRY_ADVICE:
        advice = merchant_advice
    else:
        advice = stripe_advice or merchant_advice
    network_code = _first(
        error.get("network_decline_code"),
        outcome.get("network_decline_code"),
        card_details.get("network_decline_code"),
    )
    return _first(error.get("decline_code"), error.get("code")), network_code, advice


def _refund_result(refund: Mapping[str, Any]) -> RefundResult:
    status = str(refund.get("status") or "")
    succeeded = status in ("succeeded", "pending")
    return RefundResult(
        succeeded=succeeded,
        gateway_reference=str(refund.get("id") or ""),
        idempotency_key=str(_mapping(refund.get("metadata")).get("idempotency_key") or ""),
        message=f"Stripe: refund {status}."
        + (f" ({refund.get('failure_reason')})" if refund.get("failure_reason") else ""),
        raw=_kept(refund),
    )


def _card_details(method: Mapping[str, Any]) -> CardDetails:
    card = _mapping(method.get("card"))
    if method.get("type") != "card" or not card:
        raise GatewayError("Stripe: the payment method is not a card.")
    customer = method.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    return CardDetails(
        token=str(method.get("id") or ""),
        brand=str(card.get("brand") or ""),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
        fingerprint=str(card.get("fingerprint") or ""),
        customer_reference=str(customer or ""),
    )


def _normalise_event(body: Mapping[str, Any]) -> GatewayEvent:
    event_id = str(body["id"])
    raw_type = str(body["type"])
    obj = _mapping(_mapping(body["data"]).get("object"))
    metadata = _mapping(obj.get("metadata"))
    if raw_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        return GatewayEvent(
            event_id=event_id,
            type=EventType.PAYMENT_SUCCEEDED
            if raw_type == "payment_intent.succeeded"
            else EventType.PAYMENT_FAILED,
            charge=_charge_result_from_intent(obj),
            idempotency_key=str(metadata.get("idempotency_key") or ""),
            raw_type=raw_type,
        )
    if raw_type == "payment_intent.canceled":
        return GatewayEvent(
            event_id=event_id,
            type=EventType.PAYMENT_CANCELED,
            charge=_charge_result_from_intent(obj),
            idempotency_key=str(metadata.get("idempotency_key") or ""),
            raw_type=raw_type,
        )
    if raw_type == "charge.refunded":
        refunds = _mapping(obj.get("refunds")).get("data") or []
        latest = max(refunds, key=lambda r: int(r.get("created") or 0)) if refunds else {}
        return GatewayEvent(
            event_id=event_id,
            type=EventType.REFUND_SUCCEEDED,
            charge=ChargeResult(
                status=ChargeStatus.SUCCEEDED,
                gateway_reference=str(obj.get("payment_intent") or obj.get("id") or ""),
                amount=int(obj.get("amount") or 0),
                currency=str(obj.get("currency") or "").upper(),
                raw=_kept(obj),
            ),
            idempotency_key=str(metadata.get("idempotency_key") or ""),
            refund=RefundResult(
                succeeded=True,
                gateway_reference=str(latest.get("id") or ""),
                idempotency_key=str(_mapping(latest.get("metadata")).get("idempotency_key") or ""),
                message=f"Stripe: {obj.get('amount_refunded', 0)} refunded on the charge.",
                raw=_kept(latest) if latest else {},
            ),
            raw_type=raw_type,
        )
    if raw_type in ("refund.created", "refund.updated", "refund.failed"):
        refund = _refund_result(obj)
        return GatewayEvent(
            event_id=event_id,
            type=EventType.REFUND_SUCCEEDED if refund.succeeded else EventType.IGNORED,
            charge=ChargeResult(
                status=ChargeStatus.SUCCEEDED,
                gateway_reference=str(obj.get("payment_intent") or obj.get("charge") or ""),
                currency=str(obj.get("currency") or "").upper(),
            ),
            refund=refund,
            raw_type=raw_type,
        )
    if raw_type == "payment_method.automatically_updated":
        return GatewayEvent(
            event_id=event_id,
            type=EventType.CARD_UPDATED,
            card=_card_details(obj),
            raw_type=raw_type,
        )
    return GatewayEvent(event_id=event_id, type=EventType.IGNORED, raw_type=raw_type)


# --- evidence, redacted ---------------------------------------------------------------


def _kept(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The allow-listed fields of a Stripe object, nested objects reduced to their ids."""
    kept: dict[str, Any] = {}
    for name in _KEPT_FIELDS:
        value = obj.get(name)
        if isinstance(value, Mapping):
            value = value.get("id")
        if value is not None and value != "":
            kept[name] = value
    return redact(kept)


def _intent_raw(intent: Mapping[str, Any]) -> dict[str, Any]:
    raw = _kept(intent)
    error = _mapping(intent.get("last_payment_error"))
    if error:
        raw["last_payment_error"] = _kept(error)
    charge = _mapping(intent.get("latest_charge"))
    if charge:
        outcome = _mapping(charge.get("outcome"))
        raw["latest_charge"] = {
            **_kept(charge),
            "outcome": redact({k: outcome[k] for k in _KEPT_OUTCOME_FIELDS if outcome.get(k)}),
        }
    elif intent.get("latest_charge"):
        raw["latest_charge"] = str(intent["latest_charge"])
    return raw


def _error_raw(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body if isinstance(exc.json_body, Mapping) else {}
    error = _mapping(body.get("error"))
    raw: dict[str, Any] = {"error_class": type(exc).__name__}
    if exc.http_status is not None:
        raw["http_status"] = exc.http_status
    if exc.request_id:
        raw["request_id"] = exc.request_id
    if error:
        raw["error"] = _kept(error)
        intent = _mapping(error.get("payment_intent"))
        if intent:
            raw["payment_intent"] = _kept(intent)
    return redact(raw)


def _said(exc: stripe.StripeError) -> str:
    """Stripe's message for an error, with any card number in it masked."""
    return mask_card_numbers(str(exc.user_message or ""))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _first(*values: Any) -> str:
    return next((str(value) for value in values if value), "")
