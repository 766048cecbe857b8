"""The Stripe gateway against a stubbed HTTP client: requests sent, answers mapped.

No network: :class:`StubStripeHTTPClient` answers with canned JSON in Stripe's shapes.
"""

from __future__ import annotations

import json
import time

import pytest
import stripe

from billing.gateways.interface import (
    ChargeRequest,
    ChargeStatus,
    EventType,
    GatewayError,
    PaymentGateway,
    RefundRequest,
    WebhookSignatureError,
)
from billing.gateways.redaction import looks_like_card_number
from billing.gateways.stripe_gateway import StripeGateway

from .stripe_stub import (
    API_KEY,
    WEBHOOK_SECRET,
    StubStripeHTTPClient,
    api_error,
    card_error,
    charge_object,
    event,
    payment_intent,
    payment_method,
    refund_object,
    search_result,
    stripe_signature,
)


def _charge(
    key: str = "attempt-1", customer: str = "cus_NffrFeUfNV2Hib", off_session: bool = True
) -> ChargeRequest:
    return ChargeRequest(
        amount=150000,
        currency="THB",
        payment_token="pm_1MtwBwLkdIwHu7ixdrbYkG6d",
        customer_reference=customer,
        idempotency_key=key,
        description="Monthly membership",
        metadata={"invoice": "INV-1"},
        off_session=off_session,
    )


def _assert_no_card_data(raw: object) -> None:
    text = json.dumps(raw)
    assert "client_secret" not in text
    assert "_secret_" not in text
    assert not looks_like_card_number(text)


def test_stripe_is_a_payment_gateway(stripe_gateway: StripeGateway) -> None:
    gateway: PaymentGateway = stripe_gateway
    assert gateway.name == "stripe"


# --- charges -----------------------------------------------------------------------------


def test_charge_confirms_an_off_session_payment_intent_with_the_idempotency_key(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, payment_intent(idempotency_key="attempt-1"))

    stripe_gateway.charge(_charge("attempt-1"))

    [sent] = stripe_http.requests
    assert (sent.method, sent.path) == ("post", "/v1/payment_intents")
    assert sent.headers["Idempotency-Key"] == "attempt-1"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.params["confirm"] == "true"
    assert sent.params["off_session"] == "true"
    assert sent.params["payment_method"] == "pm_1MtwBwLkdIwHu7ixdrbYkG6d"
    assert sent.params["customer"] == "cus_NffrFeUfNV2Hib"
    assert sent.params["amount"] == "150000"
    assert sent.params["currency"] == "thb"
    assert sent.params["metadata[idempotency_key]"] == "attempt-1"
    assert sent.params["metadata[invoice]"] == "INV-1"
    assert sent.params["automatic_payment_methods[allow_redirects]"] == "never"


def test_charge_without_a_customer_sends_none(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, payment_intent())

    stripe_gateway.charge(_charge(customer=""))

    assert "customer" not in stripe_http.requests[0].params


def test_a_succeeded_payment_intent_is_a_success_with_redacted_evidence(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, payment_intent(intent_id="pi_ok", amount=150000))

    result = stripe_gateway.charge(_charge())

    assert result.status == ChargeStatus.SUCCEEDED
    assert (result.gateway_reference, result.amount, result.currency) == ("pi_ok", 150000, "THB")
    assert result.raw["id"] == "pi_ok"
    assert result.raw["status"] == "succeeded"
    assert result.raw["latest_charge"]["outcome"]["network_status"] == "approved_by_network"
    _assert_no_card_data(result.raw)
    assert "billing_details" not in json.dumps(result.raw)


