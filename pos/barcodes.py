"""Retail barcodes: EAN-13 and UPC-A (12 digits), each with its check digit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def check_digit(body: str) -> int:
    """The GS1 check digit of ``body`` (the code without its last digit)."""
    total = 0
    for position, digit in enumerate(reversed(body)):
        total += int(digit) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10


def is_valid_barcode(code: str) -> bool:
    if not code.isascii() or not code.isdigit() or len(code) not in (12, 13):
        return False
    return check_digit(code[:-1]) == int(code[-1])


def validate_barcode(value: str) -> None:
    if value and not is_valid_barcode(value):
        raise ValidationError(
            _("Not an EAN-13 or UPC barcode: check the digits (the last one is a check digit)."),
            code="bad_barcode",
        )


def normalise_scan(text: str) -> str:
    """What a scanner typed, as stored: digits only, a UPC-A read as EAN-13 kept as typed."""
    return "".join(ch for ch in text.strip() if ch.isdigit())[:14]
