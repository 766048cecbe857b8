"""Stripe's PromptPay: the PaymentIntent we send, the QR we read, the events we hear."""

from __future__ import annotations

import pytest
import stripe

from billing.gateways.interface import ChargeStatus, EventType, GatewayError, PromptPayChargeRequest

from .stripe_stub import api_error, event, payment_intent, stripe_signature

QR_DATA = "00020101021229370016A000000677010111011300660000000005802TH530376454068000.0063041234"


def _promptpay_intent(status: str = "requires_action", **kwargs) -> dict:
    intent = payment_intent(status=status, amount=80_000, idempotency_key="pp-1", **kwargs)
    intent.update(
        {
            "payment_method_types": ["promptpay"],
            "automatic_payment_methods": None,
            "latest_charge": None,
            "client_secret": "pi_x_secret_y",
            "next_action": (
                {
                    "type": "promptpay_display_qr_code",
                    "promptpay_display_qr_code": {
                        "data": QR_DATA,
                        "hosted_instructions_url": "https://payments.stripe.com/qr/instructions/x",
                        "image_url_png": "https://qr.stripe.com/x.png",
                        "image_url_svg": "https://qr.stripe.com/x.svg",
                    },
                }
                if status == "requires_action"
                else None
            ),
        }
    )
    return intent


def _request() -> PromptPayChargeRequest:
    return PromptPayChargeRequest(
        amount=80_000,
        currency="THB",
        idempotency_key="pp-1",
        payer_email="somchai@example.com",
        payer_name="Somchai Jaidee",
        customer_reference="cus_NffrFeUfNV2Hib",
        description="PromptPay request 1",
        metadata={"promptpay_request": "1"},
    )


def test_creates_and_confirms_a_promptpay_payment_intent(stripe_gateway, stripe_http):
    stripe_http.reply(200, _promptpay_intent())
    created = stripe_gateway.promptpay_charge(_request())

    [sent] = stripe_http.requests
    assert (sent.method, sent.path) == ("post", "/v1/payment_intents")
    assert sent.headers["Idempotency-Key"] == "pp-1"
    params = sent.params
    assert params["payment_method_types[0]"] == "promptpay"
    assert params["payment_method_data[type]"] == "promptpay"
    assert params["payment_method_data[billing_details][email]"] == "somchai@example.com"
    assert params["payment_method_data[billing_details][name]"] == "Somchai Jaidee"
    assert (params["confirm"], params["amount"], params["currency"]) == ("true", "80000", "thb")
    assert params["metadata[idempotency_key]"] == "pp-1"
    assert params["customer"] == "cus_NffrFeUfNV2Hib"
    assert "off_session" not in params  # the payer is there, scanning

    assert created.charge.status == ChargeStatus.REQUIRES_ACTION
    assert created.charge.gateway_reference == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert created.qr_data == QR_DATA
    assert created.instructions_url.startswith("https://payments.stripe.com/")
    assert "secret" not in str(created.charge.raw)


def test_a_refusal_is_a_gateway_error(stripe_gateway, stripe_http):
    stripe_http.reply(
        400,
        api_error(
            "invalid_request_error",
            "The payment method type provided: promptpay is invalid.",
            code="payment_method_invalid_parameter",
        ),
    )
    with pytest.raises(GatewayError):
        stripe_gateway.promptpay_charge(_request())


def test_an_unheard_answer_is_unknown(stripe_gateway, stripe_http):
    stripe_http.fail(stripe.APIConnectionError("connection reset"))
    created = stripe_gateway.promptpay_charge(_request())
    assert created.charge.status == ChargeStatus.UNKNOWN
    assert created.qr_data == ""


@pytest.mark.parametrize(
    ("intent", "status", "decline_code"),
    [
        (_promptpay_intent("succeeded"), ChargeStatus.SUCCEEDED, ""),
        (_promptpay_intent("requires_action"), ChargeStatus.REQUIRES_ACTION, ""),
        (
            {**_promptpay_intent("canceled"), "cancellation_reason": "abandoned"},
            ChargeStatus.FAILED,
            "canceled",
        ),
        (_promptpay_intent("requires_payment_method"), ChargeStatus.FAILED, "expired"),
        (_promptpay_intent("processing"), ChargeStatus.UNKNOWN, ""),
    ],
)
def test_status_is_read_by_id(stripe_gateway, stripe_http, intent, status, decline_code):
    stripe_http.reply(200, intent)
    result = stripe_gateway.promptpay_status("pi_3MtwBwLkdIwHu7ix28a3tqPa")
    [sent] = stripe_http.requests
    assert (sent.method, sent.path) == ("get", "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa")
    assert (result.status, result.decline_code) == (status, decline_code)


def test_status_of_something_that_is_not_a_payment_intent_is_refused(stripe_gateway):
    with pytest.raises(GatewayError):
        stripe_gateway.promptpay_status("sbx_pp_123")


@pytest.mark.parametrize(
    ("raw_type", "intent_status", "expected"),
    [
        ("payment_intent.succeeded", "succeeded", EventType.PAYMENT_SUCCEEDED),
        ("payment_intent.payment_failed", "requires_payment_method", EventType.PAYMENT_FAILED),
        ("payment_intent.canceled", "canceled", EventType.PAYMENT_CANCELED),
    ],
)
def test_webhooks_name_the_payment_by_our_key(stripe_gateway, raw_type, intent_status, expected):
    payload = event(raw_type, _promptpay_intent(intent_status))
    parsed = stripe_gateway.parse_webhook(payload, {"Stripe-Signature": stripe_signature(payload)})
    assert (parsed.type, parsed.idempotency_key) == (expected, "pp-1")
    assert parsed.charge is not None and parsed.charge.amount == 80_000
