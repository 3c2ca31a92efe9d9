"""Reduced VAT rates tied to the goods (vat_reduced.csv): longest prefix, dates, fallback."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from tests.customs.test_regimes_apac import kq
from xborder.customs.tariffs import TariffBook, parse_reduced, shipped_book
from xborder.domain.errors import InvalidValue

DAY = date(2026, 8, 1)
HEADER = "jurisdiction,heading,rate_class,rate,valid_from,valid_to,description,source\n"


@pytest.mark.parametrize(
    ("dest", "currency", "hs", "rate"),
    [
        ("GB", "GBP", "490199", 0.0),  # VAT Act 1994 Sch. 8 Group 3 (books)
        ("GB", "GBP", "090210", 0.0),  # Sch. 8 Group 1 (food: tea)
        ("GB", "GBP", "611120", 0.0),  # Sch. 8 Group 16: babies' garments (HS ch. 61 note 6)
        ("GB", "GBP", "610910", 0.20),  # a T-shirt: size unknown, standard rate
        ("DE", "EUR", "490199", 0.07),  # UStG s.12(2) Anlage 2
        ("DE", "EUR", "090210", 0.07),
        ("DE", "EUR", "851830", 0.19),  # standard fallback
        ("FR", "EUR", "190110", 0.055),  # CGI art. 278-0 bis
        ("NL", "EUR", "490199", 0.09),  # Wet OB Tabel I
        ("ES", "EUR", "490199", 0.04),  # LIVA art. 91.2
        ("IT", "EUR", "490199", 0.04),  # DPR 633/1972 Tab. A
        ("PL", "EUR", "490199", 0.05),  # ustawa o VAT zal. 10
        ("ES", "EUR", "090210", 0.21),  # food in ES not shipped: standard
    ],
)
def test_reduced_rate_by_heading(dest: str, currency: str, hs: str, rate: float) -> None:
    order, lines = kq(dest, currency, [(hs, 100_000)], fx=1.0)
    assert order["error"] is None
    assert lines[0]["vat_eff"] == rate


def test_childrens_clothes_outside_babies_headings_need_the_callers_mark() -> None:
    # Notice 714: zero-rated only if designed for and only suitable for young children (size);
    # the heading does not say, so the line's vat_rate decides.
    order = {
        "rec": 1,
        "date": DAY,
        "origin": "CN",
        "destination": "GB",
        "incoterm": "DAP",
        "currency": "GBP",
        "fx": None,
        "freight_minor": 0,
        "insurance_minor": 0,
        "customs_mode": None,
        "annual_before_minor": None,
    }
    from xborder.customs.quote_kernel import LINE_SCHEMA, ORDER_SCHEMA, quote_frames

    line = {"rec": 1, "line": 0, "hs_code": "620342", "qty": 1, "unit_minor": 20_000}
    marked = {**line, "vat_rate": 0.0}
    for row, vat in ((line, 4_000 + 480), (marked, 0)):  # duty 12 % enters the VAT base
        result = quote_frames(
            pl.DataFrame([order], schema=ORDER_SCHEMA), pl.DataFrame([row], schema=LINE_SCHEMA)
        )
        assert result.orders.get_column("vat_minor")[0] == vat


def _book(rows: str) -> TariffBook:
    base = shipped_book()
    return TariffBook(base.tariffs, base.vat, parse_reduced(HEADER + rows))


def test_longest_prefix_wins_and_dates_bound_a_reduced_rate() -> None:
    book = _book(
        'DE,49,reduced,0.10,2021-07-01,,"chapter","test"\n'
        'DE,4901,reduced,0.05,2021-07-01,2025-12-31,"books","test"\n'
    )
    keys = pl.DataFrame(
        {
            "jurisdiction": ["EU"] * 3,
            "vat_jurisdiction": ["DE"] * 3,
            "hs_code": ["490199", "490199", "610910"],
            "date": [date(2025, 12, 31), date(2026, 1, 1), DAY],
        }
    )
    out = book.resolve(keys).sort("date")
    assert out.get_column("vat_rate").to_list() == [0.05, 0.10, 0.19]
    assert out.get_column("vat_source").to_list()[:2] == ["test", "test"]


def test_reduced_rows_are_checked() -> None:
    with pytest.raises(InvalidValue, match="heading"):
        parse_reduced(HEADER + 'DE,49A1,reduced,0.1,2021-07-01,,"x","s"\n')
    with pytest.raises(InvalidValue, match="rate"):
        parse_reduced(HEADER + 'DE,4901,reduced,,2021-07-01,,"x","s"\n')
    shipped = shipped_book().reduced
    assert shipped is not None and shipped.height > 50
    assert shipped.filter(pl.col("reduced_source").str.len_chars() < 5).is_empty()
