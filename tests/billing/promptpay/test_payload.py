"""The PromptPay payload: the public reference vectors, round trips, and refusals.

The vectors are in shared/reference/thailand.md (checked there with Python's own CRC).
"""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.promptpay.payload import (
    MAX_AMOUNT,
    PromptPayError,
    PromptPayTarget,
    TargetKind,
    build_payload,
    crc16,
    format_amount,
    parse_payload,
    parse_target,
)

STATIC_MOBILE = "00020101021129370016A000000677010111011300668012345675802TH530376463046197"
DYNAMIC_MOBILE = (
    "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469"
)


def _tax_id(first_twelve: str) -> str:
    total = sum(int(d) * w for d, w in zip(first_twelve, range(13, 1, -1), strict=True))
    return first_twelve + str((11 - total % 11) % 10)


# --- the reference vectors ------------------------------------------------------------


def test_static_qr_for_a_mobile_number_matches_the_reference():
    assert build_payload(parse_target("080-123-4567")) == STATIC_MOBILE


def test_dynamic_qr_with_an_amount_matches_the_reference():
    assert build_payload(parse_target("000-000-0000"), 422) == DYNAMIC_MOBILE


def test_the_reference_vectors_parse_back():
    static = parse_payload(STATIC_MOBILE)
    assert (static.target, static.amount, static.dynamic) == (
        PromptPayTarget(TargetKind.MOBILE, "0801234567"),
        None,
        False,
    )
    dynamic = parse_payload(DYNAMIC_MOBILE)
    assert (dynamic.target.value, dynamic.amount, dynamic.dynamic) == ("0000000000", 422, True)
    assert (dynamic.currency, dynamic.country) == ("THB", "TH")


def test_the_checksum_is_the_standard_librarys_crc_hqx():
    body = DYNAMIC_MOBILE[:-4]
    assert crc16(body) == format(binascii.crc_hqx(body.encode(), 0xFFFF), "04X") == "E469"


def test_tag_29_carries_the_kind_of_id_in_its_sub_tag():
    tax_id = _tax_id("010555012345")
    assert "0213" + tax_id in build_payload(parse_target(tax_id), 80000)
    assert "0315" + "123456789012345" in build_payload(parse_target("123456789012345"))
    assert "01130066812345678" in build_payload(parse_target("+66 81 234 5678"))


def test_800_baht_is_written_with_two_decimals():
    payload = build_payload(parse_target("0812345678"), 80000)
    assert "5406800.00" in payload
    assert parse_payload(payload).amount == 80000


@pytest.mark.parametrize(
    ("satang", "text"),
    [
        (1, "0.01"),
        (100, "1.00"),
        (100_000_000, "1000000.00"),  # one million baht: some packages break here
        (123_456_789_01, "123456789.01"),
        (MAX_AMOUNT, "9999999999.99"),
    ],
)
def test_amounts_are_exact_at_any_size(satang, text):
    assert format_amount(satang) == text
    payload = build_payload(parse_target("0812345678"), satang)
    assert f"54{len(text):02d}{text}" in payload
    assert parse_payload(payload).amount == satang


# --- properties -----------------------------------------------------------------------

mobiles = st.from_regex(r"0[0-9]{9}", fullmatch=True)
tax_ids = st.from_regex(r"[0-9]{12}", fullmatch=True).map(_tax_id)
ewallets = st.from_regex(r"[0-9]{15}", fullmatch=True)
targets = st.one_of(
    mobiles.map(lambda v: PromptPayTarget(TargetKind.MOBILE, v)),
    tax_ids.map(lambda v: PromptPayTarget(TargetKind.TAX_ID, v)),
    ewallets.map(lambda v: PromptPayTarget(TargetKind.EWALLET, v)),
)


@given(target=targets, amount=st.integers(min_value=1, max_value=MAX_AMOUNT))
def test_any_amount_up_to_the_limit_round_trips(target, amount):
    payload = build_payload(target, amount)
    parsed = parse_payload(payload)
    assert (parsed.target, parsed.amount, parsed.dynamic) == (target, amount, True)
    assert payload.endswith("6304" + crc16(payload[:-4]))
    assert payload.isascii() and payload.isprintable()


@given(target=targets)
def test_a_static_qr_round_trips_without_an_amount(target):
    parsed = parse_payload(build_payload(target))
    assert (parsed.target, parsed.amount, parsed.dynamic) == (target, None, False)


