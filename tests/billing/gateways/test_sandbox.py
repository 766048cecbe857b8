"""The sandbox gateway: its tokens do what their names say, and money moves once per key."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings

from billing.gateways.interface import (
    ChargeRequest,
    ChargeStatus,
    GatewayError,
    PaymentGateway,
    RefundRequest,
)
from billing.gateways.redaction import looks_like_card_number
from billing.gateways.sandbox import DECLINE_CODES, SandboxGateway, parse_token

MakeCharge = Callable[..., ChargeRequest]

# The Stripe decline codes of shared/reference/declines.md, category by category.
POLICY_DECLINE_CODES = {
    "hard": [
        "lost_card", "stolen_card", "pickup_card", "restricted_card", "fraudulent",
        "merchant_blacklist", "invalid_account", "incorrect_number", "invalid_number",
        "revocation_of_authorization", "revocation_of_all_authorizations", "stop_payment_order",
        "do_not_try_again", "security_violation", "transaction_not_allowed", "not_permitted",
        "service_not_allowed", "card_not_supported", "currency_not_supported",
        "new_account_information_available",
    ],
    "customer_action": [
        "expired_card", "incorrect_cvc", "invalid_cvc", "invalid_expiry_month",
        "invalid_expiry_year", "incorrect_zip", "authentication_required", "incorrect_pin",
        "invalid_pin", "pin_try_exceeded", "offline_pin_required",
        "online_or_offline_pin_required",
    ],
    "funds": ["insufficient_funds", "card_velocity_exceeded", "withdrawal_count_limit_exceeded"],
    "temporary": [
        "try_again_later", "issuer_not_available", "reenter_transaction", "approve_with_id",
        "processing_error", "duplicate_transaction",
    ],
    "generic": [
        "generic_decline", "do_not_honor", "call_issuer", "no_action_taken", "testmode_decline",
    ],
}  # fmt: skip
ALL_POLICY_CODES = [code for codes in POLICY_DECLINE_CODES.values() for code in codes]
EXPECTED_NETWORK_CODES = {
    "insufficient_funds": "51",
    "expired_card": "54",
    "generic_decline": "05",
    "do_not_honor": "05",
    "lost_card": "41",
    "stolen_card": "43",
    "issuer_not_available": "91",
    "invalid_number": "14",
    "incorrect_number": "14",
    "processing_error": "96",
}
NEVER_RETRY_ADVICE = {"lost_card", "stolen_card", "pickup_card", "stop_payment_order"}


def test_the_sandbox_is_a_payment_gateway() -> None:
    gateway: PaymentGateway = SandboxGateway()
    assert gateway.name == "sandbox"


def test_the_sandbox_knows_every_decline_code_of_the_policy() -> None:
    assert set(DECLINE_CODES) == set(ALL_POLICY_CODES)


@pytest.mark.parametrize("code", ALL_POLICY_CODES)
def test_each_decline_token_fails_with_its_code(
    sandbox: SandboxGateway, charge_request: MakeCharge, code: str
) -> None:
    result = sandbox.charge(charge_request(token=f"tok_decline_{code}"))

    assert result.status == ChargeStatus.FAILED
    assert result.decline_code == code
    assert result.gateway_reference.startswith("sbx_ch_")
    assert result.amount == 150000
    assert result.currency == "THB"
    if code in EXPECTED_NETWORK_CODES:
        assert result.network_code == EXPECTED_NETWORK_CODES[code]
    if code in NEVER_RETRY_ADVICE:
        assert result.advice_code == "do_not_try_again"
    assert sandbox.total_charged(f"tok_decline_{code}") == 0
    assert not looks_like_card_number(json.dumps(result.raw))


def test_decline_advice_codes_never_contradict_the_code() -> None:
    # An advice code overrides the category, so a default one must agree with it.
    agreeing = {
        "do_not_try_again": set(POLICY_DECLINE_CODES["hard"]),
        "confirm_card_data": set(POLICY_DECLINE_CODES["customer_action"]),
        "try_again_later": set(POLICY_DECLINE_CODES["temporary"]),
    }
    for code, (_, advice) in DECLINE_CODES.items():
        if advice:
            assert code in agreeing[advice], code


@pytest.mark.parametrize(
    ("token", "brand"),
    [
        ("tok_ok", "visa"),
        ("tok_visa_ok", "visa"),
        ("tok_mastercard_ok", "mastercard"),
        ("tok_mc_ok", "mastercard"),
        ("tok_amex_ok", "amex"),
        ("tok_ok.m17", "visa"),
        ("tok_mastercard_ok.m17:2", "mastercard"),
    ],
)
def test_ok_tokens_succeed_with_their_brand(
    sandbox: SandboxGateway, charge_request: MakeCharge, token: str, brand: str
) -> None:
    result = sandbox.charge(charge_request(token=token))

    assert result.status == ChargeStatus.SUCCEEDED
    assert (result.decline_code, result.network_code, result.advice_code) == ("", "", "")
    assert sandbox.card_details(token).brand == brand
    assert sandbox.total_charged(token) == 150000
    assert sandbox.total_charged(result.gateway_reference) == 150000


def test_advice_token_overrides_the_advice_code(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    result = sandbox.charge(charge_request(token="tok_advice_do_not_try_again_insufficient_funds"))

    assert result.status == ChargeStatus.FAILED
    assert (result.decline_code, result.network_code, result.advice_code) == (
        "insufficient_funds",
        "51",
        "do_not_try_again",
    )


@pytest.mark.parametrize("advice", ["03", "21"])
def test_mastercard_merchant_advice_tokens(
    sandbox: SandboxGateway, charge_request: MakeCharge, advice: str
) -> None:
    token = f"tok_mc_merchant_advice_{advice}"
    result = sandbox.charge(charge_request(token=token))

    assert result.status == ChargeStatus.FAILED
    assert result.decline_code == "do_not_honor"
    assert result.network_code == "05"
    assert result.advice_code == advice
    assert sandbox.card_details(token).brand == "mastercard"


def test_merchant_advice_token_may_name_the_decline(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    result = sandbox.charge(charge_request(token="tok_mc_merchant_advice_21_insufficient_funds"))

    assert (result.decline_code, result.network_code, result.advice_code) == (
        "insufficient_funds",
        "51",
        "21",
    )


def test_succeed_after_n_fails_n_distinct_keys_then_succeeds(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    token = "tok_succeed_after_2"
    first = sandbox.charge(charge_request(token=token, key="try-1"))
    replay = sandbox.charge(charge_request(token=token, key="try-1"))
    second = sandbox.charge(charge_request(token=token, key="try-2"))
    third = sandbox.charge(charge_request(token=token, key="try-3"))

    assert (first.status, first.decline_code, first.network_code) == (
        ChargeStatus.FAILED,
        "insufficient_funds",
        "51",
    )
    assert replay == first  # a replayed key is not another attempt
    assert second.status == ChargeStatus.FAILED
    assert third.status == ChargeStatus.SUCCEEDED
    assert sandbox.total_charged(token) == 150000


def test_timeout_charges_but_answers_unknown(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    result = sandbox.charge(charge_request(token="tok_timeout", key="lost-reply"))
    again = sandbox.charge(charge_request(token="tok_timeout", key="lost-reply"))
    found = sandbox.lookup_charge("lost-reply")

    assert result.status == ChargeStatus.UNKNOWN
    assert result.gateway_reference == ""
    assert again == result
    assert found is not None
    assert found.status == ChargeStatus.SUCCEEDED
    assert found.amount == 150000
    assert sandbox.total_charged("tok_timeout") == 150000
    assert len(sandbox.ledger_for("lost-reply")) == 1


def test_timeout_nocharge_records_nothing(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    result = sandbox.charge(charge_request(token="tok_timeout_nocharge", key="never-arrived"))

    assert result.status == ChargeStatus.UNKNOWN
    assert sandbox.lookup_charge("never-arrived") is None
    assert sandbox.total_charged("tok_timeout_nocharge") == 0
    assert sandbox.ledger_for("never-arrived") == []


def test_requires_action(sandbox: SandboxGateway, charge_request: MakeCharge) -> None:
    result = sandbox.charge(charge_request(token="tok_requires_action", key="3ds"))

    assert result.status == ChargeStatus.REQUIRES_ACTION
    assert result.decline_code == "authentication_required"
    assert sandbox.lookup_charge("3ds") == result
    assert sandbox.total_charged("tok_requires_action") == 0


@pytest.mark.parametrize("books", ["redis", "local memory"])
@pytest.mark.parametrize("approve", [True, False])
def test_the_cardholder_answers_the_banks_confirmation_once(
    sandbox: SandboxGateway,
    charge_request: MakeCharge,
    approve: bool,
    books: str,
    settings: Any,
) -> None:
    if books == "local memory":
        local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        settings.CACHES = {**settings.CACHES, "bank": local}
        sandbox = SandboxGateway(cache_alias="bank")
        sandbox.reset()
    waiting = sandbox.charge(charge_request(token="tok_requires_action", key="3ds"))

    answer = sandbox.authenticate("3ds", approve=approve)
    again = sandbox.authenticate("3ds", approve=not approve)  # too late: the first stands

    expected = ChargeStatus.SUCCEEDED if approve else ChargeStatus.FAILED
    assert answer.status == again.status == expected
    assert answer.gateway_reference == waiting.gateway_reference
    assert sandbox.lookup_charge("3ds") == answer
    moved = waiting.amount if approve else 0
    assert sandbox.total_charged("tok_requires_action") == moved
    assert sum(entry.amount for entry in sandbox.ledger_for("3ds")) == moved
    if not approve:
        assert answer.decline_code == "authentication_required"


def test_a_waiting_charge_once_cancelled_can_never_go_through(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    waiting = sandbox.charge(charge_request(token="tok_requires_action", key="w"))
    before = sandbox.payment_event("w")

    stopped = sandbox.cancel_charge(waiting.gateway_reference)

    assert stopped.status == ChargeStatus.FAILED
    assert sandbox.authenticate("w", approve=True) == stopped  # too late
    assert sandbox.total_charged(waiting.gateway_reference) == 0
    assert sandbox.payment_event("w").event_id != before.event_id  # a new event, not a replay
    with pytest.raises(GatewayError):
        sandbox.cancel_charge("sbx_ch_no_such_charge")


def test_cancelling_a_charge_confirmed_first_returns_the_payment(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    waiting = sandbox.charge(charge_request(token="tok_requires_action", key="c"))
    confirmed = sandbox.authenticate("c", approve=True)

    assert sandbox.cancel_charge(waiting.gateway_reference) == confirmed
    assert confirmed.status == ChargeStatus.SUCCEEDED
    assert sandbox.total_charged(waiting.gateway_reference) == waiting.amount


def test_only_a_charge_that_waits_can_be_confirmed(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    declined = sandbox.charge(charge_request(token="tok_decline_lost_card", key="no"))

    assert sandbox.authenticate("no", approve=True) == declined
    assert sandbox.total_charged("tok_decline_lost_card") == 0
    with pytest.raises(GatewayError):
        sandbox.authenticate("never-sent", approve=True)


def test_lookup_of_an_unknown_key_is_none(sandbox: SandboxGateway) -> None:
    assert sandbox.lookup_charge("no-such-key") is None


def test_lookup_returns_what_charge_returned(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    result = sandbox.charge(charge_request(token="tok_decline_lost_card", key="k"))

    assert sandbox.lookup_charge("k") == result


@pytest.mark.parametrize(
    "token",
    [
        "",
        "tok_",
        "tok_nope",
        "tok_visa",
        "tok_decline_banana",
        "tok_decline_",
        "tok_advice_maybe_insufficient_funds",
        "tok_visa_amex_ok",
        "tok_amex_merchant_advice_03",
        "tok_succeed_after_x",
        "tok_OK",
        "pm_1MtwBwLkdIwHu7ixdrbYkG6d",
        "4242424242424242",
        "tok_ok.has space",
    ],
)
def test_unknown_tokens_are_refused(
    sandbox: SandboxGateway, charge_request: MakeCharge, token: str
) -> None:
    with pytest.raises(GatewayError):
        sandbox.card_details(token)
    with pytest.raises(GatewayError):
        sandbox.charge(charge_request(token=token))


def test_bad_requests_are_refused(sandbox: SandboxGateway, charge_request: MakeCharge) -> None:
    with pytest.raises(GatewayError):
        sandbox.charge(charge_request(amount=0))
    with pytest.raises(GatewayError):
        sandbox.charge(charge_request(key=""))
    with pytest.raises(GatewayError):
        sandbox.charge(
            ChargeRequest(
                amount=100,
                currency="thb",
                payment_token="tok_ok",
                customer_reference="",
                idempotency_key="k",
            )
        )


def test_parse_token_reads_the_grammar() -> None:
    behaviour = parse_token("tok_mc_expiring_decline_insufficient_funds.m42:2")

    assert behaviour.outcome == "decline"
    assert behaviour.brand == "mastercard"
    assert behaviour.expiring
    assert behaviour.decline_code == "insufficient_funds"
    assert behaviour.stem == "tok_mc_expiring_decline_insufficient_funds.m42"


# --- card details ------------------------------------------------------------------------


def test_card_details_are_deterministic_and_fake(sandbox: SandboxGateway) -> None:
    card = sandbox.card_details("tok_ok.m1")

    assert card == sandbox.card_details("tok_ok.m1")
    assert card.token == "tok_ok.m1"
    assert len(card.last4) == 4 and card.last4.isdigit()
    assert card.fingerprint.startswith("sbxfp_")
    assert not looks_like_card_number(repr(card))


def test_copies_of_a_card_share_its_fingerprint_and_other_cards_do_not(
    sandbox: SandboxGateway,
) -> None:
    card = sandbox.card_details("tok_ok.m1")
    copy = sandbox.card_details("tok_ok.m1:again")
    other = sandbox.card_details("tok_ok.m2")

    assert copy.token == "tok_ok.m1:again"
    assert (copy.fingerprint, copy.last4) == (card.fingerprint, card.last4)
    assert other.fingerprint != card.fingerprint


@time_machine.travel(dt.datetime(2026, 3, 10, 5, 0, tzinfo=dt.UTC), tick=False)
def test_expiry_defaults_two_years_ahead_by_the_gateway_clock(sandbox: SandboxGateway) -> None:
    card = sandbox.card_details("tok_ok")

    assert (card.exp_month, card.exp_year) == (3, 2028)


@time_machine.travel(dt.datetime(2026, 3, 10, 5, 0, tzinfo=dt.UTC), tick=False)
def test_expiring_cards_expire_at_the_end_of_the_current_month(sandbox: SandboxGateway) -> None:
    card = sandbox.card_details("tok_expiring_ok")

    assert (card.exp_month, card.exp_year) == (3, 2026)


def test_an_expired_card_is_declined_until_the_card_updater_renews_it(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    token = "tok_expiring_ok.m9"
    with time_machine.travel(dt.datetime(2026, 3, 10, 5, 0, tzinfo=dt.UTC), tick=False):
        in_march = sandbox.charge(charge_request(token=token, key="march"))
    with time_machine.travel(dt.datetime(2026, 4, 10, 5, 0, tzinfo=dt.UTC), tick=False):
        in_april = sandbox.charge(charge_request(token=token, key="april"))
        event = sandbox.simulate_card_update(token, exp_month=4, exp_year=2029)
        after_update = sandbox.charge(charge_request(token=token, key="april-retry"))

    assert in_march.status == ChargeStatus.SUCCEEDED
    assert (in_april.status, in_april.decline_code, in_april.network_code) == (
        ChargeStatus.FAILED,
        "expired_card",
        "54",
    )
    assert event.card is not None
    assert (event.card.exp_month, event.card.exp_year) == (4, 2029)
    assert after_update.status == ChargeStatus.SUCCEEDED


def test_card_update_keeps_token_and_fingerprint(sandbox: SandboxGateway) -> None:
    before = sandbox.card_details("tok_ok.m3")
    event = sandbox.simulate_card_update("tok_ok.m3", 11, 2031, last4="0005")
    after = sandbox.card_details("tok_ok.m3")

    assert event.card == after
    assert (after.token, after.fingerprint) == (before.token, before.fingerprint)
    assert (after.exp_month, after.exp_year, after.last4) == (11, 2031, "0005")


def test_card_update_refuses_nonsense(sandbox: SandboxGateway) -> None:
    with pytest.raises(GatewayError):
        sandbox.simulate_card_update("tok_ok", 13, 2030)
    with pytest.raises(GatewayError):
        sandbox.simulate_card_update("tok_ok", 1, 2030, last4="12a4")


# --- idempotency and the books -------------------------------------------------------------


def test_the_same_key_twice_moves_money_once(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    first = sandbox.charge(charge_request(key="once"))
    second = sandbox.charge(charge_request(key="once"))

    assert second == first
    assert first.status == ChargeStatus.SUCCEEDED
    [entry] = sandbox.ledger_for("once")
    assert (entry.kind, entry.amount, entry.reference) == (
        "charge",
        150000,
        first.gateway_reference,
    )
    assert sandbox.total_charged("tok_ok") == 150000


def test_distinct_keys_are_distinct_charges(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    first = sandbox.charge(charge_request(key="a"))
    second = sandbox.charge(charge_request(key="b"))

    assert first.gateway_reference != second.gateway_reference
    assert sandbox.total_charged("tok_ok") == 300000


def test_a_key_reused_with_other_parameters_is_refused(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    sandbox.charge(charge_request(key="k", amount=1000))

    with pytest.raises(GatewayError):
        sandbox.charge(charge_request(key="k", amount=2000))
    with pytest.raises(GatewayError):
        sandbox.charge(charge_request(key="k", amount=1000, token="tok_mastercard_ok"))
    assert sandbox.total_charged("tok_ok") == 1000


def test_reset_forgets_everything(sandbox: SandboxGateway, charge_request: MakeCharge) -> None:
    sandbox.charge(charge_request(key="k"))
    sandbox.reset()

    assert sandbox.lookup_charge("k") is None
    assert sandbox.total_charged("tok_ok") == 0
    assert sandbox.ledger_for("k") == []


def test_books_are_shared_between_gateway_instances(charge_request: MakeCharge) -> None:
    # Two processes (web and worker) each build their own gateway over the same cache.
    web, worker = SandboxGateway(), SandboxGateway()
    result = web.charge(charge_request(key="shared"))

    assert worker.lookup_charge("shared") == result
    assert worker.charge(charge_request(key="shared")) == result
    assert worker.total_charged("tok_ok") == 150000


# --- refunds -----------------------------------------------------------------------------


def _refund(reference: str, amount: int, key: str, currency: str = "THB") -> RefundRequest:
    return RefundRequest(
        gateway_reference=reference, amount=amount, currency=currency, idempotency_key=key
    )


def test_full_refund(sandbox: SandboxGateway, charge_request: MakeCharge) -> None:
    charge = sandbox.charge(charge_request(key="c"))
    refund = sandbox.refund(_refund(charge.gateway_reference, 150000, "r"))

    assert refund.succeeded
    assert refund.gateway_reference.startswith("sbx_re_")
    assert sandbox.total_refunded(charge.gateway_reference) == 150000
    [entry] = sandbox.ledger_for("r")
    assert (entry.kind, entry.amount, entry.reference) == (
        "refund",
        150000,
        charge.gateway_reference,
    )


def test_partial_refunds_never_exceed_the_charge(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    reference = sandbox.charge(charge_request(key="c", amount=1000)).gateway_reference

    first = sandbox.refund(_refund(reference, 600, "r1"))
    too_much = sandbox.refund(_refund(reference, 500, "r2"))
    rest = sandbox.refund(_refund(reference, 400, "r3"))
    more = sandbox.refund(_refund(reference, 1, "r4"))

    assert first.succeeded and rest.succeeded
    assert not too_much.succeeded and not more.succeeded
    assert sandbox.total_refunded(reference) == 1000
    assert sandbox.ledger_for("r2") == []


def test_a_refund_key_refunds_once(sandbox: SandboxGateway, charge_request: MakeCharge) -> None:
    reference = sandbox.charge(charge_request(key="c", amount=1000)).gateway_reference

    first = sandbox.refund(_refund(reference, 300, "r"))
    again = sandbox.refund(_refund(reference, 300, "r"))

    assert again == first
    assert sandbox.total_refunded(reference) == 300
    with pytest.raises(GatewayError):
        sandbox.refund(_refund(reference, 400, "r"))


@pytest.mark.parametrize("token", ["tok_decline_insufficient_funds", "tok_requires_action"])
def test_unsuccessful_charges_cannot_be_refunded(
    sandbox: SandboxGateway, charge_request: MakeCharge, token: str
) -> None:
    reference = sandbox.charge(charge_request(token=token, key="c")).gateway_reference

    assert not sandbox.refund(_refund(reference, 100, "r")).succeeded
    assert sandbox.total_refunded(reference) == 0


def test_refunds_of_unknown_charges_or_in_another_currency_fail(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    reference = sandbox.charge(charge_request(key="c")).gateway_reference

    assert not sandbox.refund(_refund("sbx_ch_nope", 100, "r1")).succeeded
    assert not sandbox.refund(_refund(reference, 100, "r2", currency="USD")).succeeded


def test_a_timed_out_charge_is_refundable_once_found(
    sandbox: SandboxGateway, charge_request: MakeCharge
) -> None:
    sandbox.charge(charge_request(token="tok_timeout", key="c"))
    found = sandbox.lookup_charge("c")
    assert found is not None

    assert sandbox.refund(_refund(found.gateway_reference, 150000, "r")).succeeded


def test_a_small_local_memory_cache_does_not_make_the_bank_forget(
    charge_request: MakeCharge,
) -> None:
    tiny = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 5},
    }
    with override_settings(CACHES={**settings.CACHES, "tiny": tiny}):
        sandbox = SandboxGateway(cache_alias="tiny")
        sandbox.reset()
        results = [sandbox.charge(charge_request(key=f"k{i}", amount=100)) for i in range(50)]

        assert all(sandbox.lookup_charge(f"k{i}") == results[i] for i in range(50))
        assert sandbox.charge(charge_request(key="k0", amount=100)) == results[0]
        assert sandbox.total_charged("tok_ok") == 5000
