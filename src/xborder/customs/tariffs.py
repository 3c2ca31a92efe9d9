"""Tariff tables (duty, VAT class, consumption tax by HS prefix) and dated VAT rates, as data.

The shipped tables live in ``xborder/data/tariffs`` (one CSV per jurisdiction, each row citing its
source and validity); ``load_tariff_csv`` reads a full national tariff in the same columns. Lookups
are columnar: a batch resolves its distinct (jurisdiction, HS code, date) keys once, taking the
longest matching prefix (6, 4 or 2 digits) whose validity covers the date.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from xborder.domain.errors import InvalidValue

TARIFF_COLUMNS = (
    "heading",
    "duty_rate",
    "vat_class",
    "ct_rate",
    "ct_high_end_rate",
    "valid_from",
    "valid_to",
    "description",
    "source",
)
VAT_COLUMNS = ("jurisdiction", "vat_class", "rate", "valid_from", "valid_to", "source")
SHIPPED = {"CN": "cn.csv", "EU": "eu.csv", "GB": "gb.csv", "US": "us.csv"}
PREFIX_LENGTHS = (6, 4, 2)
MAX_RATE = 10.0  # 1,000 %: anything above is a data error, not a tariff


def _frame(text: str, where: str) -> pl.DataFrame:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    try:
        return pl.read_csv(io.StringIO(body), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise InvalidValue(where, f"not a readable CSV: {exc}") from None


def _rate(frame: pl.DataFrame, name: str, where: str, *, required: bool) -> pl.Series:
    values = frame.get_column(name).str.strip_chars()
    parsed = values.cast(pl.Float64, strict=False)
    bad = (
        (values.is_not_null() & (values != "") & parsed.is_null())
        | (parsed < 0)
        | (parsed > MAX_RATE)
    )
    if required:
        bad = bad | parsed.is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InvalidValue(
            f"{where} row {row + 1} {name}", "must be a rate between 0 and 10", values[row]
        )
    return parsed


def _dates(frame: pl.DataFrame, where: str) -> pl.DataFrame:
    result = frame.with_columns(
        pl.col("valid_from").str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("from"),
        pl.when(pl.col("valid_to").is_null() | (pl.col("valid_to") == ""))
        .then(pl.lit(date.max))
        .otherwise(pl.col("valid_to").str.strptime(pl.Date, "%Y-%m-%d", strict=False))
        .alias("to"),
    )
    bad = result.get_column("from").is_null() | result.get_column("to").is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InvalidValue(f"{where} row {row + 1} valid_from/valid_to", "must be YYYY-MM-DD dates")
    return result


def parse_tariff(text: str, jurisdiction: str, where: str = "tariff") -> pl.DataFrame:
    """A tariff CSV (``TARIFF_COLUMNS``) as a normalised frame for one jurisdiction."""
    frame = _frame(text, where)
    missing = [c for c in TARIFF_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidValue(where, f"missing columns {', '.join(missing)}")
    heading = frame.get_column("heading").str.replace_all(r"[.\s]", "")
    bad = ~heading.str.contains(r"^(\d{2}|\d{4}|\d{6})$") | heading.is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InvalidValue(
            f"{where} row {row + 1} heading",
            "must be 2, 4 or 6 digits",
            frame.get_column("heading")[row],
        )
    frame = _dates(frame.with_columns(heading.alias("heading")), where).with_columns(
        _rate(frame, "duty_rate", where, required=False),
        _rate(frame, "ct_rate", where, required=False).fill_null(0.0),
        _rate(frame, "ct_high_end_rate", where, required=False).fill_null(0.0),
    )
    return frame.select(
        pl.lit(jurisdiction).alias("jurisdiction"),
        pl.col("heading").alias("prefix"),
        "from",
        "to",
        "duty_rate",
        pl.col("vat_class").fill_null("standard"),
        "ct_rate",
        "ct_high_end_rate",
        pl.col("source").fill_null(""),
    )


def parse_vat(text: str, where: str = "vat_rates") -> pl.DataFrame:
    frame = _frame(text, where)
    missing = [c for c in VAT_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidValue(where, f"missing columns {', '.join(missing)}")
    frame = _dates(frame, where).with_columns(_rate(frame, "rate", where, required=True))
    return frame.select(
        "jurisdiction",
        "vat_class",
        "from",
        "to",
        pl.col("rate").alias("vat_rate"),
        pl.col("source").fill_null("").alias("vat_source"),
    )


def _shipped(name: str) -> str:
    return resources.files("xborder").joinpath("data", "tariffs", name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class TariffBook:
    """All tariff rows (any jurisdiction) and the dated VAT rates."""

    tariffs: pl.DataFrame
    vat: pl.DataFrame

    def with_tariff(self, frame: pl.DataFrame) -> TariffBook:
        """This book with ``frame``'s jurisdiction replaced by it (a full national tariff)."""
        jurisdictions = frame.get_column("jurisdiction").unique().to_list()
        kept = self.tariffs.filter(~pl.col("jurisdiction").is_in(jurisdictions))
        return TariffBook(pl.concat([kept, frame]), self.vat)

    def resolve(self, keys: pl.DataFrame) -> pl.DataFrame:
        """Rates for distinct keys (``jurisdiction``, ``vat_jurisdiction``, ``hs_code``, ``date``).

        Adds ``duty_rate`` (null: no ad valorem rate known), ``vat_rate``, ``ct_rate``,
        ``ct_high_end_rate``, ``tariff_source`` and ``vat_source``; unknown headings give nulls.
        """
        key_cols = ["jurisdiction", "vat_jurisdiction", "hs_code", "date"]
        keys = keys.select(key_cols).unique()
        found = []
        for length in PREFIX_LENGTHS:
            part = (
                keys.with_columns(pl.col("hs_code").str.slice(0, length).alias("prefix"))
                .join(
                    self.tariffs.filter(pl.col("prefix").str.len_chars() == length),
                    on=["jurisdiction", "prefix"],
                    how="inner",
                )
                .filter((pl.col("from") <= pl.col("date")) & (pl.col("date") <= pl.col("to")))
            )
            found.append(part.with_columns(pl.lit(length).alias("priority")))
        best = (
            pl.concat(found)
            .sort("priority", descending=True)
            .unique(subset=key_cols, keep="first")
            .select(
                *key_cols,
                "duty_rate",
                "vat_class",
                "ct_rate",
                "ct_high_end_rate",
                pl.col("source").alias("tariff_source"),
            )
        )
        with_vat = (
            best.join(
                self.vat,
                left_on=["vat_jurisdiction", "vat_class"],
                right_on=["jurisdiction", "vat_class"],
                how="left",
            )
            .filter(
                pl.col("from").is_null()
                | ((pl.col("from") <= pl.col("date")) & (pl.col("date") <= pl.col("to")))
            )
            .unique(subset=key_cols, keep="first")
            .drop("from", "to")
        )
        return keys.join(with_vat, on=key_cols, how="left")


@cache
def shipped_book() -> TariffBook:
    """The tariff tables shipped in the package (CN, EU, GB, US) and the VAT rates."""
    frames = [
        parse_tariff(_shipped(name), code, f"tariffs/{name}") for code, name in SHIPPED.items()
    ]
    return TariffBook(
        pl.concat(frames), parse_vat(_shipped("vat_rates.csv"), "tariffs/vat_rates.csv")
    )


def load_tariff_csv(path: Path, jurisdiction: str, book: TariffBook | None = None) -> TariffBook:
    """A book with ``jurisdiction``'s tariff replaced by a full national tariff CSV."""
    if jurisdiction not in SHIPPED:
        raise InvalidValue("jurisdiction", "must be one of CN, EU, GB, US", jurisdiction)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidValue("tariff file", f"cannot be read: {exc.strerror}", str(path)) from None
    return (book or shipped_book()).with_tariff(parse_tariff(text, jurisdiction, str(path)))
