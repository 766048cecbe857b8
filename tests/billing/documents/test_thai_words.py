"""The total in Thai words, as a tax invoice writes it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.documents.thai_words import baht_text, number_words


@pytest.mark.parametrize(
    ("satang", "words"),
    [
        (80_000, "แปดร้อยบาทถ้วน"),
        (0, "ศูนย์บาทถ้วน"),
        (100, "หนึ่งบาทถ้วน"),
        (1_100, "สิบเอ็ดบาทถ้วน"),
        (2_100, "ยี่สิบเอ็ดบาทถ้วน"),
        (2_000, "ยี่สิบบาทถ้วน"),
        (10_100, "หนึ่งร้อยเอ็ดบาทถ้วน"),
        (160_500, "หนึ่งพันหกร้อยห้าบาทถ้วน"),
        (85_600, "แปดร้อยห้าสิบหกบาทถ้วน"),
        (50, "ห้าสิบสตางค์"),
        (1, "หนึ่งสตางค์"),
        (11, "สิบเอ็ดสตางค์"),
        (101, "หนึ่งบาทหนึ่งสตางค์"),
        (1_150, "สิบเอ็ดบาทห้าสิบสตางค์"),
        (85_625, "แปดร้อยห้าสิบหกบาทยี่สิบห้าสตางค์"),
        (100_000_000, "หนึ่งล้านบาทถ้วน"),
        (100_000_100, "หนึ่งล้านเอ็ดบาทถ้วน"),
        (2_100_000_000, "ยี่สิบเอ็ดล้านบาทถ้วน"),
        (12_345_678_901, "หนึ่งร้อยยี่สิบสามล้านสี่แสนห้าหมื่นหกพันเจ็ดร้อยแปดสิบเก้าบาทหนึ่งสตางค์"),
        (200_000_000_000_000, "สองล้านล้านบาทถ้วน"),
        (100_000_100_000_000, "หนึ่งล้านเอ็ดล้านบาทถ้วน"),
        (-80_000, "ลบแปดร้อยบาทถ้วน"),
    ],
)
def test_amounts_read_as_a_thai_tax_invoice_writes_them(satang, words):
    assert baht_text(satang) == words


def test_numbers_below_zero_are_not_read():
    with pytest.raises(ValueError):
        number_words(-1)


_DIGIT_WORDS = {
    "ศูนย์": 0, "หนึ่ง": 1, "เอ็ด": 1, "สอง": 2, "ยี่": 2, "สาม": 3, "สี่": 4,
    "ห้า": 5, "หก": 6, "เจ็ด": 7, "แปด": 8, "เก้า": 9,
}  # fmt: skip
_PLACE_WORDS = {"สิบ": 10, "ร้อย": 100, "พัน": 1_000, "หมื่น": 10_000, "แสน": 100_000}


def _read_back(words: str) -> int:
    """Thai number words back to the number (a reader independent of the writer)."""
    if "ล้าน" in words:
        high, _, low = words.rpartition("ล้าน")
        return _read_back(high) * 1_000_000 + (_read_back(low) if low else 0)
    total, digit = 0, None
    rest = words
    while rest:
        for word, value in {**_DIGIT_WORDS, **_PLACE_WORDS}.items():
            if rest.startswith(word):
                rest = rest[len(word) :]
                if word in _PLACE_WORDS:
                    total += (1 if digit is None else digit) * value
                    digit = None
                else:
                    digit = value
                break
        else:
            raise AssertionError(f"unreadable: {rest}")
    return total + (digit or 0)


@given(st.integers(min_value=0, max_value=10**15))
def test_every_number_reads_back_to_itself(number):
    assert _read_back(number_words(number)) == number


@given(st.integers(min_value=0, max_value=10**13))
def test_every_amount_names_its_baht_and_satang(satang):
    words = baht_text(satang)
    baht, rest = divmod(satang, 100)
    if rest == 0:
        assert words.endswith("บาทถ้วน")
        assert _read_back(words.removesuffix("บาทถ้วน")) == baht
    else:
        assert words.endswith("สตางค์")
        head, _, satang_words = words.removesuffix("สตางค์").rpartition("บาท")
        assert _read_back(satang_words) == rest
        assert (_read_back(head) if head else 0) == baht
