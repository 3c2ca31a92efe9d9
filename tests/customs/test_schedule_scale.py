"""A full national tariff schedule at scale: about 20,000 HS lines down to 8 and 10 digits.

The schedule is generated here (deterministic; every level from chapters to 10-digit national
lines, some 10-digit lines expired), written as a CSV in the shipped columns and loaded with
``load_tariff_csv``. Quotes must resolve the longest prefix in force on the date, checked against
a plain dictionary walk over the same rows; ``benchmarks/bench_customs.py`` reuses the generator
to time the bulk quote with the full schedule loaded.
"""

from __future__ import annotations

import random
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from xborder.customs.quote_kernel import LINE_SCHEMA, ORDER_SCHEMA, quote_frames
from xborder.customs.tariffs import TARIFF_COLUMNS, TariffBook, load_tariff_csv

DAY = date(2026, 7, 15)
VALID_FROM = "2020-01-01"
EXPIRED_TO = "2025-12-31"  # some 10-digit lines ended before DAY: their 8-digit parent applies
CHAPTERS = [f"{c:02d}" for c in range(1, 98) if c != 77]  # chapter 77 is reserved


def _rate(code: str) -> str:
    """A distinct-looking rate per line (0 to 24.99 %), exact in four decimals."""
    return f"{int(code) * 7919 % 2500 / 10000:.4f}"


