"""Sandbox webhooks: signed like Stripe's, verified against the gateway clock."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable

import pytest
import time_machine
from django.test import override_settings

from billing.gateways.interface import (
    ChargeRequest,
    ChargeStatus,
    EventType,
    GatewayError,
    RefundRequest,
    WebhookSignatureError,
)
from billing.gateways.sandbox import SIGNATURE_HEADER, SandboxGateway

MakeCharge = Callable[..., ChargeRequest]
NOW = dt.datetime(2026, 5, 1, 3, 0, tzinfo=dt.UTC)


def test_card_update_round_trips_through_a_signed_webhook(sandbox: SandboxGateway) -> None:
    event = sandbox.simulate_card_update("tok_expiring_ok.m5", exp_month=9, exp_year=2030)
    payload = sandbox.event_payload(event)

    parsed = sandbox.parse_webhook(payload, sandbox.sign_webhook(payload))

    assert parsed == event
    assert parsed.type == EventType.CARD_UPDATED
    assert parsed.card is not None
    assert parsed.card.token == "tok_expiring_ok.m5"
    assert parsed.card.fingerprint == sandbox.card_details("tok_expiring_ok.m5").fingerprint


def test_each_card_update_is_a_new_event(sandbox: SandboxGateway) -> None:
    first = sandbox.simulate_card_update("tok_ok", 1, 2030)
    second = sandbox.simulate_card_update("tok_ok", 1, 2030)

    assert first.event_id != second.event_id


@pytest.mark.parametrize(
    ("token", "event_type"),
    [
        ("tok_ok", EventType.PAYMENT_SUCCEEDED),
        ("tok_timeout", EventType.PAYMENT_SUCCEEDED),
        ("tok_decline_insufficient_funds", EventType.PAYMENT_FAILED),
        ("tok_requires_action", EventType.IGNORED),
    ],
)
def test_payment_events_round_trip(
    sandbox: SandboxGateway, charge_request: MakeCharge, token: str, event_type: EventType
) -> None:
    sandbox.charge(charge_request(token=token, key="attempt-7"))
    event = sandbox.payment_event("attempt-7")
    payload = sandbox.event_payload(event)

    parsed = sandbox.parse_webhook(payload, sandbox.sign_webhook(payload))

    assert parsed == event
    assert parsed.type == event_type
    assert parsed.idempotency_key == "attempt-7"
    assert parsed.charge == sandbox.lookup_charge("attempt-7")
    assert sandbox.payment_event("attempt-7").event_id == event.event_id  # redelivery


def test_no_payment_event_without_a_charge(sandbox: SandboxGateway) -> None:
    with pytest.raises(GatewayError):
        sandbox.payment_event("nothing")


def test_refund_event_round_trips(sandbox: SandboxGateway, charge_request: MakeCharge) -> None:
    charge = sandbox.charge(charge_request(key="c"))
    sandbox.refund(
        RefundRequest(
            gateway_reference=charge.gateway_reference,
            amount=1000,
            currency="THB",
            idempotency_key="r",
        )
    )
    event = sandbox.refund_event("r")
    payload = sandbox.event_payload(event)

    parsed = sandbox.parse_webhook(payload, sandbox.sign_webhook(payload))

    assert parsed == event
    assert parsed.type == EventType.REFUND_SUCCEEDED
    assert parsed.idempotency_key == "c"
    assert parsed.refund is not None and parsed.refund.succeeded
    assert parsed.charge is not None and parsed.charge.status == ChargeStatus.SUCCEEDED


def _signed_payload(sandbox: SandboxGateway) -> tuple[bytes, dict[str, str]]:
    payload = sandbox.event_payload(sandbox.simulate_card_update("tok_ok", 2, 2031))
    return payload, sandbox.sign_webhook(payload)


def test_a_tampered_payload_is_rejected(sandbox: SandboxGateway) -> None:
    payload, headers = _signed_payload(sandbox)

    with pytest.raises(WebhookSignatureError):
        sandbox.parse_webhook(payload.replace(b"2031", b"2032"), headers)


def test_a_signature_with_another_secret_is_rejected(sandbox: SandboxGateway) -> None:
    payload, _ = _signed_payload(sandbox)
    impostor = SandboxGateway(webhook_secret="someone-else")

    with pytest.raises(WebhookSignatureError):
        sandbox.parse_webhook(payload, impostor.sign_webhook(payload))


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_or_future_signatures_are_rejected(sandbox: SandboxGateway, offset: int) -> None:
    payload, _ = _signed_payload(sandbox)
    headers = sandbox.sign_webhook(payload, timestamp=int(NOW.timestamp()) + offset)

    with pytest.raises(WebhookSignatureError):
        sandbox.parse_webhook(payload, headers)


@time_machine.travel(NOW, tick=False)
def test_signatures_within_five_minutes_pass(sandbox: SandboxGateway) -> None:
    payload, _ = _signed_payload(sandbox)
    headers = sandbox.sign_webhook(payload, timestamp=int(NOW.timestamp()) - 299)

    assert sandbox.parse_webhook(payload, headers).type == EventType.CARD_UPDATED


def test_staleness_follows_the_gateway_clock(sandbox: SandboxGateway) -> None:
    with time_machine.travel(NOW, tick=False):
        payload, headers = _signed_payload(sandbox)
    with (
        time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False),
        pytest.raises(WebhookSignatureError),
    ):
        sandbox.parse_webhook(payload, headers)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "t=abc,v1=00",
        "v1=00",
        "t=1700000000",
        "t=1700000000,v0=00",
    ],
)
def test_malformed_signature_headers_are_rejected(sandbox: SandboxGateway, header: str) -> None:
    payload, _ = _signed_payload(sandbox)

    with pytest.raises(WebhookSignatureError):
        sandbox.parse_webhook(payload, {SIGNATURE_HEADER: header})


def test_a_missing_header_is_rejected(sandbox: SandboxGateway) -> None:
    payload, _ = _signed_payload(sandbox)

    with pytest.raises(WebhookSignatureError):
        sandbox.parse_webhook(payload, {})


def test_a_signed_payload_that_is_not_an_event_is_rejected(sandbox: SandboxGateway) -> None:
    for payload in [b"not json", b"[]", b'{"type": "card.updated"}', b"\xff\xfe"]:
        with pytest.raises(WebhookSignatureError):
            sandbox.parse_webhook(payload, sandbox.sign_webhook(payload))


def test_header_names_are_case_insensitive_and_django_meta_works(sandbox: SandboxGateway) -> None:
    payload, headers = _signed_payload(sandbox)
    value = headers[SIGNATURE_HEADER]

    assert sandbox.parse_webhook(payload, {"x-sandbox-signature": value})
    assert sandbox.parse_webhook(payload, {"HTTP_X_SANDBOX_SIGNATURE": value})


def test_the_signature_is_hmac_sha256_over_timestamp_and_payload(sandbox: SandboxGateway) -> None:
    payload, _ = _signed_payload(sandbox)
    timestamp = int(dt.datetime.now(dt.UTC).timestamp())
    digest = hmac.new(
        b"test-sandbox-secret", f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()

    event = sandbox.parse_webhook(payload, {SIGNATURE_HEADER: f"t={timestamp},v1={digest}"})

    assert event.type == EventType.CARD_UPDATED


@override_settings(SANDBOX_WEBHOOK_SECRET="from-settings")
def test_the_secret_comes_from_settings() -> None:
    gateway = SandboxGateway()
    payload = b'{"id": "evt_1", "type": "ignored"}'
    timestamp = int(dt.datetime.now(dt.UTC).timestamp())
    digest = hmac.new(
        b"from-settings", f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()

    event = gateway.parse_webhook(payload, {SIGNATURE_HEADER: f"t={timestamp},v1={digest}"})

    assert (event.event_id, event.type) == ("evt_1", EventType.IGNORED)
