"""The quote's arithmetic: the tax formula and exact half-up rounding (NumPy with Fraction checks).

``tax_components`` is the one place the formula lives; it runs on NumPy arrays for a batch and on
``fractions.Fraction`` for the values a float cannot round safely. Floats are used where they are
provably exact enough (|x| < 1e8 minor units and not within 1e-6 of a half); every other value is
recomputed exactly through the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import TypeVar

import numpy as np

SAFE_MAGNITUDE = 1e8  # below this, float error of the formula stays under 1e-7 minor units
TIE_WINDOW = 1e-6

T = TypeVar("T")


def tax_components(
    base: T, duty_rate: T, ct_rate: T, vat_rate: T, factor: T, extra: T | int = 0
) -> tuple[T, T, T]:
    """Duty, consumption tax and VAT of one base (works on NumPy arrays and on Fractions).

    ``base`` is the customs value the duty is assessed on; ``extra`` is what enters the VAT and
    consumption-tax base only (Australia: international transport and insurance, which the
    customs value excludes but the value of the taxable importation includes).
    """
    duty = base * duty_rate  # type: ignore[operator]
    composite = (base + duty + extra) / (1 - ct_rate)  # type: ignore[operator]
    return duty, composite * ct_rate * factor, composite * vat_rate * factor


@lru_cache(maxsize=65536)
def exact(value: float) -> Fraction:
    """A rate or FX float as the short decimal it was parsed from (0.13 -> 13/100); cached, as
    a batch has few distinct rates and ties in zero-decimal currencies (JPY, KRW) are common."""
    return Fraction(Decimal(repr(value)))


def half_up(value: Fraction) -> int:
    """Round a non-negative Fraction half-up to an integer."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def round_half_up(x: np.ndarray, exact_at: Callable[[int], Fraction]) -> np.ndarray:
    """Round non-negative floats half-up; risky entries are recomputed exactly by ``exact_at``."""
    out = np.floor(x + 0.5)
    risky = (np.abs(x - np.floor(x) - 0.5) < TIE_WINDOW) | (np.abs(x) >= SAFE_MAGNITUDE)
    result = np.where(np.isfinite(out), out, 0).astype(np.int64)
    for i in np.flatnonzero(risky & np.isfinite(x)):
        result[i] = half_up(exact_at(int(i)))
    return result


def convert(minor: np.ndarray, factor: np.ndarray, fx: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Order-currency minor units into tax-currency minor units, rounded half-up."""
    same = factor == 1.0
    x = minor.astype(np.float64) * factor

    def exact_at(i: int) -> Fraction:
        return Fraction(int(minor[i])) * exact(float(fx[i])) * Fraction(10) ** int(shift[i])

    return np.where(same, minor, round_half_up(np.where(same, 0.0, x), exact_at))
