"""The sandbox's PromptPay: a QR that waits, is scanned, paid, lapses or is withdrawn.

The first answer stands, atomically, and money moves once, as at a real bank.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from billing.gateways.interface import (
    ChargeStatus,
    EventType,
    GatewayError,
    PaymentGateway,
    PromptPayChargeRequest,
)
from billing.gateways.sandbox import PROMPTPAY_TOKEN, SandboxGateway
from billing.promptpay.payload import parse_payload


def _request(key: str = "pp-1", amount: int = 80_000) -> PromptPayChargeRequest:
    return PromptPayChargeRequest(
        amount=amount, currency="THB", idempotency_key=key, payer_email="somchai@example.com"
    )


def test_the_sandbox_offers_promptpay(sandbox: SandboxGateway):
    gateway: PaymentGateway = sandbox
    assert gateway.supports_promptpay


def test_a_new_payment_waits_with_a_real_payload_for_the_amount(sandbox: SandboxGateway):
    created = sandbox.promptpay_charge(_request(amount=80_000))
    assert created.charge.status == ChargeStatus.REQUIRES_ACTION
    assert created.charge.gateway_reference.startswith("sbx_pp_")
    payload = parse_payload(created.qr_data)
    # Pays a mobile number no bank has: a real banking app could never pay it.
    assert (payload.amount, payload.target.value, payload.dynamic) == (80_000, "0000000000", True)
    assert created.expires_at is not None
    assert sandbox.ledger_for("pp-1") == []


def test_the_same_key_is_the_same_payment_and_other_parameters_are_refused(sandbox):
    first = sandbox.promptpay_charge(_request())
    again = sandbox.promptpay_charge(_request())
    assert again.charge.gateway_reference == first.charge.gateway_reference
    assert again.qr_data == first.qr_data
    with pytest.raises(GatewayError):
        sandbox.promptpay_charge(_request(amount=80_001))


def test_scan_shows_the_payment_then_pay_moves_the_money_once(sandbox, time_machine):
    time_machine.move_to(dt.datetime(2026, 4, 5, 3, tzinfo=dt.UTC), tick=False)
    reference = sandbox.promptpay_charge(_request()).charge.gateway_reference
    scan = sandbox.promptpay_scan(reference)
    assert (scan.amount, scan.currency, scan.status) == (80_000, "THB", "requires_action")
    assert scan.payee == "xxx-xxx-0000"
    assert scan.scanned_at == dt.datetime(2026, 4, 5, 3, tzinfo=dt.UTC)

    paid = sandbox.promptpay_pay(reference)
    assert paid.status == ChargeStatus.SUCCEEDED
    assert sandbox.promptpay_pay(reference).status == ChargeStatus.SUCCEEDED  # again: no-op
    assert sandbox.promptpay_status(reference).status == ChargeStatus.SUCCEEDED
    [entry] = sandbox.ledger_for("pp-1")
    assert (entry.amount, entry.token) == (80_000, PROMPTPAY_TOKEN)
    # Paid, it can no longer be withdrawn or lapse.
    assert sandbox.cancel_charge(reference).status == ChargeStatus.SUCCEEDED
    assert sandbox.promptpay_expire(reference).status == ChargeStatus.SUCCEEDED
    event = sandbox.promptpay_event(reference)
    assert (event.type, event.idempotency_key) == (EventType.PAYMENT_SUCCEEDED, "pp-1")


def test_a_lapsed_qr_cannot_be_paid(sandbox):
    reference = sandbox.promptpay_charge(_request()).charge.gateway_reference
    lapsed = sandbox.promptpay_expire(reference)
    assert (lapsed.status, lapsed.decline_code) == (ChargeStatus.FAILED, "expired")
    assert sandbox.promptpay_pay(reference).status == ChargeStatus.FAILED
    assert sandbox.ledger_for("pp-1") == []
    assert sandbox.promptpay_event(reference).type == EventType.PAYMENT_FAILED


def test_a_qr_lapses_by_itself_at_its_expiry(sandbox, time_machine):
    start = dt.datetime(2026, 4, 5, 3, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    reference = sandbox.promptpay_charge(_request()).charge.gateway_reference
    time_machine.move_to(start + sandbox.promptpay_lifetime, tick=False)
    assert sandbox.promptpay_status(reference).decline_code == "expired"
    assert sandbox.promptpay_pay(reference).status == ChargeStatus.FAILED
    assert sandbox.total_charged(reference) == 0


def test_a_withdrawn_qr_cannot_be_paid_and_says_canceled(sandbox):
    reference = sandbox.promptpay_charge(_request()).charge.gateway_reference
    withdrawn = sandbox.cancel_charge(reference)
    assert (withdrawn.status, withdrawn.decline_code) == (ChargeStatus.FAILED, "canceled")
    assert sandbox.promptpay_pay(reference).decline_code == "canceled"
    assert sandbox.promptpay_event(reference).type == EventType.PAYMENT_CANCELED
    assert sandbox.ledger_for("pp-1") == []


def test_pay_and_withdraw_at_the_same_moment_settle_one_way(sandbox):
    for round_ in range(10):
        key = f"pp-race-{round_}"
        reference = sandbox.promptpay_charge(_request(key)).charge.gateway_reference
        barrier = threading.Barrier(2)
        results = {}

        def act(name, call, reference=reference, barrier=barrier, results=results):
            barrier.wait()
            results[name] = call(reference).status

        threads = [
            threading.Thread(target=act, args=("pay", sandbox.promptpay_pay)),
            threading.Thread(target=act, args=("cancel", sandbox.cancel_charge)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Both callers hear the same final answer, and money moved only if it was paid.
        assert results["pay"] == results["cancel"]
        moved = sum(entry.amount for entry in sandbox.ledger_for(key))
        assert moved == (80_000 if results["pay"] == ChargeStatus.SUCCEEDED else 0)


@pytest.mark.parametrize(
    "change",
    [
        {"idempotency_key": ""},
        {"amount": 0},
        {"amount": -5},
        {"currency": "USD"},
        {"payer_email": ""},
    ],
)
def test_malformed_requests_are_refused(sandbox, change):
    fields = {
        "amount": 80_000,
        "currency": "THB",
        "idempotency_key": "pp-x",
        "payer_email": "a@example.com",
        **change,
    }
    with pytest.raises(GatewayError):
        sandbox.promptpay_charge(PromptPayChargeRequest(**fields))


def test_unknown_references_are_refused(sandbox):
    for reference in ("sbx_pp_nothing", "sbx_ch_abc", ""):
        with pytest.raises(GatewayError):
            sandbox.promptpay_status(reference)
        with pytest.raises(GatewayError):
            sandbox.promptpay_pay(reference)


def test_a_card_charges_key_is_not_a_promptpay_payment(sandbox, charge_request):
    sandbox.charge(charge_request("tok_ok", key="shared-key"))
    with pytest.raises(GatewayError):
        sandbox.promptpay_charge(_request("shared-key"))
