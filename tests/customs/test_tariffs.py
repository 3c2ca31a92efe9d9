"""Tariff data integrity, the dated VAT table, and loading a full tariff CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from tests.customs.support import quote
from xborder.customs.regimes import EU_MEMBERS, RULES
from xborder.customs.tariffs import load_tariff_csv, shipped_book
from xborder.domain.errors import InvalidValue

HEADER = (
    "heading,duty_rate,vat_class,ct_rate,ct_high_end_rate,valid_from,valid_to,description,source\n"
)


def test_every_shipped_row_cites_a_source_and_a_validity() -> None:
    book = shipped_book()
    assert book.tariffs.filter(pl.col("source").str.len_chars() < 5).is_empty()
    assert book.vat.filter(pl.col("vat_source").str.len_chars() < 5).is_empty()
    assert (book.tariffs.get_column("from") <= book.tariffs.get_column("to")).all()
    for rule in RULES:
        assert rule.source and (rule.valid_to is None or rule.valid_from <= rule.valid_to)


@pytest.mark.parametrize("day", [date(2021, 7, 1), date(2025, 6, 1), date(2026, 7, 1)])
def test_every_member_state_has_exactly_one_standard_rate_on_a_date(day: date) -> None:
    vat = shipped_book().vat.filter(
        (pl.col("from") <= day) & (pl.col("to") >= day) & (pl.col("vat_class") == "standard")
    )
    counts = dict(vat.group_by("jurisdiction").len().iter_rows())
    assert all(counts.get(state) == 1 for state in EU_MEMBERS), counts


def test_dated_vat_changes() -> None:
    def rate(state: str, day: date) -> float:
        frame = shipped_book().vat.filter(
            (pl.col("jurisdiction") == state) & (pl.col("from") <= day) & (pl.col("to") >= day)
        )
        return float(frame.get_column("vat_rate")[0])

    assert (rate("EE", date(2025, 6, 30)), rate("EE", date(2025, 7, 1))) == (0.22, 0.24)
    assert (rate("RO", date(2025, 7, 31)), rate("RO", date(2025, 8, 1))) == (0.19, 0.21)
    assert (rate("FI", date(2024, 8, 31)), rate("FI", date(2024, 9, 1))) == (0.24, 0.255)


def test_a_full_tariff_csv_replaces_the_jurisdictions_rows(tmp_path: Path) -> None:
    path = tmp_path / "eu_full.csv"
    path.write_text(
        "# a national tariff in the shipped columns\n"
        + HEADER
        + '610910,0.05,standard,0,0,2021-07-01,,"T-shirts, cotton","TARIC test extract"\n'
    )
    book = load_tariff_csv(path, "EU")
    request = {
        "date": "2025-06-01",
        "origin": "CN",
        "destination": "DE",
        "currency": "EUR",
        "lines": [{"hs_code": "610910", "qty": 1, "unit_price": "200.00"}],
    }
    assert quote(request)["duty"] == "24.00"  # shipped: 12 %
    assert quote(request, book=book)["duty"] == "10.00"  # loaded: 5 %
    other = {**request, "lines": [{"hs_code": "851830", "qty": 1, "unit_price": "200.00"}]}
    with pytest.raises(InvalidValue, match="no tariff row"):
        quote(other, book=book)  # the loaded tariff replaced all EU rows
    uk = {**request, "destination": "GB", "currency": "GBP"}
    assert quote(uk, book=book)["duty"] == "24.00"  # other jurisdictions keep their rows


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ('6109,abc,standard,0,0,2021-07-01,,"x","s"\n', "duty_rate"),
        ('6109,11,standard,0,0,2021-07-01,,"x","s"\n', "duty_rate"),
        ('61A9,0.1,standard,0,0,2021-07-01,,"x","s"\n', "heading"),
        ('6109,0.1,standard,0,0,01/07/2021,,"x","s"\n', "valid_from"),
    ],
)
def test_bad_tariff_rows_are_named(tmp_path: Path, row: str, field: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + row)
    with pytest.raises(InvalidValue, match=field):
        load_tariff_csv(path, "EU")


def test_unknown_jurisdiction_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="jurisdiction"):
        load_tariff_csv(tmp_path / "x.csv", "BR")
    with pytest.raises(InvalidValue, match="cannot be read"):
        load_tariff_csv(tmp_path / "missing.csv", "EU")


def test_national_tariff_lines_of_8_or_10_digits_make_a_quote_exact(tmp_path: Path) -> None:
    from tests.customs.test_regimes_apac import kq  # the kernel helper

    path = tmp_path / "jp_full.csv"
    path.write_text(
        HEADER
        + '851830,0,standard,0,0,2016-01-01,,"Headphones","Japan tariff test extract"\n'
        + '85183000,0.01,standard,0,0,2016-01-01,,"Headphones","Japan tariff test extract"\n'
        + '8518300000,0.02,standard,0,0,2016-01-01,,"Headphones","Japan tariff test extract"\n'
    )
    book = load_tariff_csv(path, "JP")
    keys = pl.DataFrame(
        {
            "jurisdiction": ["JP", "JP", "JP"],
            "vat_jurisdiction": ["JP", "JP", "JP"],
            "hs_code": ["851830", "85183000", "8518300000"],
            "date": [date(2026, 8, 1)] * 3,
        }
    )
    out = book.resolve(keys).sort("hs_code")
    assert out.get_column("duty_rate").to_list() == [0.0, 0.01, 0.02]  # longest prefix
    assert out.get_column("tariff_digits").to_list() == [6, 8, 10]
    order, _ = kq("JP", "JPY", [("851830", 100_000)])
    assert order["exact_tariff"] is False  # a 6-digit heading is representative only
    exact_line, _ = kq("JP", "JPY", [("85183000", 100_000)], book=book)
    assert (exact_line["exact_tariff"], exact_line["duty_minor"]) == (True, 600)  # 1 % of 60,000
