"""Invariants of the quote kernel, checked with Hypothesis against an exact Fraction reference."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.customs.support import QUOTE_DAY, quote
from xborder.customs.quote_kernel import round_half_up, tax_components
from xborder.services.customs import quote_many

RATES = st.decimals(min_value=Decimal(0), max_value=Decimal("0.5"), places=3)
CT_RATES = st.decimals(min_value=Decimal(0), max_value=Decimal("0.6"), places=3)
PRICES = st.integers(min_value=1, max_value=10**7)  # minor units


def _money(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def _half_up(x: Fraction) -> int:
    return int((2 * x.numerator + x.denominator) // (2 * x.denominator))


def _order(
    dest: str, currency: str, price: int, qty: int, freight: int, **line: Any
) -> dict[str, Any]:
    return {
        "date": "2025-06-01",
        "origin": "JP",
        "destination": dest,
        "currency": currency,
        "incoterm": "DAP",
        "freight": _money(freight),
        "customs_mode": "general" if dest == "CN" else None,
        "lines": [{"hs_code": "330499", "qty": qty, "unit_price": _money(price), **line}],
    }


@settings(max_examples=60, deadline=None)
@given(
    price=PRICES, qty=st.integers(1, 5), freight=st.integers(0, 5000), d=RATES, v=RATES, c=CT_RATES
)
def test_general_trade_matches_the_exact_reference(
    price: int, qty: int, freight: int, d: Decimal, v: Decimal, c: Decimal
) -> None:
    result = quote(
        _order(
            "CN",
            "CNY",
            price,
            qty,
            freight,
            duty_rate=str(d),
            vat_rate=str(v),
            consumption_tax_rate=str(c),
        )
    )
    base = Fraction(price * qty + freight)
    duty, ct, vat = tax_components(base, Fraction(d), Fraction(c), Fraction(v), Fraction(1))
    assert Decimal(result["duty"]) == Decimal(_half_up(duty)).scaleb(-2)
    assert Decimal(result["consumption_tax"]) == Decimal(_half_up(ct)).scaleb(-2)
    assert Decimal(result["vat"]) == Decimal(_half_up(vat)).scaleb(-2)


@settings(max_examples=60, deadline=None)
@given(price=st.integers(1, 250_000), freight=st.integers(0, 2000), v=RATES, c=CT_RATES)
def test_cbec_70_percent_matches_the_exact_reference(
    price: int, freight: int, v: Decimal, c: Decimal
) -> None:
    request = _order("CN", "CNY", price, 1, freight, vat_rate=str(v), consumption_tax_rate=str(c))
    request["customs_mode"] = None
    result = quote(request)
    assert result["channel"] == "cbec"
    p = Fraction(price + freight)
    assert Decimal(result["vat"]) == Decimal(
        _half_up(p / (1 - Fraction(c)) * Fraction(v) * Fraction(7, 10))
    ).scaleb(-2)
    assert Decimal(result["consumption_tax"]) == Decimal(
        _half_up(p / (1 - Fraction(c)) * Fraction(c) * Fraction(7, 10))
    ).scaleb(-2)
    assert result["duty"] == "0.00"


@settings(max_examples=40, deadline=None)
@given(
    prices=st.lists(PRICES, min_size=1, max_size=6),
    freight=st.integers(0, 10_000),
    dest=st.sampled_from([("CN", "CNY"), ("DE", "EUR"), ("GB", "GBP"), ("US", "USD")]),
)
def test_total_is_the_sum_of_rounded_components_and_lines_add_up(
    prices: list[int], freight: int, dest: tuple[str, str]
) -> None:
    codes = ["330499", "610910", "851830"]
    request = {
        "date": "2026-08-01",
        "origin": "JP",
        "destination": dest[0],
        "currency": dest[1],
        "freight": _money(freight),
        "lines": [
            {"hs_code": codes[i % 3], "qty": 1, "unit_price": _money(p)}
            for i, p in enumerate(prices)
        ],
    }
    result = quote(request)
    taxes = ("duty", "additional_duty", "vat", "consumption_tax")
    assert Decimal(result["total_tax"]) == sum(Decimal(result[k]) for k in taxes)
    for key in ("duty", "vat", "consumption_tax"):
        assert Decimal(result[key]) == sum(Decimal(ln[key]) for ln in result["lines"])
    paid = Decimal(result["goods"]) + Decimal(result["freight_insurance"])
    fees = Decimal(result["fees"])
    assert Decimal(result["landed_cost"]) == paid + Decimal(result["total_tax"]) + fees
    expected_value = Decimal(result["goods"]) if dest[0] == "US" else paid  # US values FOB
    assert Decimal(result["customs_value"]) == expected_value


@settings(max_examples=40, deadline=None)
@given(
    price=st.integers(1, 4_000_000),
    step=st.integers(1, 100_000),
    freight=st.integers(0, 3000),
    dest=st.sampled_from([("CN", "CNY"), ("DE", "EUR"), ("GB", "GBP"), ("US", "USD")]),
    before=st.integers(0, 2_600_000),
)
def test_tax_is_monotone_in_value(
    price: int, step: int, freight: int, dest: tuple[str, str], before: int
) -> None:
    def tax(minor: int) -> Decimal:
        request = _order(dest[0], dest[1], minor, 1, freight)
        request["customs_mode"] = None
        request["origin"] = "CN"
        if dest[0] == "CN":
            request["buyer_annual_total_before"] = _money(before)
        return Decimal(quote(request)["total_tax"])

    assert tax(price) <= tax(price + step)


@settings(max_examples=25, deadline=None)
@given(prices=st.lists(PRICES, min_size=1, max_size=8), freight=st.integers(0, 3000))
def test_bulk_and_single_agree(prices: list[int], freight: int) -> None:
    requests = [
        _order(d, c, p, 1, freight)
        for p, (d, c) in zip(
            prices, [("CN", "CNY"), ("DE", "EUR"), ("US", "USD"), ("GB", "GBP")] * 2, strict=False
        )
    ]
    bulk = quote_many(requests, QUOTE_DAY)
    for request, row in zip(requests, bulk, strict=True):
        assert {k: v for k, v in row.items() if k != "record"} == quote(request)


@given(k=st.integers(0, 10**6))
def test_rounding_of_exact_halves_is_half_up(k: int) -> None:
    # k + 0.5 exactly: floats carry it exactly, and the exact path agrees
    x = np.array([k + 0.5])
    assert round_half_up(x, lambda _i: Fraction(2 * k + 1, 2))[0] == k + 1
