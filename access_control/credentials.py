"""Credential values: how RFID numbers are normalised, and the rotating member QR pass.

RFID values are stored as the card's number in **uppercase hexadecimal without
separators**.  Readers report the same card in different forms; these are accepted:

``hex``
    The UID as hex digits, optionally separated by ``:``, ``-`` or spaces:
    ``04:a1:b2:c3`` → ``04A1B2C3``.  6 to 20 digits, an even number (3 to 10 bytes).
``wiegand26``
    A Wiegand-26 frame carries an 8-bit facility code and a 16-bit card number between
    two parity bits.  Readers report the 24 data bits, parity stripped, either as
    ``facility:card`` (facility 0–255, card 0–65535) or as one decimal number
    ``facility × 65536 + card`` (0–16777215).  Both become the 24 bits as 6 hex digits:
    ``123:45678`` = 8106606 → ``7BB26E``.  A decimal that includes the parity bits is not
    accepted: it cannot be told apart from the data form.
``wiegand34``
    A Wiegand-34 frame carries 32 data bits between two parity bits, reported as one
    decimal number 0–4294967295 (often printed on the card with leading zeros).  It
    becomes the 32 bits as 8 hex digits: ``0003735928559`` → ``DEADBEEF``.

A digits-only value is ambiguous (``12345678`` is valid hex and valid decimal), so a
device says which form its reader writes (``Device.credential_format``).  With ``auto``
the gate tries every reading in a fixed order (hex, Wiegand-34, Wiegand-26) and the
first that names a credential wins; at the desk, a digits-only RFID value must name its
form.  Barcodes are stored exactly as scanned, surrounding spaces removed.

The member QR pass is ``QR1:<public id>:<code>``.  The code is the first 10 hex digits
of HMAC-SHA256(pass key, "<public id>:<step>"), where ``step`` counts
``ACCESS_QR_STEP_SECONDS`` (30 s) since the epoch and the pass key is
HMAC-SHA256(SECRET_KEY, "access_control.qr:<public id>").  A code is accepted for its
own step and ``ACCESS_QR_SKEW_STEPS`` steps either side, so a screenshot stops working
within about a minute.  Devices get the pass key in their allowlist to check codes
offline; it reveals nothing about ``SECRET_KEY`` or any other pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from django.conf import settings

from .models import CredentialFormat, CredentialKind

QR_PREFIX = "QR1"
QR_CODE_LENGTH = 10
QR_PUBLIC_ID_LENGTH = 16
_QR_ALPHABET = string.ascii_uppercase + "234567"
_HEX_SEPARATORS = re.compile(r"[\s:\-]")
# ASCII digits only: ``\d`` and ``str.isdigit`` also take fullwidth, Arabic-Indic,
# superscript and circled digits, which no reader sends.
_WIEGAND26_PAIR = re.compile(r"([0-9]{1,3}):([0-9]{1,5})")
_DECIMAL = re.compile(r"[0-9]+")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
MAX_BARCODE_LENGTH = 64


class CredentialValueError(ValueError):
    """A value that is not a valid credential of the kind or form asked for."""


def normalize_hex_uid(raw: str) -> str:
    if not raw.isascii():  # "ﬀ".upper() is "FF"
        raise CredentialValueError("not hexadecimal")
    digits = _HEX_SEPARATORS.sub("", raw.strip()).upper()
    if not re.fullmatch(r"[0-9A-F]+", digits or "-"):
        raise CredentialValueError("not hexadecimal")
    if not 6 <= len(digits) <= 20 or len(digits) % 2:
        raise CredentialValueError("a UID has 6 to 20 hex digits, an even number")
    return digits


def wiegand26_to_uid(raw: str) -> str:
    text = raw.strip()
    pair = _WIEGAND26_PAIR.fullmatch(text)
    if pair:
        facility, card = int(pair.group(1)), int(pair.group(2))
        if facility > 0xFF or card > 0xFFFF:
            raise CredentialValueError("facility 0-255 and card 0-65535")
        return f"{facility << 16 | card:06X}"
    if not _DECIMAL.fullmatch(text) or len(text) > 10:
        raise CredentialValueError("not a Wiegand-26 number")
    number = int(text)
    if number > 0xFFFFFF:
        raise CredentialValueError("more than 24 data bits")
    return f"{number:06X}"


def wiegand34_to_uid(raw: str) -> str:
    text = raw.strip()
    if not _DECIMAL.fullmatch(text) or len(text) > 13:
        raise CredentialValueError("not a Wiegand-34 number")
    number = int(text)
    if number > 0xFFFFFFFF:
        raise CredentialValueError("more than 32 data bits")
    return f"{number:08X}"


_CONVERTERS = {
    CredentialFormat.HEX: normalize_hex_uid,
    CredentialFormat.WIEGAND26: wiegand26_to_uid,
    CredentialFormat.WIEGAND34: wiegand34_to_uid,
}


def normalize_rfid(raw: str, input_format: str = CredentialFormat.AUTO) -> str:
    """The stored form of an RFID number written in ``input_format``.

    ``auto`` accepts ``facility:card`` and anything with hex letters or separators;
    a digits-only number must name its form.
    """
    text = raw.strip()
    if input_format != CredentialFormat.AUTO:
        return _CONVERTERS[CredentialFormat(input_format)](text)
    if _WIEGAND26_PAIR.fullmatch(text):
        return wiegand26_to_uid(text)
    if _DECIMAL.fullmatch(text):
        raise CredentialValueError("digits only: say whether this is hex, Wiegand-26 or -34")
    return normalize_hex_uid(text)


def normalize_barcode(raw: str) -> str:
    text = raw.strip()
    if not text or len(text) > MAX_BARCODE_LENGTH or not _PRINTABLE.fullmatch(text):
        raise CredentialValueError("a barcode is 1 to 64 printable characters")
    return text


def normalize_credential(kind: str, raw: str, input_format: str = CredentialFormat.AUTO) -> str:
    """The stored value of a credential of ``kind`` given as ``raw`` (raises on bad input)."""
    if kind == CredentialKind.RFID:
        return normalize_rfid(raw, input_format)
    if kind == CredentialKind.BARCODE:
        return normalize_barcode(raw)
    if kind == CredentialKind.QR:
        value = raw.strip().upper()
        if len(value) != QR_PUBLIC_ID_LENGTH or set(value) - set(_QR_ALPHABET):
            raise CredentialValueError("not a QR pass id")
        return value
    raise CredentialValueError(f"unknown kind {kind!r}")


# --- What a reader presents -----------------------------------------------------------


@dataclass(frozen=True)
class QrPresentation:
    public_id: str
    fresh: bool  # the code verifies for the current time


@dataclass(frozen=True)
class Presented:
    """The credentials a presented string may be, best reading first."""

    candidates: tuple[tuple[str, str], ...]  # (kind, stored value)
    qr: QrPresentation | None = None

    def rank(self, kind: str, value: str) -> int:
        try:
            return self.candidates.index((kind, value))
        except ValueError:
            return len(self.candidates)


def _rfid_readings(text: str, reader_format: str) -> list[str]:
    if reader_format != CredentialFormat.AUTO:
        order = [CredentialFormat(reader_format)]
    elif _WIEGAND26_PAIR.fullmatch(text):
        order = [CredentialFormat.WIEGAND26]
    else:
        order = [CredentialFormat.HEX, CredentialFormat.WIEGAND34, CredentialFormat.WIEGAND26]
    readings = []
    for form in order:
        try:
            value = _CONVERTERS[form](text)
        except CredentialValueError:
            continue
        if value not in readings:
            readings.append(value)
    return readings


def presented_candidates(raw: str, reader_format: str, at: dt.datetime) -> Presented:
    """Every stored credential ``raw`` (as a reader sent it) may stand for, at ``at``."""
    text = raw.strip()
    qr = qr_parse(text, at)
    if qr is not None:
        return Presented(candidates=((CredentialKind.QR, qr.public_id),), qr=qr)
    candidates = [
        (str(CredentialKind.RFID), value) for value in _rfid_readings(text, reader_format)
    ]
    with contextlib.suppress(CredentialValueError):
        candidates.append((CredentialKind.BARCODE, normalize_barcode(text)))
    return Presented(candidates=tuple(candidates))


# --- The rotating QR pass -------------------------------------------------------------


def qr_new_public_id() -> str:
    return "".join(secrets.choice(_QR_ALPHABET) for _ in range(QR_PUBLIC_ID_LENGTH))


def qr_pass_key(public_id: str) -> bytes:
    """The pass's own HMAC key; devices receive it (hex) to check codes offline."""
    return hmac.new(
        settings.SECRET_KEY.encode(), f"access_control.qr:{public_id}".encode(), hashlib.sha256
    ).digest()


