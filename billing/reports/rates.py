"""A rate as an exact fraction, shown as a percentage rounded by the one rounding function."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..money import BASIS_POINTS, divide_round, format_rate


@dataclass(frozen=True)
class Rate:
    """``numerator / denominator``; ``None`` where the denominator is 0 (nothing to divide)."""

    numerator: int
    denominator: int

    @property
    def fraction(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    @property
    def basis_points(self) -> int | None:
        if not self.denominator:
            return None
        return divide_round(self.numerator * BASIS_POINTS, self.denominator)

    def __str__(self) -> str:
        points = self.basis_points
        return "–" if points is None else format_rate(points)


def money_over(amount: int, rate: Fraction | None) -> int | None:
    """``amount ÷ rate`` in minor units (an LTV), ``None`` when the rate is 0 or unknown."""
    if not rate:
        return None
    return divide_round(amount * rate.denominator, rate.numerator)
