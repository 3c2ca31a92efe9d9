"""Tariff tables (duty, VAT class, consumption tax by HS prefix) and dated VAT rates, as data.

The shipped tables live in ``xborder/data/tariffs`` (one CSV per jurisdiction, each row citing its
source and validity); ``load_tariff_csv`` reads a full national tariff in the same columns (8 or
10-digit national lines as well as 2, 4 and 6-digit headings). Lookups are columnar: a batch
resolves its distinct (jurisdiction, HS code, date) keys once, taking the longest matching prefix
(10, 8, 6, 4 or 2 digits) whose validity covers the date; ``tariff_digits`` says how long it was
(8 or more: an exact national tariff line).

Reduced VAT rates tied to the goods (books, food, babies' clothes...) are data too
(``vat_reduced.csv``: jurisdiction, heading prefix, rate, validity, source), resolved by the
longest prefix for the VAT jurisdiction (an EU member state, GB, JP, AU...) and overriding the
class rate; where no reduced row matches, the class rate (standard) applies. A reduced rate that
depends on more than the heading (UK children's clothes by size) is not shipped: the caller gives
``vat_rate`` on the line.
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
REDUCED_COLUMNS = (
    "jurisdiction",
    "heading",
    "rate_class",
    "rate",
    "valid_from",
    "valid_to",
    "description",
    "source",
)
SHIPPED = {
    "CN": "cn.csv",
    "EU": "eu.csv",
    "GB": "gb.csv",
    "US": "us.csv",
    "JP": "jp.csv",
    "KR": "kr.csv",
    "CA": "ca.csv",
    "AU": "au.csv",
}
PREFIX_LENGTHS = (10, 8, 6, 4, 2)
EXACT_DIGITS = 8  # a national tariff line (CN 8, HTS 10, TARIC 10...), not a heading
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
    bad = ~heading.str.contains(r"^(\d{2}|\d{4}|\d{6}|\d{8}|\d{10})$") | heading.is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InvalidValue(
            f"{where} row {row + 1} heading",
            "must be 2, 4, 6, 8 or 10 digits",
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


def parse_reduced(text: str, where: str = "vat_reduced") -> pl.DataFrame:
    """Reduced VAT rates by heading prefix (``REDUCED_COLUMNS``) as a normalised frame."""
    frame = _frame(text, where)
    missing = [c for c in REDUCED_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidValue(where, f"missing columns {', '.join(missing)}")
    heading = frame.get_column("heading").str.replace_all(r"[.\s]", "")
    bad = ~heading.str.contains(r"^\d{2,10}$") | heading.is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InvalidValue(f"{where} row {row + 1} heading", "must be 2 to 10 digits")
    frame = _dates(frame.with_columns(heading.alias("heading")), where).with_columns(
        _rate(frame, "rate", where, required=True)
    )
    return frame.select(
        "jurisdiction",
        pl.col("heading").alias("prefix"),
        "from",
        "to",
        pl.col("rate").alias("reduced_rate"),
        pl.col("rate_class").fill_null("reduced"),
        pl.col("source").fill_null("").alias("reduced_source"),
    )


def _shipped(name: str) -> str:
    return resources.files("xborder").joinpath("data", "tariffs", name).read_text(encoding="utf-8")


def _longest_prefix(
    keys: pl.DataFrame, table: pl.DataFrame, key_cols: list[str], on: list[tuple[str, str]]
) -> pl.DataFrame:
    """Per key, the row of ``table`` whose ``prefix`` is the longest prefix of ``hs_code`` and
    whose validity covers ``date`` (``on``: key column, table column pairs to match besides)."""
    found = []
    for length in sorted({int(n) for n in table.get_column("prefix").str.len_chars().unique()}):
        part = (
            keys.with_columns(pl.col("hs_code").str.slice(0, length).alias("prefix"))
            .join(
                table.filter(pl.col("prefix").str.len_chars() == length),
                left_on=[k for k, _ in on] + ["prefix"],
                right_on=[t for _, t in on] + ["prefix"],
                how="inner",
            )
            .filter(
                (pl.col("hs_code").str.len_chars() >= length)
                & (pl.col("from") <= pl.col("date"))
                & (pl.col("date") <= pl.col("to"))
            )
        )
        found.append(part.with_columns(pl.lit(length).alias("priority")))
    if not found:
        return keys.clear().with_columns(pl.lit(0).alias("priority"))
    return (
        pl.concat(found, how="diagonal_relaxed")
        .sort("priority", descending=True)
        .unique(subset=key_cols, keep="first")
    )


@dataclass(frozen=True, slots=True)
class TariffBook:
    """All tariff rows (any jurisdiction), the dated VAT rates and the reduced rates by heading."""

    tariffs: pl.DataFrame
    vat: pl.DataFrame
    reduced: pl.DataFrame | None = None

    def with_tariff(self, frame: pl.DataFrame) -> TariffBook:
        """This book with ``frame``'s jurisdiction replaced by it (a full national tariff)."""
        jurisdictions = frame.get_column("jurisdiction").unique().to_list()
        kept = self.tariffs.filter(~pl.col("jurisdiction").is_in(jurisdictions))
        return TariffBook(pl.concat([kept, frame]), self.vat, self.reduced)

    def resolve(self, keys: pl.DataFrame) -> pl.DataFrame:
        """Rates for distinct keys (``jurisdiction``, ``vat_jurisdiction``, ``hs_code``, ``date``).

        Adds ``duty_rate`` (null: no ad valorem rate known), ``vat_rate``, ``ct_rate``,
        ``ct_high_end_rate``, ``tariff_source``, ``tariff_digits`` (length of the matched
        prefix) and ``vat_source``; unknown headings give nulls. A reduced rate of the VAT
        jurisdiction for the heading replaces the class rate (and names its source).
        """
        key_cols = ["jurisdiction", "vat_jurisdiction", "hs_code", "date"]
        keys = keys.select(key_cols).unique()
        best = _longest_prefix(
            keys, self.tariffs, key_cols, [("jurisdiction", "jurisdiction")]
        ).select(
            *key_cols,
            "duty_rate",
            "vat_class",
            "ct_rate",
            "ct_high_end_rate",
            pl.col("source").alias("tariff_source"),
            pl.col("priority").cast(pl.Int64).alias("tariff_digits"),
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
        if self.reduced is not None and self.reduced.height:
            reduced = _longest_prefix(
                with_vat.select(key_cols),
                self.reduced,
                key_cols,
                [("vat_jurisdiction", "jurisdiction")],
            ).select(*key_cols, "reduced_rate", "reduced_source", "rate_class")
            with_vat = (
                with_vat.join(reduced, on=key_cols, how="left")
                .with_columns(
                    pl.coalesce("reduced_rate", "vat_rate").alias("vat_rate"),
                    pl.when(pl.col("reduced_rate").is_not_null())
                    .then(pl.col("reduced_source"))
                    .otherwise(pl.col("vat_source"))
                    .alias("vat_source"),
                )
                .drop("reduced_rate", "reduced_source", "rate_class")
            )
        return keys.join(with_vat, on=key_cols, how="left")


@cache
def shipped_book() -> TariffBook:
    """The tariff tables shipped in the package, the VAT rates and the reduced rates."""
    frames = [
        parse_tariff(_shipped(name), code, f"tariffs/{name}") for code, name in SHIPPED.items()
    ]
    return TariffBook(
        pl.concat(frames),
        parse_vat(_shipped("vat_rates.csv"), "tariffs/vat_rates.csv"),
        parse_reduced(_shipped("vat_reduced.csv"), "tariffs/vat_reduced.csv"),
    )


def load_tariff_csv(path: Path, jurisdiction: str, book: TariffBook | None = None) -> TariffBook:
    """A book with ``jurisdiction``'s tariff replaced by a full national tariff CSV."""
    if jurisdiction not in SHIPPED:
        raise InvalidValue("jurisdiction", f"must be one of {', '.join(SHIPPED)}", jurisdiction)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidValue("tariff file", f"cannot be read: {exc.strerror}", str(path)) from None
    return (book or shipped_book()).with_tariff(parse_tariff(text, jurisdiction, str(path)))