def _qr_step(at: dt.datetime) -> int:
    return int(at.timestamp()) // int(settings.ACCESS_QR_STEP_SECONDS)


def _qr_code(public_id: str, step: int) -> str:
    mac = hmac.new(qr_pass_key(public_id), f"{public_id}:{step}".encode(), hashlib.sha256)
    return mac.hexdigest()[:QR_CODE_LENGTH]


def qr_token(public_id: str, at: dt.datetime) -> str:
    """What the member's pass shows at ``at`` (render it as a QR code)."""
    return f"{QR_PREFIX}:{public_id}:{_qr_code(public_id, _qr_step(at))}"


def qr_parse(text: str, at: dt.datetime) -> QrPresentation | None:
    """``None`` if ``text`` is not a QR pass; else its id and whether the code is fresh."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != QR_PREFIX:
        return None
    public_id, code = parts[1].upper(), parts[2].lower()
    if len(public_id) != QR_PUBLIC_ID_LENGTH or set(public_id) - set(_QR_ALPHABET):
        return None
    step = _qr_step(at)
    skew = int(settings.ACCESS_QR_SKEW_STEPS)
    fresh = any(
        hmac.compare_digest(code, _qr_code(public_id, candidate))
        for candidate in range(step - skew, step + skew + 1)
    )
    return QrPresentation(public_id=public_id, fresh=fresh)
