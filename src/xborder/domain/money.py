"""Money: an exact ``Decimal`` amount in an ISO 4217 currency, and dated FX conversion.

Amounts keep full precision through arithmetic; ``rounded()`` applies the currency's minor unit
(half-up unless a rule says otherwise). Cross-currency arithmetic raises ``CurrencyMismatch``;
conversion only happens through an ``FxTable`` for a given date.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from xborder.domain.errors import CurrencyMismatch, InvalidValue, MissingRate
from xborder.refdata import currencies

Number = Decimal | int | str


def currency_code(code: Any, field: str = "currency") -> str:
    """Validate an ISO 4217 alphabetic code (case-insensitive input, upper-case result)."""
    if not isinstance(code, str) or code.strip().upper() not in currencies():
        raise InvalidValue(field, "not an active ISO 4217 currency code", code)
    return code.strip().upper()


def minor_units(code: str) -> int:
    """Number of decimal places of the currency's minor unit (JPY 0, EUR 2, KWD 3)."""
    return currencies()[currency_code(code)].minor_units


def to_decimal(value: Any, field: str = "amount") -> Decimal:
    """Parse an exact decimal; floats are refused because they are not exact."""
    if isinstance(value, bool | float):
        raise InvalidValue(field, "must be a decimal string or integer, not a float", value)
    try:
        result = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidValue(field, "not a decimal number", value) from None
    if not result.is_finite():
        raise InvalidValue(field, "must be finite", value)
    return result


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", currency_code(self.currency))

    @classmethod
    def of(cls, amount: Number, currency: str) -> Money:
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        """From an integer count of minor units (cents, fen, yen)."""
        return cls(Decimal(units).scaleb(-minor_units(currency)), currency)

    @property
    def minor(self) -> int:
        """The amount in integer minor units, rounded half-up."""
        return int(self.rounded().amount.scaleb(minor_units(self.currency)))

    def rounded(self, rounding: str = ROUND_HALF_UP) -> Money:
        quantum = Decimal(1).scaleb(-minor_units(self.currency))
        return Money(self.amount.quantize(quantum, rounding=rounding), self.currency)

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"expected Money, got {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __mul__(self, factor: Number) -> Money:
        if isinstance(factor, Money):
            raise TypeError("Money cannot be multiplied by Money")
        return Money(self.amount * to_decimal(factor, "factor"), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def total(items: Iterable[Money], currency: str) -> Money:
    """Sum of amounts that must all be in ``currency`` (an empty sum is zero)."""
    result = Money.zero(currency)
    for item in items:
        result = result + item
    return result


@dataclass(frozen=True, slots=True)
class FxRate:
    """1 ``base`` = ``rate`` ``quote`` from ``valid_from`` until superseded."""

    valid_from: date
    base: str
    quote: str
    rate: Decimal
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", currency_code(self.base, "base"))
        object.__setattr__(self, "quote", currency_code(self.quote, "quote"))
        rate = to_decimal(self.rate, "rate")
        if rate <= 0:
            raise InvalidValue("rate", "must be positive", self.rate)
        object.__setattr__(self, "rate", rate)


CROSS_PIVOTS = ("CNY", "USD", "EUR")  # cross rates go through one of these when no direct rate


@dataclass(slots=True)
class FxTable:
    """Dated FX rates: a conversion uses the latest rate on or before the date, its inverse, or a
    cross rate through one pivot currency (CNY, USD, EUR)."""

    _rates: dict[tuple[str, str], list[FxRate]] = field(default_factory=dict)

    @classmethod
    def of(cls, rates: Iterable[FxRate]) -> FxTable:
        table = cls()
        for rate in rates:
            table.add(rate)
        return table

    def add(self, rate: FxRate) -> None:
        series = self._rates.setdefault((rate.base, rate.quote), [])
        bisect.insort(series, rate, key=lambda r: r.valid_from)

    def rate(self, base: str, quote: str, on: date) -> Decimal:
        base, quote = currency_code(base, "base"), currency_code(quote, "quote")
        if base == quote:
            return Decimal(1)
        direct = self._latest(base, quote, on)
        if direct is not None:
            return direct.rate
        inverse = self._latest(quote, base, on)
        if inverse is not None:
            return Decimal(1) / inverse.rate
        for pivot in CROSS_PIVOTS:
            if (
                pivot not in (base, quote)
                and self._has(base, pivot, on)
                and self._has(pivot, quote, on)
            ):
                return self.rate(base, pivot, on) * self.rate(pivot, quote, on)
        raise MissingRate(f"no {base}/{quote} rate in force on {on.isoformat()}")

    def _has(self, base: str, quote: str, on: date) -> bool:
        return (self._latest(base, quote, on) or self._latest(quote, base, on)) is not None

    def _latest(self, base: str, quote: str, on: date) -> FxRate | None:
        series = self._rates.get((base, quote), [])
        index = bisect.bisect_right(series, on, key=lambda r: r.valid_from)
        return series[index - 1] if index else None

    def convert(self, money: Money, to: str, on: date) -> Money:
        """Exact conversion (not rounded: round where a rule says so)."""
        return Money(money.amount * self.rate(money.currency, to, on), to)

    def __iter__(self) -> Any:
        return (rate for series in self._rates.values() for rate in series)
