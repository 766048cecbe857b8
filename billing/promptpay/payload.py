"""The PromptPay QR payload: EMVCo merchant-presented QR, Thai profile (tag 29).

A payload is a run of fields, each a 2-digit tag, a 2-digit length and the value::

    00 02 01                      payload format
    01 02 11 | 12                 static (payer types the amount) | dynamic (amount fixed)
    29 .. 00 16 A000000677010111  PromptPay merchant account: the application id, then
          01 13 0066XXXXXXXXX     a mobile number, or
          02 13 NNNNNNNNNNNNN     a national ID or tax ID, or
          03 15 NNNNNNNNNNNNNNN   an e-wallet ID
    58 02 TH                      country
    53 03 764                     currency (THB)
    54 .. 800.00                  amount, dynamic QR only
    63 04 XXXX                    CRC-16/CCITT-FALSE over everything up to "6304"

Fields are written in the order widely used generators write them (00, 01, 29, 58, 53,
54, 63), so a payload can be compared with theirs byte for byte.  Amounts are integer
satang throughout: no float ever touches them, so ฿1,000,000.00 and more are exact.

Every refusal is a :class:`PromptPayError` whose ``code`` is stable (an API contract).
"""

from __future__ import annotations

import binascii
import enum
import re
from dataclasses import dataclass

__all__ = [
    "AID",
    "MAX_AMOUNT",
    "PromptPayError",
    "PromptPayPayload",
    "PromptPayTarget",
    "TargetKind",
    "build_payload",
    "crc16",
    "format_amount",
    "parse_payload",
    "parse_target",
]

AID = "A000000677010111"  # PromptPay's application id (merchant-presented, credit transfer)
CURRENCY_THB = "764"  # ISO 4217 numeric
COUNTRY = "TH"
# Tag 54 holds at most 13 characters: "9999999999.99".
MAX_AMOUNT = 999_999_999_999  # satang
_AMOUNT_TEXT = re.compile(r"(\d{1,10})(?:\.(\d{1,2}))?")
_TAG_PAYLOAD_FORMAT = "00"
_TAG_INITIATION = "01"
_TAG_MERCHANT = "29"
_TAG_CURRENCY = "53"
_TAG_AMOUNT = "54"
_TAG_COUNTRY = "58"
_TAG_CRC = "63"
STATIC, DYNAMIC = "11", "12"
# What a person may type between the digits of an ID: spaces, dashes, dots, brackets.
_SEPARATORS = re.compile(r"[ \-.()]")


