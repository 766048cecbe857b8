"""Money: integer minor units with an ISO 4217 currency beside them.  No floats.

All rounding goes through :func:`divide_round` (half away from zero), so tax, proration
and discounts round the same way everywhere.  Tax rates are in basis points
(700 = 7%).

People never see minor units or basis points: :func:`format_amount` and
:func:`format_rate` write them (``฿800.00``, ``7%``), and :func:`parse_amount` and
:func:`parse_rate` read what a person types (``800``, ``800.50``, ``7``, ``7.5%``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

BASIS_POINTS = 10_000

# Currencies whose minor unit is not 1/100.
_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3}
_SYMBOLS = {"THB": "฿", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "SGD": "S$", "AUD": "A$"}


def currency_symbol(currency: str) -> str:
    """``฿`` for THB; the ISO code itself for a currency without a symbol here."""
    return _SYMBOLS.get(currency.upper(), currency.upper())


def minor_unit_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def divide_round(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def tax_on_net(net: int, rate_bp: int) -> int:
    """Tax to add to a tax-exclusive amount."""
    return divide_round(net * rate_bp, BASIS_POINTS)


def split_tax(amount: int, rate_bp: int, *, inclusive: bool) -> tuple[int, int]:
    """``(net, tax)`` for a line priced at ``amount``.

    Inclusive: ``amount`` already contains the tax, so ``net + tax == amount``.
    Exclusive: ``amount`` is the net, and the tax comes on top.
    """
    if not inclusive:
        return amount, tax_on_net(amount, rate_bp)
    net = divide_round(amount * BASIS_POINTS, BASIS_POINTS + rate_bp)
    return net, amount - net


def prorate(amount: int, used_days: int, total_days: int) -> int:
    """The share of ``amount`` for ``used_days`` of a ``total_days`` period."""
    if total_days <= 0:
        raise ValueError("total_days must be positive")
    return divide_round(amount * used_days, total_days)


def percent_of(amount: int, percent_bp: int) -> int:
    return divide_round(amount * percent_bp, BASIS_POINTS)


def format_amount(amount: int, currency: str, *, with_code: bool = False) -> str:
    """``฿1,234.50`` (or ``THB 1,234.50``).  Negative amounts keep their sign."""
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    number = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(currency.upper())
    if with_code or symbol is None:
        return f"{sign}{currency.upper()} {number}"
    return f"{sign}{symbol}{number}"


def major_units(amount: int, currency: str) -> str:
    """``amount`` as the text a person would type: ``80050`` THB is ``"800.50"``."""
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}" + (f".{fraction:0{exponent}d}" if exponent else "")


class AmountNotReadable(ValueError):
    """Typed text that is not an amount of the currency; ``code`` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# 1,234.50 or 1234.50 or 1234 (a leading minus only where negative amounts are allowed).
_AMOUNT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def parse_amount(text: str, currency: str) -> int:
    """What a person typed (``800``, ``800.50``, ``1,500``, ``฿800``) in minor units.

    Exact decimal arithmetic, never a float.  More decimal places than the currency has
    are refused (``too_precise``), not rounded; anything else unreadable is ``invalid``.
    """
    cleaned = str(text).strip().replace(" ", "").replace("\u00a0", "")
    symbol = _SYMBOLS.get(currency.upper(), "")
    for mark in filter(None, (symbol, currency.upper(), currency.lower())):
        cleaned = cleaned.replace(mark, "")
    if not _AMOUNT.fullmatch(cleaned):
        raise AmountNotReadable("invalid")
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits decimals only
        raise AmountNotReadable("invalid") from exc
    minor = value.scaleb(minor_unit_exponent(currency))
    if minor != minor.to_integral_value():
        raise AmountNotReadable("too_precise")
    return int(minor)


def format_rate(rate_bp: int) -> str:
    """A rate in basis points as people read it: ``700`` is ``7%``, ``750`` is ``7.5%``."""
    whole, fraction = divmod(abs(rate_bp), 100)
    sign = "-" if rate_bp < 0 else ""
    return f"{sign}{whole}" + (f".{fraction:02d}".rstrip("0") if fraction else "") + "%"


def rate_as_typed(rate_bp: int) -> str:
    """A rate as a person types it into a percent box: ``750`` is ``"7.5"``."""
    return format_rate(rate_bp).removesuffix("%")


_RATE = re.compile(r"\d{1,3}(?:\.\d+)?")


def parse_rate(text: str) -> int:
    """A typed percentage (``7``, ``7.5``, ``7.25%``) in basis points.

    More than two decimal places (finer than a basis point) is ``too_precise``.
    """
    cleaned = str(text).strip().removesuffix("%").strip()
    if not _RATE.fullmatch(cleaned):
        raise AmountNotReadable("invalid")
    basis_points = Decimal(cleaned).scaleb(2)
    if basis_points != basis_points.to_integral_value():
        raise AmountNotReadable("too_precise")
    return int(basis_points)
