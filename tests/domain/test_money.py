from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xborder.domain.errors import CurrencyMismatch, InvalidValue, MissingRate
from xborder.domain.money import FxRate, FxTable, Money, minor_units

amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False)
currencies = st.sampled_from(["EUR", "JPY", "KWD", "CNY", "USD"])


@given(amounts, amounts, amounts, currencies)
def test_addition_is_exact_associative_and_commutative(
    a: Decimal, b: Decimal, c: Decimal, cur: str
) -> None:
    x, y, z = Money(a, cur), Money(b, cur), Money(c, cur)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x
    assert (x + y - y) == x


@given(amounts, currencies)
def test_rounding_lands_on_the_minor_unit_half_up(a: Decimal, cur: str) -> None:
    rounded = Money(a, cur).rounded()
    step = Decimal(1).scaleb(-minor_units(cur))
    assert rounded.amount % step == 0
    assert abs(rounded.amount - a) <= step / 2
    assert Money.from_minor(Money(a, cur).minor, cur) == rounded


def test_half_up_at_the_midpoint_and_currency_minor_units() -> None:
    assert Money.of("0.125", "EUR").rounded().amount == Decimal("0.13")
    assert Money.of("-0.125", "EUR").rounded().amount == Decimal("-0.13")
    assert Money.of("100.5", "JPY").rounded().amount == Decimal("101")
    assert Money.of("1.2345", "KWD").rounded().amount == Decimal("1.235")
    assert Money.of("12.34", "EUR").minor == 1234


def test_cross_currency_arithmetic_and_comparison_raise() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money.of(1, "EUR") + Money.of(1, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money.of(1, "EUR") < Money.of(2, "USD")


@pytest.mark.parametrize("bad", [1.5, "abc", "NaN", "Infinity", None])
def test_inexact_or_malformed_amounts_are_refused(bad: object) -> None:
    with pytest.raises(InvalidValue) as info:
        Money(bad, "EUR")  # type: ignore[arg-type]
    assert info.value.field == "amount"


def test_unknown_currency_names_the_field() -> None:
    with pytest.raises(InvalidValue) as info:
        Money.of(1, "XYZ")
    assert info.value.field == "currency"


def test_fx_uses_the_rate_in_force_on_the_date_and_inverts() -> None:
    table = FxTable.of(
        [
            FxRate(date(2026, 1, 1), "USD", "CNY", Decimal("7.10")),
            FxRate(date(2026, 6, 1), "USD", "CNY", Decimal("7.20")),
        ]
    )
    assert table.convert(Money.of(10, "USD"), "CNY", date(2026, 3, 1)).amount == Decimal("71.00")
    assert table.convert(Money.of(10, "USD"), "CNY", date(2026, 6, 1)).amount == Decimal("72.00")
    back = table.convert(Money.of("72", "CNY"), "USD", date(2026, 7, 1)).rounded()
    assert back == Money.of("10.00", "USD")
    with pytest.raises(MissingRate):
        table.rate("USD", "CNY", date(2025, 12, 31))
    with pytest.raises(MissingRate):
        table.rate("EUR", "CNY", date(2026, 3, 1))


def test_fx_cross_rate_through_a_pivot() -> None:
    table = FxTable.of([
        FxRate(date(2026, 1, 1), "AUD", "CNY", Decimal("4.70")),
        FxRate(date(2026, 1, 1), "PLN", "CNY", Decimal("1.95")),
    ])  # fmt: skip
    assert table.rate("AUD", "PLN", date(2026, 2, 1)) == Decimal("4.70") / Decimal("1.95")