class PromptPayError(ValueError):
    """A PromptPay ID, amount or payload that cannot be used.

    ``code`` is stable: ``id_invalid``, ``id_checksum``, ``amount_invalid``,
    ``currency_not_supported``, ``payload_malformed``, ``payload_checksum`` or
    ``payload_not_promptpay``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TargetKind(enum.StrEnum):
    """Who the money goes to: the sub-tag of tag 29 that carries the ID."""

    MOBILE = "mobile"  # sub-tag 01
    TAX_ID = "tax_id"  # sub-tag 02: a 13-digit national ID or tax ID
    EWALLET = "ewallet"  # sub-tag 03: a 15-digit e-wallet ID


_SUBTAGS = {TargetKind.MOBILE: "01", TargetKind.TAX_ID: "02", TargetKind.EWALLET: "03"}
_KINDS = {subtag: kind for kind, subtag in _SUBTAGS.items()}


@dataclass(frozen=True)
class PromptPayTarget:
    """A PromptPay ID in its canonical form: a mobile as ``0XXXXXXXXX`` (10 digits), a
    national ID or tax ID as 13 digits, an e-wallet ID as 15 digits."""

    kind: TargetKind
    value: str

    @property
    def account(self) -> str:
        """The value as tag 29 carries it (a mobile as 0066 + the number without its 0)."""
        if self.kind == TargetKind.MOBILE:
            return "0066" + self.value[1:]
        return self.value

    @property
    def masked(self) -> str:
        """For people: all but the last four digits hidden (``xxx-xxx-4567``)."""
        hidden = re.sub(r"\d", "x", self.value[:-4])
        if self.kind == TargetKind.MOBILE:
            return f"{hidden[:3]}-{hidden[3:6]}-{self.value[-4:]}"
        return hidden + self.value[-4:]


@dataclass(frozen=True)
class PromptPayPayload:
    """What a payload says, as :func:`parse_payload` reads it."""

    target: PromptPayTarget
    amount: int | None  # satang; ``None`` in a static QR
    dynamic: bool
    currency: str = "THB"
    country: str = COUNTRY


# --- IDs ------------------------------------------------------------------------------


def _tax_id_check_digit(first_twelve: str) -> int:
    """The 13th digit of a Thai national ID or tax ID (weights 13 down to 2, mod 11)."""
    weights = range(13, 1, -1)
    total = sum(int(digit) * weight for digit, weight in zip(first_twelve, weights, strict=True))
    return (11 - total % 11) % 10


def parse_target(text: str, kind: TargetKind | str | None = None) -> PromptPayTarget:
    """A PromptPay ID as a person types it, checked and made canonical.

    Without ``kind`` the shape decides: 10 digits starting with 0, or ``+66``/``66``
    followed by 9 digits, is a mobile; 13 digits a national ID or tax ID (its check
    digit must be right); 15 digits an e-wallet ID.
    """
    if not isinstance(text, str) or not text.isprintable():
        raise PromptPayError("id_invalid", "A PromptPay ID is text without control characters.")
    digits = _SEPARATORS.sub("", text)
    international = digits.startswith("+")
    digits = digits.removeprefix("+")
    if not digits or not digits.isascii() or not digits.isdigit():
        raise PromptPayError(
            "id_invalid", "A PromptPay ID is a mobile number, a 13-digit ID or an e-wallet ID."
        )
    wanted = TargetKind(kind) if kind else None
    if international or (len(digits) == 11 and digits.startswith("66")):
        if len(digits) != 11 or not digits.startswith("66"):
            raise PromptPayError("id_invalid", "A Thai mobile number is +66 and 9 digits.")
        digits = "0" + digits[2:]
    if wanted in (None, TargetKind.MOBILE) and len(digits) == 10 and digits.startswith("0"):
        return PromptPayTarget(TargetKind.MOBILE, digits)
    if wanted in (None, TargetKind.TAX_ID) and len(digits) == 13:
        if _tax_id_check_digit(digits[:12]) != int(digits[12]):
            raise PromptPayError("id_checksum", "This 13-digit ID's check digit is wrong.")
        return PromptPayTarget(TargetKind.TAX_ID, digits)
    if wanted in (None, TargetKind.EWALLET) and len(digits) == 15:
        return PromptPayTarget(TargetKind.EWALLET, digits)
    raise PromptPayError(
        "id_invalid",
        "A PromptPay ID is a 10-digit mobile number, a 13-digit national ID or tax ID, "
        "or a 15-digit e-wallet ID.",
    )


# --- amounts --------------------------------------------------------------------------


def _check_amount(amount: object) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise PromptPayError("amount_invalid", "An amount is a whole number of satang.")
    if not 1 <= amount <= MAX_AMOUNT:
        raise PromptPayError(
            "amount_invalid", "A PromptPay amount is from ฿0.01 to ฿9,999,999,999.99."
        )
    return amount


def format_amount(amount: int) -> str:
    """Satang as tag 54 writes them: ``80000`` → ``"800.00"``, ``422`` → ``"4.22"``."""
    baht, satang = divmod(_check_amount(amount), 100)
    return f"{baht}.{satang:02d}"


def _parse_amount(text: str) -> int:
    match = _AMOUNT_TEXT.fullmatch(text)
    if match is None:
        raise PromptPayError("payload_malformed", "The payload's amount is not a number.")
    baht, fraction = match.group(1), (match.group(2) or "").ljust(2, "0")
    amount = int(baht) * 100 + int(fraction)
    if not 1 <= amount <= MAX_AMOUNT:
        raise PromptPayError("payload_malformed", "The payload's amount is out of range.")
    return amount


# --- payloads -------------------------------------------------------------------------


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise PromptPayError("payload_malformed", f"Field {tag} is longer than 99 characters.")
    return f"{tag}{len(value):02d}{value}"


def crc16(data: str) -> str:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) as 4 upper-case hex digits."""
    return format(binascii.crc_hqx(data.encode("ascii"), 0xFFFF), "04X")


