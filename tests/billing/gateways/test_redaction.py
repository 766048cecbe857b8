"""Card numbers and secrets never survive redaction."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.gateways.redaction import looks_like_card_number, mask_card_numbers, redact

# Published test card numbers: Luhn-valid, 13 to 19 digits.
TEST_PANS = [
    "4242424242424242",  # Visa
    "4000056655665556",  # Visa debit
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # Amex, 15 digits
    "6011111111111117",  # Discover
    "3056930009020004",  # Diners
    "3566002020360505",  # JCB
    "6200000000000005",  # UnionPay
    "6205500000000000004",  # UnionPay, 19 digits
    "4222222222222",  # Visa, 13 digits
]


def _luhn_check_digit(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


@pytest.mark.parametrize("pan", TEST_PANS)
def test_test_card_numbers_look_like_card_numbers(pan: str) -> None:
    assert looks_like_card_number(pan)
    assert looks_like_card_number(f"card {pan} on file")


@pytest.mark.parametrize(
    "text",
    ["4242 4242 4242 4242", "4242-4242-4242-4242", "3782 822463 10005", "pan:4242424242424242."],
)
def test_spaces_and_dashes_are_ignored(text: str) -> None:
    assert looks_like_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tok_ok.m17",
        "4242424242424241",  # fails Luhn
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits, one run
        "+66 81 234 5678",
        "2026-05-01",
        "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "INV-2026-000123",
        "4242  4242  4242  4242",  # double spaces split the groups
    ],
)
def test_other_text_does_not(text: str) -> None:
    assert not looks_like_card_number(text)


def test_a_card_number_inside_longer_grouped_digits_is_found() -> None:
    assert looks_like_card_number("ref 12 4242 4242 4242 4242 99")
    assert mask_card_numbers("ref 12 4242 4242 4242 4242 99") == "ref 12 **** **** **** 4242 99"


def test_masking_keeps_the_last_four_and_the_layout() -> None:
    assert mask_card_numbers("4242 4242 4242 4242") == "**** **** **** 4242"
    assert mask_card_numbers("x378282246310005y") == "x***********0005y"
    assert mask_card_numbers("nothing to see 1234") == "nothing to see 1234"


def test_redact_drops_secrets_at_any_depth_and_masks_numbers() -> None:
    raw = {
        "id": "pi_123",
        "client_secret": "pi_123_secret_abc",
        "amount": 150000,
        "card": {"number": "4242424242424242", "cvc": "123", "last4": "4242", "CVV": "1"},
        "charges": [{"note": "paid with 5555 5555 5555 4444", "Client_Secret": "x"}],
        "pan_as_int": 4242424242424242,
        "flag": True,
        "nothing": None,
    }
    original = copy.deepcopy(raw)

    clean = redact(raw)

    assert clean == {
        "id": "pi_123",
        "amount": 150000,
        "card": {"last4": "4242"},
        "charges": [{"note": "paid with **** **** **** 4444"}],
        "pan_as_int": "************4242",
        "flag": True,
        "nothing": None,
    }
    assert raw == original


@given(
    body=st.text(alphabet="0123456789", min_size=12, max_size=18),
    prefix=st.text(alphabet="abc :=-", max_size=5),
)
def test_no_luhn_valid_number_survives_masking(body: str, prefix: str) -> None:
    pan = body + _luhn_check_digit(body)
    text = f"{prefix}{pan} end"

    assert looks_like_card_number(text)
    masked = mask_card_numbers(text)
    assert not looks_like_card_number(masked)
    assert masked.endswith(f"{pan[-4:]} end")
    assert not looks_like_card_number(str(redact({"text": text})))
