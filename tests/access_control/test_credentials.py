"""Credential values: RFID forms, barcodes, and the rotating QR pass."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from access_control.credentials import (
    CredentialValueError,
    normalize_barcode,
    normalize_hex_uid,
    normalize_rfid,
    presented_candidates,
    qr_new_public_id,
    qr_parse,
    qr_token,
    wiegand26_to_uid,
    wiegand34_to_uid,
)

from .helpers import NOW


@pytest.mark.parametrize(
    ("raw", "form", "stored"),
    [
        ("04:a1:b2:c3", "auto", "04A1B2C3"),
        ("04-A1-B2-C3-D4-E5-F6", "auto", "04A1B2C3D4E5F6"),
        (" 04a1b2c3 ", "hex", "04A1B2C3"),
        ("123:45678", "auto", "7BB26E"),  # facility 123, card 45678
        ("123:45678", "wiegand26", "7BB26E"),
        ("8106606", "wiegand26", "7BB26E"),  # 123 × 65536 + 45678
        ("0:1", "wiegand26", "000001"),
        ("3735928559", "wiegand34", "DEADBEEF"),
        ("0003735928559", "wiegand34", "DEADBEEF"),  # printed with leading zeros
        ("12345678", "hex", "12345678"),
    ],
)
def test_rfid_forms_normalise_to_uppercase_hex(raw, form, stored):
    assert normalize_rfid(raw, form) == stored


@pytest.mark.parametrize(
    ("raw", "form"),
    [
        ("3735928559", "auto"),  # digits only: which form?
        ("256:1", "wiegand26"),  # facility is 8 bits
        ("1:65536", "wiegand26"),  # card is 16 bits
        ("16777216", "wiegand26"),  # more than 24 data bits
        ("4294967296", "wiegand34"),  # more than 32 data bits
        ("04A1B", "hex"),  # odd number of digits
        ("XYZ123", "auto"),
        ("", "auto"),
    ],
)
def test_bad_rfid_values_are_refused(raw, form):
    with pytest.raises(CredentialValueError):
        normalize_rfid(raw, form)


@pytest.mark.parametrize("form", ["auto", "hex", "wiegand26", "wiegand34"])
@pytest.mark.parametrize(
    "raw",
    [
        "¹²³¹²³",  # superscript digits: str.isdigit() is True, int() refuses them
        "②③④",  # circled digits
        "123¹",
        "１２３４５６７８",  # fullwidth: int() would read 12345678
        "١٢٣٤٥٦٧٨",  # Arabic-Indic
        "１２３:４５６",  # Wiegand-26 pair in fullwidth digits
        "04ﬀ12",  # "ﬀ".upper() is "FF"
    ],
)
def test_only_ascii_digits_and_letters_are_card_numbers(raw, form):
    with pytest.raises(CredentialValueError):
        normalize_rfid(raw, form)
    rfid = [c for c in presented_candidates(raw, form, NOW).candidates if c[0] == "rfid"]
    assert rfid == []


@given(facility=st.integers(0, 255), number=st.integers(0, 65535))
def test_both_wiegand26_forms_give_the_same_card(facility, number):
    decimal = str(facility * 65536 + number)
    assert wiegand26_to_uid(f"{facility}:{number}") == wiegand26_to_uid(decimal)
    assert int(wiegand26_to_uid(decimal), 16) == facility << 16 | number


@given(st.integers(0, 2**32 - 1))
def test_wiegand34_round_trips_through_hex(number):
    assert int(wiegand34_to_uid(str(number)), 16) == number
    assert normalize_hex_uid(wiegand34_to_uid(str(number))) == wiegand34_to_uid(str(number))


def test_a_reader_in_auto_mode_tries_every_reading_of_a_number():
    candidates = presented_candidates("12345678", "auto", NOW).candidates
    assert candidates == (
        ("rfid", "12345678"),
        ("rfid", "00BC614E"),
        ("rfid", "BC614E"),
        ("barcode", "12345678"),
    )
    assert presented_candidates("12345678", "wiegand34", NOW).candidates[0] == (
        "rfid",
        "00BC614E",
    )


def test_barcodes_are_kept_as_scanned():
    assert normalize_barcode("  GYM-000123 ") == "GYM-000123"
    with pytest.raises(CredentialValueError):
        normalize_barcode("a" * 65)


def test_the_qr_pass_changes_every_30_seconds_and_allows_one_step_of_skew():
    public_id = qr_new_public_id()
    token = qr_token(public_id, NOW)
    assert token.startswith(f"QR1:{public_id}:")
    assert qr_token(public_id, NOW + dt.timedelta(seconds=30)) != token
    for seconds, fresh in [(0, True), (29, True), (55, True), (-30, True), (120, False)]:
        parsed = qr_parse(token, NOW + dt.timedelta(seconds=seconds))
        assert parsed is not None
        assert (parsed.public_id, parsed.fresh) == (public_id, fresh), seconds


def test_a_forged_qr_code_is_never_fresh():
    public_id = qr_new_public_id()
    assert qr_parse(f"QR1:{public_id}:0000000000", NOW).fresh is False
    assert qr_parse("QR1:short:0000000000", NOW) is None
    assert qr_parse("not a qr", NOW) is None
