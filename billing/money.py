"""Money: integer minor units with an ISO 4217 currency beside them.  No floats.

All rounding goes through :func:`divide_round` (half away from zero), so tax, proration
and discounts round the same way everywhere.  Tax rates are in basis points
(700 = 7%).
"""

from __future__ import annotations

BASIS_POINTS = 10_000

# Currencies whose minor unit is not 1/100.
_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3}
_SYMBOLS = {"THB": "฿", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "SGD": "S$", "AUD": "A$"}


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
