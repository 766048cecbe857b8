"""Keep card numbers and secrets out of anything we store or log.

Gateways pass every raw response through :func:`redact` before it leaves the gateway
module.  Billing reuses :func:`looks_like_card_number` to refuse text that carries a
card number (a primary account number, PAN) where only a token belongs.

What counts as a card number: 13 to 19 digits, optionally grouped by single spaces or
dashes, that pass the Luhn check.  Longer digit runs are not card numbers as a whole,
but any whole groups inside them that form one are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["SENSITIVE_KEYS", "looks_like_card_number", "mask_card_numbers", "redact"]

# Keys whose values are dropped wherever they appear, compared case-insensitively.
# Broad on purpose: a raw gateway response has no business carrying any of these.
SENSITIVE_KEYS = frozenset(
    {
        "client_secret",
        "number",
        "card_number",
        "pan",
        "cvc",
        "cvv",
        "cvv2",
        "cvc2",
        "pin",
        "track1",
        "track2",
        "track_data",
        "secret",
        "api_key",
        "password",
    }
)

MIN_PAN_DIGITS = 13
MAX_PAN_DIGITS = 19

# A run of digits in which single spaces or dashes may separate groups, not touching
# further digits on either side.
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?:[ -]\d+)*(?!\d)")
_GROUP = re.compile(r"\d+")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _is_pan(digits: str) -> bool:
    return MIN_PAN_DIGITS <= len(digits) <= MAX_PAN_DIGITS and _luhn_valid(digits)


def _pan_spans(text: str) -> Iterator[tuple[int, int]]:
    """Character spans of ``text`` that hold a card number, left to right, not overlapping.

    Inside one run of digit groups, the widest span of whole groups that is a card
    number wins; a single group longer than 19 digits is never split.
    """
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run[0])]
        first = 0
        while first < len(groups):
            found = None
            for last in range(len(groups) - 1, first - 1, -1):
                start, end = groups[first][0], groups[last][1]
                digits = re.sub(r"\D", "", text[start:end])
                if len(digits) > MAX_PAN_DIGITS:
                    continue
                if _is_pan(digits):
                    found = (start, end, last)
                    break
            if found is None:
                first += 1
                continue
            yield found[0], found[1]
            first = found[2] + 1


def looks_like_card_number(text: str) -> bool:
    """Whether ``text`` contains a card number (13–19 Luhn-valid digits, spaces/dashes ignored).

    ``"4242 4242 4242 4242"`` and ``"ref 4242-4242-4242-4242"`` are; ``"4242424242424241"``
    (fails Luhn) and ``"123456789012"`` (too short) are not.
    """
    return next(_pan_spans(text), None) is not None


def mask_card_numbers(text: str) -> str:
    """``text`` with every card number's digits but the last four replaced by ``*``.

    Separators stay where they were, so ``"4242 4242 4242 4242"`` becomes
    ``"**** **** **** 4242"``.
    """
    spans = list(_pan_spans(text))
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end in spans:
        pieces.append(text[cursor:start])
        segment = text[start:end]
        keep = 4
        masked: list[str] = []
        for char in reversed(segment):
            if char.isdigit():
                masked.append(char if keep > 0 else "*")
                keep -= 1
            else:
                masked.append(char)
        pieces.append("".join(reversed(masked)))
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def redact(value: Any) -> Any:
    """A copy of ``value`` fit to store: sensitive keys dropped, card numbers masked.

    Mappings lose every key in :data:`SENSITIVE_KEYS` (at any depth); strings have card
    numbers masked; integers that are card numbers are replaced by their masked text;
    lists and tuples are redacted item by item.  Anything else is returned unchanged.
    The input is never modified.
    """
    if isinstance(value, Mapping):
        return {
            key: redact(item)
            for key, item in value.items()
            if not (isinstance(key, str) and key.lower() in SENSITIVE_KEYS)
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return mask_card_numbers(value)
    if isinstance(value, int) and not isinstance(value, bool) and _is_pan(str(abs(value))):
        return mask_card_numbers(str(value))
    return value