@given(
    target=targets,
    amount=st.integers(min_value=1, max_value=MAX_AMOUNT),
    position=st.integers(min_value=0),
    replacement=st.sampled_from("0123456789ABCDEFXYZ."),
)
def test_any_changed_character_is_caught(target, amount, position, replacement):
    payload = build_payload(target, amount)
    index = position % len(payload)
    changed = payload[:index] + replacement + payload[index + 1 :]
    if changed.upper() == payload.upper():
        return
    with pytest.raises(PromptPayError) as refused:
        parsed = parse_payload(changed)
        # A change the CRC happens not to see must still not change what is paid.
        assert (parsed.target, parsed.amount) == (target, amount)
        raise PromptPayError("unchanged", "same payment")
    assert refused.value.code in {
        "payload_checksum",
        "payload_malformed",
        "payload_not_promptpay",
        "currency_not_supported",
        "id_checksum",
        "unchanged",
    }


@given(digits=st.from_regex(r"[0-9]{12}", fullmatch=True), wrong=st.integers(1, 9))
def test_a_13_digit_id_with_a_wrong_check_digit_is_refused(digits, wrong):
    good = _tax_id(digits)
    bad = good[:12] + str((int(good[12]) + wrong) % 10)
    with pytest.raises(PromptPayError) as refused:
        parse_target(bad)
    assert refused.value.code == "id_checksum"


# --- refusals with stable codes -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "12345",
        "081234567",  # 9 digits
        "08123456789",  # 11 digits, not +66
        "+1 555 123 4567",
        "+66 81 234 567",
        "08l2345678",  # a letter l
        "０８１２３４５６７８",  # fullwidth digits
        "081234\x005678",  # a NUL byte
        "0812345678\n",
        "1" * 14,
        "1" * 16,
    ],
)
def test_invalid_ids_are_refused_with_a_stable_code(text):
    with pytest.raises(PromptPayError) as refused:
        parse_target(text)
    assert refused.value.code == "id_invalid"


def test_an_id_of_the_wrong_kind_is_refused():
    with pytest.raises(PromptPayError) as refused:
        parse_target("0812345678", TargetKind.EWALLET)
    assert refused.value.code == "id_invalid"
    assert parse_target("081-234-5678", "mobile").value == "0812345678"


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1, 1.5, "100", True, None])
def test_bad_amounts_are_refused(amount):
    with pytest.raises(PromptPayError) as refused:
        format_amount(amount)  # type: ignore[arg-type]
    assert refused.value.code == "amount_invalid"


def test_only_baht():
    with pytest.raises(PromptPayError) as refused:
        build_payload(parse_target("0812345678"), 100, currency="USD")
    assert refused.value.code == "currency_not_supported"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("", "payload_malformed"),
        ("6304", "payload_malformed"),
        (DYNAMIC_MOBILE[:-4] + "0000", "payload_checksum"),
        (DYNAMIC_MOBILE[:-4] + "ZZZZ", "payload_malformed"),
        (DYNAMIC_MOBILE.replace("5802TH", "5802T\x00"), "payload_malformed"),
        (DYNAMIC_MOBILE + "\n", "payload_malformed"),
        ("ไทย" + DYNAMIC_MOBILE, "payload_malformed"),
    ],
)
def test_broken_payloads_are_refused(payload, code):
    with pytest.raises(PromptPayError) as refused:
        parse_payload(payload)
    assert refused.value.code == code


def _signed(body: str) -> str:
    return body + "6304" + crc16(body + "6304")


def test_a_payload_for_another_scheme_or_currency_is_refused():
    other_aid = "00020101021229370016A000000999999999011300668012345675802TH5303764"
    with pytest.raises(PromptPayError) as refused:
        parse_payload(_signed(other_aid))
    assert refused.value.code == "payload_not_promptpay"
    dollars = "00020101021229370016A000000677010111011300668012345675802TH5303840"
    with pytest.raises(PromptPayError) as refused:
        parse_payload(_signed(dollars))
    assert refused.value.code == "currency_not_supported"
    truncated = "000201010212293700"
    with pytest.raises(PromptPayError) as refused:
        parse_payload(_signed(truncated))
    assert refused.value.code == "payload_malformed"


def test_a_masked_id_shows_only_its_last_four_digits():
    assert parse_target("0812345678").masked == "xxx-xxx-5678"
    assert parse_target("123456789012345").masked == "x" * 11 + "2345"