def schedule_rows(seed: int = 2026) -> list[dict[str, str]]:
    """About 20,000 rows of a US-style schedule (VAT class "none"): 96 chapters, ~12 headings
    each, 2 subheadings per heading, 4 national 8-digit lines per subheading and about one
    10-digit statistical line per 8-digit line (one in twelve of them expired). Every row cites
    its (generated) source so a test can tell which row a quote used."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []

    def add(code: str, valid_to: str = "") -> None:
        rows.append({
            "heading": code, "duty_rate": _rate(code), "vat_class": "none", "ct_rate": "",
            "ct_high_end_rate": "", "valid_from": VALID_FROM, "valid_to": valid_to,
            "description": f"generated line {code}", "source": f"generated {code}",
        })  # fmt: skip

    for chapter in CHAPTERS:
        add(chapter)
        for heading in rng.sample(range(1, 100), 12):
            h4 = f"{chapter}{heading:02d}"
            add(h4)
            for sub in rng.sample(range(10, 100), 2):
                h6 = f"{h4}{sub:02d}"
                add(h6)
                for national in rng.sample(range(10, 100), 4):
                    h8 = f"{h6}{national:02d}"
                    add(h8)
                    if rng.random() < 0.92:
                        add(f"{h8}{rng.randrange(10, 100):02d}",
                            EXPIRED_TO if rng.random() < 1 / 12 else "")  # fmt: skip
    return rows


def write_schedule(path: Path, rows: list[dict[str, str]]) -> Path:
    pl.DataFrame(rows, schema=dict.fromkeys(TARIFF_COLUMNS, pl.String)).write_csv(path)
    return path


def live_headings(rows: list[dict[str, str]], on: date) -> set[str]:
    """The headings of the schedule in force on ``on``."""
    return {
        r["heading"] for r in rows
        if date.fromisoformat(r["valid_from"]) <= on
        and (not r["valid_to"] or on <= date.fromisoformat(r["valid_to"]))
    }  # fmt: skip


def reference_prefix(live: set[str], code: str) -> str | None:
    """The plain answer: the longest heading in force that prefixes ``code``."""
    return next((code[:n] for n in (10, 8, 6, 4, 2) if code[:n] in live), None)


def probe_codes(rows: list[dict[str, str]], n: int, seed: int = 7) -> list[str]:
    """10-digit codes to quote: exact lines, unknown statistical suffixes under known 8-digit
    lines, unknown 8-digit lines under known subheadings, and headings only known as chapters."""
    rng = random.Random(seed)
    by_len: dict[int, list[str]] = {}
    for r in rows:
        by_len.setdefault(len(r["heading"]), []).append(r["heading"])
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(rng.choice(by_len[10]))
        elif kind == 1:
            out.append(rng.choice(by_len[8]) + "00")
        elif kind == 2:
            out.append(rng.choice(by_len[6]) + "0000")
        else:
            out.append(rng.choice(by_len[2]) + "000000" + "01")
    return out


@pytest.fixture(scope="module")
def schedule(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, str]], TariffBook]:
    rows = schedule_rows()
    path = write_schedule(tmp_path_factory.mktemp("tariff") / "us-full.csv", rows)
    t0 = time.perf_counter()
    book = load_tariff_csv(path, "US")
    print(f"loaded {len(rows):,} lines in {time.perf_counter() - t0:.2f} s")
    return rows, book


def test_the_generated_schedule_is_full_size(schedule: tuple[list[dict[str, str]], Any]) -> None:
    rows, book = schedule
    assert 19_000 <= len(rows) <= 23_000
    lengths = {len(r["heading"]) for r in rows}
    assert lengths == {2, 4, 6, 8, 10}
    us = book.tariffs.filter(pl.col("jurisdiction") == "US")
    assert us.height == len(rows)  # the national schedule replaced the shipped US headings
    assert book.tariffs.filter(pl.col("jurisdiction") == "CN").height > 0  # others kept


def test_resolution_takes_the_longest_prefix_in_force(schedule: tuple[list[Any], Any]) -> None:
    rows, book = schedule
    codes = probe_codes(rows, 4_000)
    keys = pl.DataFrame({"hs_code": codes}).with_columns(
        pl.lit("US").alias("jurisdiction"), pl.lit("US").alias("vat_jurisdiction"),
        pl.lit(DAY).alias("date"),
    )  # fmt: skip
    resolved = book.resolve(keys)
    got = dict(zip(resolved.get_column("hs_code"), resolved.get_column("tariff_source"),
                   strict=True))  # fmt: skip
    expired = {r["heading"] for r in rows if r["valid_to"]}
    checked = {"exact": 0, "fallback": 0, "expired": 0}
    live = live_headings(rows, DAY)
    for code in set(codes):
        want = reference_prefix(live, code)
        assert want is not None
        assert got[code] == f"generated {want}", code
        checked["exact" if len(want) == 10 else "fallback"] += 1
        checked["expired"] += code in expired
    assert all(checked.values()), checked  # every kind of case was exercised
    # before the expiry the expired 10-digit lines still applied
    old = book.resolve(keys.with_columns(pl.lit(date(2025, 6, 1)).alias("date")))
    old_src = dict(zip(old.get_column("hs_code"), old.get_column("tariff_source"), strict=True))
    for code in set(codes) & expired:
        assert old_src[code] == f"generated {code}"


def test_bulk_quote_uses_the_national_lines(schedule: tuple[list[Any], Any]) -> None:
    rows, book = schedule
    codes = probe_codes(rows, 400, seed=11)
    n = len(codes)
    orders = pl.DataFrame({
        "rec": range(n), "date": [DAY] * n, "origin": ["GB"] * n, "destination": ["US"] * n,
        "incoterm": ["DDP"] * n, "currency": ["USD"] * n, "fx": [None] * n,
        "freight_minor": [0] * n, "insurance_minor": [0] * n, "customs_mode": [None] * n,
        "annual_before_minor": [None] * n,
    }).cast(ORDER_SCHEMA)  # fmt: skip
    lines = pl.DataFrame({
        "rec": range(n), "line": [1] * n, "hs_code": codes, "qty": [1] * n,
        "unit_minor": [250_000] * n, "duty_rate": [None] * n, "vat_rate": [None] * n,
        "ct_rate": [None] * n, "high_end": [False] * n,
    }).cast(LINE_SCHEMA)  # fmt: skip
    result = quote_frames(orders, lines, book)
    assert result.orders.get_column("error").is_null().all()
    out = result.lines.sort("rec")
    live = live_headings(rows, DAY)
    for code, source in zip(out.get_column("hs_code"), out.get_column("tariff_source"),
                            strict=True):  # fmt: skip
        assert source == f"generated {reference_prefix(live, code)}"
    if "exact_tariff" in result.orders.columns:  # R's kernel: 8+ digit lines are exact
        exact = result.orders.join(out.select("rec", "tariff_source"), on="rec")
        for flag, source in zip(exact.get_column("exact_tariff"),
                                exact.get_column("tariff_source"), strict=True):  # fmt: skip
            assert bool(flag) == (len(source.split()[-1]) >= 8)