def build_payload(
    target: PromptPayTarget, amount: int | None = None, *, currency: str = "THB"
) -> str:
    """The payload for paying ``target``: static without ``amount``, dynamic with it."""
    if currency != "THB":
        raise PromptPayError("currency_not_supported", "PromptPay pays in Thai baht only.")
    merchant = _field("00", AID) + _field(_SUBTAGS[target.kind], target.account)
    body = (
        _field(_TAG_PAYLOAD_FORMAT, "01")
        + _field(_TAG_INITIATION, STATIC if amount is None else DYNAMIC)
        + _field(_TAG_MERCHANT, merchant)
        + _field(_TAG_COUNTRY, COUNTRY)
        + _field(_TAG_CURRENCY, CURRENCY_THB)
    )
    if amount is not None:
        body += _field(_TAG_AMOUNT, format_amount(amount))
    body += _TAG_CRC + "04"
    return body + crc16(body)


def _fields(text: str) -> list[tuple[str, str]]:
    """The (tag, value) pairs of a run of fields; ``payload_malformed`` if it is not one."""
    fields: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        head = text[position : position + 4]
        if len(head) < 4 or not head.isdigit():
            raise PromptPayError("payload_malformed", "The payload is not a run of fields.")
        length = int(head[2:])
        value = text[position + 4 : position + 4 + length]
        if len(value) != length:
            raise PromptPayError("payload_malformed", "A field runs past the payload's end.")
        fields.append((head[:2], value))
        position += 4 + length
    return fields


def parse_payload(payload: str) -> PromptPayPayload:
    """Read and verify a PromptPay payload (its checksum first).

    Refuses anything that is not a PromptPay credit transfer in THB with a stable code.
    """
    if not isinstance(payload, str) or not payload.isascii() or not payload.isprintable():
        raise PromptPayError("payload_malformed", "A payload is printable ASCII text.")
    if len(payload) < 8 or payload[-8:-4] != _TAG_CRC + "04":
        raise PromptPayError("payload_malformed", "A payload ends with its checksum field.")
    if not re.fullmatch(r"[0-9A-F]{4}", payload[-4:].upper()):
        raise PromptPayError("payload_malformed", "The checksum is not four hex digits.")
    if crc16(payload[:-4]) != payload[-4:].upper():
        raise PromptPayError("payload_checksum", "The payload's checksum does not match.")
    fields = _fields(payload[:-8])
    values = dict(fields)
    if len(values) != len(fields):
        raise PromptPayError("payload_malformed", "A field appears twice.")
    if values.get(_TAG_PAYLOAD_FORMAT) != "01":
        raise PromptPayError("payload_malformed", "The payload format is not 01.")
    initiation = values.get(_TAG_INITIATION, STATIC)
    if initiation not in (STATIC, DYNAMIC):
        raise PromptPayError("payload_malformed", "Tag 01 is neither 11 nor 12.")
    target = _merchant_target(values.get(_TAG_MERCHANT))
    if values.get(_TAG_CURRENCY) != CURRENCY_THB:
        raise PromptPayError("currency_not_supported", "The payload is not in Thai baht.")
    amount_text = values.get(_TAG_AMOUNT)
    return PromptPayPayload(
        target=target,
        amount=_parse_amount(amount_text) if amount_text is not None else None,
        dynamic=initiation == DYNAMIC,
        country=values.get(_TAG_COUNTRY, ""),
    )


def _merchant_target(merchant: str | None) -> PromptPayTarget:
    if merchant is None:
        raise PromptPayError("payload_not_promptpay", "The payload has no PromptPay account.")
    sub = dict(_fields(merchant))
    if sub.get("00") != AID:
        raise PromptPayError("payload_not_promptpay", "Tag 29 is not PromptPay's.")
    found = [(subtag, value) for subtag, value in sub.items() if subtag in _KINDS]
    if len(found) != 1:
        raise PromptPayError("payload_malformed", "Tag 29 must name exactly one account.")
    subtag, account = found[0]
    kind = _KINDS[subtag]
    if kind == TargetKind.MOBILE:
        if len(account) != 13 or not account.startswith("0066") or not account.isdigit():
            raise PromptPayError("payload_malformed", "A mobile account is 0066 and 9 digits.")
        return PromptPayTarget(kind, "0" + account[4:])
    try:
        return parse_target(account, kind)
    except PromptPayError as exc:
        raise PromptPayError(
            "payload_malformed" if exc.code == "id_invalid" else exc.code, exc.message
        ) from exc
