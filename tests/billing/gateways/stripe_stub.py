"""A stand-in for Stripe's HTTP API: canned JSON in Stripe's documented shapes, no network.

:class:`StubStripeHTTPClient` plugs into ``stripe.StripeClient(http_client=...)`` the way
the SDK's own clients do (``request`` returns ``(body, status, headers)``; connection
failures raise ``stripe.APIConnectionError``), and records every request so tests can
assert headers and form parameters.  The builders below return objects as the Stripe API
reference documents them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import stripe

API_KEY = "sk_test_stub_0000000000000000"
WEBHOOK_SECRET = "whsec_test_stub_secret"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]  # the form body of a POST, the query string of a GET

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


class StubStripeHTTPClient(stripe.HTTPClient):
    """Answers requests from a queue of canned replies, in order, and records them."""

    name: ClassVar[str] = "stub"

    def __init__(self) -> None:
        super().__init__()
        self.replies: list[tuple[int, dict[str, Any]] | Exception] = []
        self.requests: list[RecordedRequest] = []

    def reply(self, status: int, body: dict[str, Any]) -> StubStripeHTTPClient:
        self.replies.append((status, body))
        return self

    def fail(self, error: Exception) -> StubStripeHTTPClient:
        self.replies.append(error)
        return self

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, dict[str, str]]:
        query = urlsplit(url).query
        params = dict(parse_qsl(post_data if post_data else query, keep_blank_values=True))
        self.requests.append(RecordedRequest(method, url, dict(headers or {}), params))
        if not self.replies:
            raise AssertionError(f"Unexpected Stripe request: {method} {url}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        status, body = reply
        return json.dumps(body), status, {"Request-Id": "req_stub123", "Stripe-Version": "stub"}

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("The gateway never streams.")

    def close(self) -> None:
        pass

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0  # retries without waiting, so tests stay fast


# --- Stripe objects ---------------------------------------------------------------------


def charge_object(
    *,
    charge_id: str = "ch_3MtwBwLkdIwHu7ix0snN0B15",
    intent_id: str = "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    amount: int = 150000,
    status: str = "succeeded",
    outcome: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_refunded": 0,
        "currency": "thb",
        "status": status,
        "paid": status == "succeeded",
        "payment_intent": intent_id,
        "metadata": metadata or {},
        "billing_details": {"name": "Somchai Jaidee", "email": None, "address": None},
        "outcome": outcome
        or {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
        },
        "payment_method_details": {
            "type": "card",
            "card": {
                "brand": "visa",
                "last4": "4242",
                "exp_month": 8,
                "exp_year": 2030,
                "fingerprint": "Xt5EWLLDS7FJjR1c",
                "network": "visa",
                "checks": {"cvc_check": "pass", "address_postal_code_check": None},
            },
        },
        "refunds": {"object": "list", "data": [], "has_more": False},
    }


def payment_intent(
    *,
    intent_id: str = "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    status: str = "succeeded",
    amount: int = 150000,
    idempotency_key: str = "attempt-1",
    created: int = 1680800504,
    last_payment_error: dict[str, Any] | None = None,
    latest_charge: dict[str, Any] | str | None = "expand",
) -> dict[str, Any]:
    if latest_charge == "expand":
        latest_charge = charge_object(intent_id=intent_id, amount=amount)
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0,
        "automatic_payment_methods": {"allow_redirects": "never", "enabled": True},
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "confirmation_method": "automatic",
        "created": created,
        "currency": "thb",
        "customer": "cus_NffrFeUfNV2Hib",
        "description": None,
        "last_payment_error": last_payment_error,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": {"idempotency_key": idempotency_key, "invoice": "INV-1"},
        "next_action": {"type": "use_stripe_sdk"} if status == "requires_action" else None,
        "payment_method": "pm_1MtwBwLkdIwHu7ixdrbYkG6d",
        "payment_method_types": ["card"],
        "status": status,
    }


def card_error(
    *,
    code: str = "card_declined",
    decline_code: str | None = "insufficient_funds",
    advice_code: str | None = None,
    network_decline_code: str | None = None,
    network_advice_code: str | None = None,
    message: str = "Your card has insufficient funds.",
    intent_status: str = "requires_payment_method",
) -> dict[str, Any]:
    """A 402 body as Stripe sends it for a declined off-session PaymentIntent."""
    error: dict[str, Any] = {
        "type": "card_error",
        "code": code,
        "message": message,
        "charge": "ch_3MtwBwLkdIwHu7ix0snN0B15",
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_stub123",
        "payment_method": {
            "id": "pm_1MtwBwLkdIwHu7ixdrbYkG6d",
            "object": "payment_method",
            "type": "card",
            "card": {"brand": "visa", "last4": "9995", "exp_month": 8, "exp_year": 2030},
        },
    }
    for name, value in [
        ("decline_code", decline_code),
        ("advice_code", advice_code),
        ("network_decline_code", network_decline_code),
        ("network_advice_code", network_advice_code),
    ]:
        if value is not None:
            error[name] = value
    last_error = {k: v for k, v in error.items() if k != "payment_method"}
    error["payment_intent"] = payment_intent(
        status=intent_status, last_payment_error=last_error, latest_charge="ch_3MtwBwLk"
    )
    return {"error": error}


def api_error(error_type: str, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def refund_object(
    *,
    refund_id: str = "re_3MtwBwLkdIwHu7ix1Xh1YpQ1",
    status: str = "succeeded",
    amount: int = 50000,
) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": "ch_3MtwBwLkdIwHu7ix0snN0B15",
        "created": 1680800600,
        "currency": "thb",
        "metadata": {"idempotency_key": "refund-1"},
        "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "reason": "requested_by_customer",
        "status": status,
    }


def payment_method(
    *, exp_month: int = 8, exp_year: int = 2030, last4: str = "4242"
) -> dict[str, Any]:
    return {
        "id": "pm_1MtwBwLkdIwHu7ixdrbYkG6d",
        "object": "payment_method",
        "type": "card",
        "customer": "cus_NffrFeUfNV2Hib",
        "created": 1680800504,
        "livemode": False,
        "metadata": {},
        "billing_details": {"name": "Somchai Jaidee"},
        "card": {
            "brand": "visa",
            "last4": last4,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": "Xt5EWLLDS7FJjR1c",
            "funding": "credit",
            "country": "TH",
            "checks": {"cvc_check": "pass"},
            "networks": {"available": ["visa"], "preferred": None},
        },
    }


def search_result(*objects: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "search_result",
        "url": "/v1/payment_intents/search",
        "has_more": False,
        "next_page": None,
        "data": list(objects),
    }


def event(
    event_type: str, obj: dict[str, Any], event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy"
) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": 1686089970,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": obj},
        }
    ).encode()


def stripe_signature(
    payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    """The ``Stripe-Signature`` header as Stripe computes it: HMAC-SHA256 of ``"{t}.{payload}"``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.{payload.decode()}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