def test_a_decline_keeps_decline_network_and_advice_codes(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(
        402,
        card_error(
            decline_code="insufficient_funds",
            advice_code="try_again_later",
            network_decline_code="51",
        ),
    )

    result = stripe_gateway.charge(_charge())

    assert result.status == ChargeStatus.FAILED
    assert (result.decline_code, result.network_code, result.advice_code) == (
        "insufficient_funds",
        "51",
        "try_again_later",
    )
    assert result.gateway_reference == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert result.message == "Stripe: Your card has insufficient funds."
    assert result.raw["error"]["decline_code"] == "insufficient_funds"
    assert result.raw["http_status"] == 402
    _assert_no_card_data(result.raw)


def test_an_error_code_without_decline_code_is_the_decline_code(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(
        402, card_error(code="expired_card", decline_code=None, message="Your card has expired.")
    )

    result = stripe_gateway.charge(_charge())

    assert (result.status, result.decline_code) == (ChargeStatus.FAILED, "expired_card")


@pytest.mark.parametrize("merchant_advice", ["03", "21"])
def test_mastercard_never_retry_advice_wins_over_stripe_advice(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient, merchant_advice: str
) -> None:
    stripe_http.reply(
        402,
        card_error(
            decline_code="do_not_honor",
            advice_code="try_again_later",
            network_decline_code="05",
            network_advice_code=merchant_advice,
        ),
    )

    result = stripe_gateway.charge(_charge())

    assert result.advice_code == merchant_advice
    assert result.raw["error"]["advice_code"] == "try_again_later"
    assert result.raw["error"]["network_advice_code"] == merchant_advice


def test_other_merchant_advice_yields_to_stripe_advice(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(
        402,
        card_error(
            decline_code="do_not_honor", advice_code="try_again_later", network_advice_code="02"
        ),
    )

    assert stripe_gateway.charge(_charge()).advice_code == "try_again_later"


def test_network_codes_come_from_the_charge_outcome_when_the_error_lacks_them(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    body = card_error(decline_code="lost_card")
    body["error"]["payment_intent"]["latest_charge"] = charge_object(
        status="failed",
        outcome={
            "network_status": "declined_by_network",
            "reason": "lost_card",
            "type": "issuer_declined",
            "advice_code": "do_not_try_again",
            "network_advice_code": None,
            "network_decline_code": "41",
        },
    )
    stripe_http.reply(402, body)

    result = stripe_gateway.charge(_charge())

    assert (result.decline_code, result.network_code, result.advice_code) == (
        "lost_card",
        "41",
        "do_not_try_again",
    )


def test_authentication_required_asks_for_action(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(
        402,
        card_error(
            code="authentication_required",
            decline_code="authentication_required",
            message="This payment requires authentication.",
        ),
    )

    result = stripe_gateway.charge(_charge())

    assert result.status == ChargeStatus.REQUIRES_ACTION
    assert result.decline_code == "authentication_required"
    assert result.gateway_reference == "pi_3MtwBwLkdIwHu7ix28a3tqPa"


def test_a_payment_intent_requiring_action_asks_for_action(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, payment_intent(status="requires_action", latest_charge=None))

    result = stripe_gateway.charge(_charge(off_session=False))

    assert result.status == ChargeStatus.REQUIRES_ACTION
    assert result.decline_code == "authentication_required"
    assert stripe_http.requests[0].params["off_session"] == "false"
    _assert_no_card_data(result.raw)


def test_the_browser_gets_the_client_secret_of_an_intent_awaiting_authentication(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    waiting = payment_intent(status="requires_action", latest_charge=None)
    stripe_http.reply(200, waiting).reply(200, payment_intent(status="succeeded"))

    assert stripe_gateway.charge_authentication(waiting["id"]) == waiting["client_secret"]
    assert stripe_http.requests[0].method == "get"
    assert stripe_http.requests[0].path == f"/v1/payment_intents/{waiting['id']}"
    # Once it no longer waits, there is nothing for the browser to do.
    assert stripe_gateway.charge_authentication(waiting["id"]) == ""
    assert stripe_gateway.charge_authentication("") == ""  # no intent: Stripe is not asked
    assert len(stripe_http.requests) == 2


def test_a_waiting_intent_is_cancelled_so_it_can_never_go_through(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    intent = payment_intent(status="canceled", latest_charge=None)
    stripe_http.reply(200, {**intent, "cancellation_reason": "abandoned"})

    result = stripe_gateway.cancel_charge(intent["id"])

    assert result.status == ChargeStatus.FAILED
    assert (stripe_http.requests[0].method, stripe_http.requests[0].path) == (
        "post",
        f"/v1/payment_intents/{intent['id']}/cancel",
    )


def test_an_intent_confirmed_before_it_could_be_cancelled_is_what_it_became(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    succeeded = payment_intent(status="succeeded")
    stripe_http.reply(
        400, api_error("invalid_request_error", "You cannot cancel this PaymentIntent.")
    ).reply(200, succeeded)

    result = stripe_gateway.cancel_charge(succeeded["id"])

    assert (result.status, result.gateway_reference) == (ChargeStatus.SUCCEEDED, succeeded["id"])
    assert [r.method for r in stripe_http.requests] == ["post", "get"]


def test_a_processing_payment_intent_is_unknown(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, payment_intent(status="processing"))

    assert stripe_gateway.charge(_charge()).status == ChargeStatus.UNKNOWN


def test_a_connection_error_is_unknown(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.fail(stripe.APIConnectionError("Read timed out."))

    result = stripe_gateway.charge(_charge())

    assert result.status == ChargeStatus.UNKNOWN
    assert result.gateway_reference == ""
    assert "APIConnectionError" in result.message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, api_error("api_error", "Something went wrong on Stripe's end.")),
        (503, api_error("api_error", "Service unavailable.")),
        (409, api_error("invalid_request_error", "Another request is in flight.")),
        (429, api_error("invalid_request_error", "Too many requests.", code="rate_limit")),
    ],
)
def test_server_errors_conflicts_and_rate_limits_are_unknown(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient, status: int, body: dict
) -> None:
    stripe_http.reply(status, body)

    assert stripe_gateway.charge(_charge()).status == ChargeStatus.UNKNOWN


def test_sdk_retries_resend_the_same_idempotency_key(stripe_http: StubStripeHTTPClient) -> None:
    gateway = StripeGateway(API_KEY, WEBHOOK_SECRET, http_client=stripe_http, max_network_retries=2)
    stripe_http.fail(stripe.APIConnectionError("Connection reset.", should_retry=True))
    stripe_http.reply(500, api_error("api_error", "Try again."))
    stripe_http.reply(200, payment_intent())

    result = gateway.charge(_charge("attempt-9"))

    assert result.status == ChargeStatus.SUCCEEDED
    assert [sent.headers["Idempotency-Key"] for sent in stripe_http.requests] == ["attempt-9"] * 3


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, api_error("invalid_request_error", "No such PaymentMethod.", "resource_missing")),
        (401, api_error("invalid_request_error", "Invalid API Key provided.")),
        (403, api_error("invalid_request_error", "Permission denied.")),
        (400, api_error("idempotency_error", "Keys for idempotent requests can only be used...")),
    ],
)
def test_our_mistakes_raise_gateway_error(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient, status: int, body: dict
) -> None:
    stripe_http.reply(status, body)

    with pytest.raises(GatewayError):
        stripe_gateway.charge(_charge())


def test_card_numbers_in_stripe_messages_are_masked(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(402, card_error(message="Card 4000 0000 0000 9995 was declined."))

    result = stripe_gateway.charge(_charge())

    assert result.message == "Stripe: Card **** **** **** 9995 was declined."
    _assert_no_card_data(result.raw)


# --- lookups -----------------------------------------------------------------------------


def test_lookup_searches_payment_intents_by_the_key_in_metadata(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(
        200,
        search_result(
            payment_intent(intent_id="pi_old", status="canceled", created=100, latest_charge=None),
            payment_intent(intent_id="pi_new", status="succeeded", created=200),
        ),
    )

    result = stripe_gateway.lookup_charge("attempt-1")

    [sent] = stripe_http.requests
    assert (sent.method, sent.path) == ("get", "/v1/payment_intents/search")
    assert sent.params["query"] == "metadata['idempotency_key']:'attempt-1'"
    assert result is not None
    assert (result.status, result.gateway_reference) == (ChargeStatus.SUCCEEDED, "pi_new")


def test_lookup_quotes_are_escaped(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, search_result())

    stripe_gateway.lookup_charge("it's")

    assert stripe_http.requests[0].params["query"] == "metadata['idempotency_key']:'it\\'s'"


def test_lookup_of_nothing_is_none(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, search_result())

    assert stripe_gateway.lookup_charge("attempt-1") is None


def test_lookup_of_a_declined_intent_keeps_its_codes(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    declined = card_error(
        decline_code="stolen_card", advice_code="do_not_try_again", network_decline_code="43"
    )["error"]["payment_intent"]
    stripe_http.reply(200, search_result(declined))

    result = stripe_gateway.lookup_charge("attempt-1")

    assert result is not None
    assert (result.status, result.decline_code, result.network_code, result.advice_code) == (
        ChargeStatus.FAILED,
        "stolen_card",
        "43",
        "do_not_try_again",
    )


def test_lookup_when_stripe_is_unreachable_raises(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.fail(stripe.APIConnectionError("Read timed out."))

    with pytest.raises(GatewayError):
        stripe_gateway.lookup_charge("attempt-1")


# --- refunds -----------------------------------------------------------------------------


def _refund_request(reason: str = "requested_by_customer") -> RefundRequest:
    return RefundRequest(
        gateway_reference="pi_3MtwBwLkdIwHu7ix28a3tqPa",
        amount=50000,
        currency="THB",
        idempotency_key="refund-1",
        reason=reason,
    )


def test_refund_sends_the_idempotency_key(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, refund_object())

    result = stripe_gateway.refund(_refund_request())

    [sent] = stripe_http.requests
    assert (sent.method, sent.path) == ("post", "/v1/refunds")
    assert sent.headers["Idempotency-Key"] == "refund-1"
    assert sent.params["payment_intent"] == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert sent.params["amount"] == "50000"
    assert sent.params["reason"] == "requested_by_customer"
    assert result.succeeded
    assert result.gateway_reference == "re_3MtwBwLkdIwHu7ix1Xh1YpQ1"


def test_a_free_text_refund_reason_goes_to_metadata(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, refund_object(status="pending"))

    result = stripe_gateway.refund(_refund_request(reason="Moved to Chiang Mai"))

    sent = stripe_http.requests[0]
    assert "reason" not in sent.params
    assert sent.params["metadata[reason]"] == "Moved to Chiang Mai"
    assert result.succeeded  # pending: on its way back


def test_a_refused_refund_did_not_succeed(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(
        400,
        api_error(
            "invalid_request_error",
            "Refund amount (฿600.00) is greater than unrefunded amount on charge (฿500.00)",
            code="amount_too_large",
        ),
    )

    result = stripe_gateway.refund(_refund_request())

    assert not result.succeeded
    assert "greater than unrefunded" in result.message


def test_a_failed_refund_did_not_succeed(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, refund_object(status="failed"))

    assert not stripe_gateway.refund(_refund_request()).succeeded


def test_a_refund_with_unknown_outcome_raises(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(500, api_error("api_error", "Something went wrong."))

    with pytest.raises(GatewayError, match="same idempotency key"):
        stripe_gateway.refund(_refund_request())


# --- cards -------------------------------------------------------------------------------


def test_card_details_come_from_the_payment_method(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(200, payment_method())

    card = stripe_gateway.card_details("pm_1MtwBwLkdIwHu7ixdrbYkG6d")

    sent = stripe_http.requests[0]
    assert (sent.method, sent.path) == ("get", "/v1/payment_methods/pm_1MtwBwLkdIwHu7ixdrbYkG6d")
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("visa", "4242", 8, 2030)
    assert card.fingerprint == "Xt5EWLLDS7FJjR1c"
    assert card.customer_reference == "cus_NffrFeUfNV2Hib"


def test_card_details_of_a_missing_payment_method_raise(
    stripe_gateway: StripeGateway, stripe_http: StubStripeHTTPClient
) -> None:
    stripe_http.reply(404, api_error("invalid_request_error", "No such PaymentMethod"))

    with pytest.raises(GatewayError):
        stripe_gateway.card_details("pm_missing")


# --- webhooks ----------------------------------------------------------------------------


def test_payment_succeeded_webhook(stripe_gateway: StripeGateway) -> None:
    payload = event("payment_intent.succeeded", payment_intent(idempotency_key="attempt-3"))

    parsed = stripe_gateway.parse_webhook(payload, {"Stripe-Signature": stripe_signature(payload)})

    assert parsed.event_id == "evt_1NG8Du2eZvKYlo2CUI79vXWy"
    assert parsed.type == EventType.PAYMENT_SUCCEEDED
    assert parsed.raw_type == "payment_intent.succeeded"
    assert parsed.idempotency_key == "attempt-3"
    assert parsed.charge is not None
    assert parsed.charge.status == ChargeStatus.SUCCEEDED
    _assert_no_card_data(parsed.charge.raw)


def test_payment_failed_webhook_keeps_the_codes(stripe_gateway: StripeGateway) -> None:
    declined = card_error(
        decline_code="insufficient_funds", network_decline_code="51", network_advice_code="21"
    )["error"]["payment_intent"]
    payload = event("payment_intent.payment_failed", declined)

    parsed = stripe_gateway.parse_webhook(payload, {"stripe-signature": stripe_signature(payload)})

    assert parsed.type == EventType.PAYMENT_FAILED
    assert parsed.charge is not None
    assert (parsed.charge.status, parsed.charge.decline_code, parsed.charge.network_code) == (
        ChargeStatus.FAILED,
        "insufficient_funds",
        "51",
    )
    assert parsed.charge.advice_code == "21"


def test_charge_refunded_webhook(stripe_gateway: StripeGateway) -> None:
    refunded = charge_object(metadata={"idempotency_key": "attempt-4"})
    refunded["amount_refunded"] = 150000
    refunded["refunds"]["data"] = [refund_object(amount=150000)]
    payload = event("charge.refunded", refunded)

    parsed = stripe_gateway.parse_webhook(payload, {"Stripe-Signature": stripe_signature(payload)})

    assert parsed.type == EventType.REFUND_SUCCEEDED
    assert parsed.idempotency_key == "attempt-4"
    assert parsed.charge is not None
    assert parsed.charge.gateway_reference == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert parsed.refund is not None
    assert parsed.refund.gateway_reference == "re_3MtwBwLkdIwHu7ix1Xh1YpQ1"
    _assert_no_card_data(parsed.charge.raw)


@pytest.mark.parametrize(
    ("raw_type", "status", "event_type"),
    [
        ("refund.created", "succeeded", EventType.REFUND_SUCCEEDED),
        ("refund.updated", "succeeded", EventType.REFUND_SUCCEEDED),
        ("refund.failed", "failed", EventType.IGNORED),
    ],
)
def test_refund_webhooks(
    stripe_gateway: StripeGateway, raw_type: str, status: str, event_type: EventType
) -> None:
    payload = event(raw_type, refund_object(status=status))

    parsed = stripe_gateway.parse_webhook(payload, {"Stripe-Signature": stripe_signature(payload)})

    assert parsed.type == event_type
    assert parsed.refund is not None
    assert parsed.refund.succeeded == (status == "succeeded")
    assert parsed.refund.idempotency_key == "refund-1", "our refund's key, from its metadata"
    assert parsed.charge is not None
    assert parsed.charge.gateway_reference == "pi_3MtwBwLkdIwHu7ix28a3tqPa"


def test_card_updater_webhook(stripe_gateway: StripeGateway) -> None:
    payload = event(
        "payment_method.automatically_updated", payment_method(exp_month=12, exp_year=2031)
    )

    parsed = stripe_gateway.parse_webhook(payload, {"Stripe-Signature": stripe_signature(payload)})

    assert parsed.type == EventType.CARD_UPDATED
    assert parsed.card is not None
    assert (parsed.card.token, parsed.card.exp_month, parsed.card.exp_year) == (
        "pm_1MtwBwLkdIwHu7ixdrbYkG6d",
        12,
        2031,
    )
    assert parsed.card.fingerprint == "Xt5EWLLDS7FJjR1c"


def test_other_events_are_ignored(stripe_gateway: StripeGateway) -> None:
    payload = event("customer.created", {"id": "cus_1", "object": "customer"})

    parsed = stripe_gateway.parse_webhook(payload, {"Stripe-Signature": stripe_signature(payload)})

    assert (parsed.type, parsed.raw_type) == (EventType.IGNORED, "customer.created")


def test_django_meta_header_name_works(stripe_gateway: StripeGateway) -> None:
    payload = event("customer.created", {"id": "cus_1", "object": "customer"})

    parsed = stripe_gateway.parse_webhook(
        payload, {"HTTP_STRIPE_SIGNATURE": stripe_signature(payload)}
    )

    assert parsed.type == EventType.IGNORED


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": ""},
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": "t=1700000000"},
        {"Stripe-Signature": stripe_signature(b"{}", secret="whsec_someone_else")},
    ],
)
def test_unsigned_or_badly_signed_webhooks_are_rejected(
    stripe_gateway: StripeGateway, headers: dict[str, str]
) -> None:
    payload = event("payment_intent.succeeded", payment_intent())

    with pytest.raises(WebhookSignatureError):
        stripe_gateway.parse_webhook(payload, headers)


def test_a_tampered_webhook_is_rejected(stripe_gateway: StripeGateway) -> None:
    payload = event("payment_intent.succeeded", payment_intent(amount=100))
    header = stripe_signature(payload)

    with pytest.raises(WebhookSignatureError):
        stripe_gateway.parse_webhook(
            payload.replace(b'"amount": 100', b'"amount": 999'), {"Stripe-Signature": header}
        )


def test_a_stale_webhook_is_rejected(stripe_gateway: StripeGateway) -> None:
    payload = event("payment_intent.succeeded", payment_intent())
    stale = stripe_signature(payload, timestamp=int(time.time()) - 301)

    with pytest.raises(WebhookSignatureError):
        stripe_gateway.parse_webhook(payload, {"Stripe-Signature": stale})


def test_a_signed_payload_that_is_not_an_event_is_rejected(stripe_gateway: StripeGateway) -> None:
    for payload in [b"not json", b'{"object": "event"}', b'{"id": "evt_1", "object": "list"}']:
        with pytest.raises(WebhookSignatureError):
            stripe_gateway.parse_webhook(payload, {"Stripe-Signature": stripe_signature(payload)})
