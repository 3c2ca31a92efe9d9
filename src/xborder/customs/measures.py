"""Additional duties as dated measures: Section 301, IEEPA, Section 122, anti-dumping, levies.

A measure is (country of import, origin countries, HS scope, ad valorem rate or specific amount per
unit, valid from/to, source). The facts live in ``data/tariffs/measures*.csv``, one row per measure
and HS scope, each citing its source and saying whether it was verified; unverified rows are left
off unless a caller asks for ``include_unverified`` (the explanation does, to tell an estimate).

``with_additional_duties`` is columnar and works on DISTINCT keys, the way the tariff lookup does
(``TariffBook.resolve``): which measures apply depends only on (date, regime, destination, origin,
HS code), and a batch of a million lines has a few hundred such keys. The keys join the measure
rows on (importer, HS prefix) once per prefix length present in the table, then filter on date
and origin; exclusions are prefix joins too. Each key's result (its ad valorem rates, the sum of
its specific amounts per unit, its measure ids) is joined back to the lines once. A line gets the
duty of every measure in force on its date; each (line, measure) amount is rounded half-up exactly
to the minor unit (the kernel's ``round_half_up``); the line's additional duty is the sum. An
additional duty does not enter the VAT base in this model (the US, where these apply, has no VAT).
"""

from __future__ import annotations

import io
from datetime import date
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Final

import numpy as np
import polars as pl

from xborder.customs.quote_kernel import exact, round_half_up
from xborder.customs.regimes import EU_MEMBERS, TAX_CURRENCY
from xborder.domain.errors import InvalidValue

MEASURE_COLUMNS: Final = (
    "id",
    "importer",
    "origins",
    "exclude_origins",
    "hs_prefixes",
    "exclude_prefixes",
    "kind",
    "rate",
    "amount_minor",
    "currency",
    "valid_from",
    "valid_to",
    "verified",
    "source",
    "note",
)
KINDS: Final = ("ad_valorem", "specific")
SHIPPED_MEASURES: Final = ("measures_us.csv",)
ALL: Final = "*"
MAX_RATE: Final = 10.0


def read_rows(text: str, where: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """A CSV with ``#`` comment lines as text columns, every column of ``columns`` present."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    try:
        frame = pl.read_csv(io.StringIO(body), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise InvalidValue(where, f"not a readable CSV: {exc}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidValue(where, f"missing columns {', '.join(missing)}")
    return frame.select(pl.col(c).str.strip_chars() for c in columns)


def _bad(frame: pl.DataFrame, mask: pl.Series, where: str, column: str, reason: str) -> None:
    if mask.fill_null(True).any():
        row = int(mask.fill_null(True).arg_true()[0])
        raise InvalidValue(f"{where} row {row + 1} {column}", reason, frame.get_column(column)[row])


def split_list(column: str) -> pl.Expr:
    """A ``|``-separated text column as a list of codes (empty: an empty list); ``EU`` expands
    to the member states."""
    members = "|".join(sorted(EU_MEMBERS))
    return (
        pl.col(column)
        .fill_null("")
        .str.split("|")
        .list.eval(pl.when(pl.element() == "EU").then(pl.lit(members)).otherwise(pl.element()))
        .list.join("|")
        .str.split("|")
        .list.eval(pl.element().filter(pl.element() != ""))
    )


def dated(frame: pl.DataFrame, where: str) -> pl.DataFrame:
    """Parse ``valid_from``/``valid_to`` (inclusive; empty = open) and ``verified`` (yes/no)."""
    out = frame.with_columns(
        pl.col("valid_from").str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("from"),
        pl.when(pl.col("valid_to").fill_null("") == "")
        .then(pl.lit(date.max))
        .otherwise(pl.col("valid_to").str.strptime(pl.Date, "%Y-%m-%d", strict=False))
        .alias("to"),
        pl.col("verified").str.to_lowercase().alias("verified"),
    )
    _bad(out, out.get_column("from").is_null(), where, "valid_from", "must be a YYYY-MM-DD date")
    _bad(
        out, out.get_column("to").is_null(), where, "valid_to", "must be a YYYY-MM-DD date or empty"
    )
    _bad(out, out.get_column("to") < out.get_column("from"), where, "valid_to", "before valid_from")
    _bad(
        out,
        ~out.get_column("verified").is_in(["yes", "no"]),
        where,
        "verified",
        "must be yes or no",
    )
    return out.with_columns((pl.col("verified") == "yes").alias("verified"))


def parse_measures(text: str, where: str = "measures") -> pl.DataFrame:
    """A measures CSV (``MEASURE_COLUMNS``) as one row per (measure row, HS prefix)."""
    raw = read_rows(text, where, MEASURE_COLUMNS)
    _bad(raw, raw.get_column("id").fill_null("") == "", where, "id", "is required")
    _bad(raw, raw.get_column("importer").fill_null("") == "", where, "importer", "is required")
    _bad(
        raw,
        ~raw.get_column("kind").is_in(list(KINDS)),
        where,
        "kind",
        "must be ad_valorem or specific",
    )
    frame = dated(raw, where).with_columns(
        pl.col("rate").cast(pl.Float64, strict=False).alias("rate_f"),
        pl.col("amount_minor").cast(pl.Int64, strict=False).alias("amount_i"),
    )
    rate, kind = frame.get_column("rate_f"), frame.get_column("kind")
    bad_rate = (kind == "ad_valorem") & (rate.is_null() | (rate < 0) | (rate > MAX_RATE))
    _bad(frame, bad_rate, where, "rate", "must be a rate between 0 and 10 for ad_valorem")
    amount = frame.get_column("amount_i")
    bad_amount = (kind == "specific") & (amount.is_null() | (amount < 0))
    _bad(frame, bad_amount, where, "amount_minor", "must be whole minor units for specific")
    bad_cur = (kind == "specific") & (frame.get_column("currency").fill_null("") == "")
    _bad(frame, bad_cur, where, "currency", "is required for specific")
    prefixes = frame.get_column("hs_prefixes").fill_null("")
    bad_hs = ~prefixes.str.contains(r"^(\*|\d{2,10}(\|\d{2,10})*)$")
    _bad(frame, bad_hs, where, "hs_prefixes", "must be * or |-separated 2-10 digit prefixes")
    excluded = frame.get_column("exclude_prefixes").fill_null("")
    bad_ex = ~excluded.str.contains(r"^(\d{2,10}(\|\d{2,10})*)?$")
    _bad(
        frame, bad_ex, where, "exclude_prefixes", "must be empty or |-separated 2-10 digit prefixes"
    )
    return (
        frame.with_row_index("row")
        .with_columns(
            split_list("hs_prefixes").alias("prefix"),
            split_list("origins").alias("origins"),
            split_list("exclude_origins").alias("exclude_origins"),
            split_list("exclude_prefixes").alias("exclude_prefixes"),
        )
        .explode("prefix")
        .select(
            "row",
            "id",
            "importer",
            "origins",
            "exclude_origins",
            pl.when(pl.col("prefix") == ALL)
            .then(pl.lit(""))
            .otherwise(pl.col("prefix"))
            .alias("prefix"),
            "exclude_prefixes",
            "kind",
            pl.when(pl.col("kind") == "ad_valorem").then(pl.col("rate_f")).alias("rate"),
            pl.when(pl.col("kind") == "specific").then(pl.col("amount_i")).alias("amount_minor"),
            pl.col("currency").fill_null(""),
            "from",
            "to",
            "verified",
            pl.col("source").fill_null(""),
            pl.col("note").fill_null(""),
        )
    )


def _shipped(name: str) -> str:
    return resources.files("xborder").joinpath("data", "tariffs", name).read_text(encoding="utf-8")


@cache
def shipped_measures() -> pl.DataFrame:
    """The measures shipped in the package (US), one row per (measure row, HS prefix)."""
    return pl.concat(
        [parse_measures(_shipped(name), f"tariffs/{name}") for name in SHIPPED_MEASURES]
    )


def origin_ok(origin: pl.Expr) -> pl.Expr:
    """The row's origin list covers ``origin`` (``*`` = every origin) and does not exclude it."""
    listed = pl.col("origins").list.contains(pl.lit(ALL)) | pl.col("origins").list.contains(origin)
    return listed & ~pl.col("exclude_origins").list.contains(origin)


def in_force(on: pl.Expr) -> pl.Expr:
    return (pl.col("from") <= on) & (on <= pl.col("to"))


def importer_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` once keyed by its destination and once more by its regime where they differ
    (a measure of ``EU`` applies to every member state; one of ``IT`` to Italy only)."""
    by_destination = frame.with_columns(pl.col("destination").alias("importer"))
    by_regime = frame.filter(
        pl.col("regime").is_not_null() & (pl.col("regime") != pl.col("destination"))
    ).with_columns(pl.col("regime").alias("importer"))
    return pl.concat([by_destination, by_regime])


KEY: Final = ("date", "regime", "destination", "origin", "hs_code")
"""What decides which measures apply to a line (its amounts then depend on its base and qty)."""


def _prefix_join(keyed: pl.DataFrame, table: pl.DataFrame, on: str, column: str) -> pl.DataFrame:
    """Pairs of ``keyed`` and ``table`` rows whose ``column`` is a prefix of the key's HS code
    (and equal on ``on``): one equi-join per prefix length (the empty prefix: every code)."""
    parts = []
    for length in sorted({int(n) for n in table.get_column(column).str.len_chars().unique()}):
        rows = table.filter(pl.col(column).str.len_chars() == length)
        part = keyed.with_columns(pl.col("hs_code").str.slice(0, length).alias(column)).join(
            rows, on=[on, column], how="inner"
        )
        if length:
            part = part.filter(pl.col("hs_code").str.len_chars() >= length)
        parts.append(part)
    return pl.concat(parts) if parts else keyed.head(0).join(table.head(0), on=on, how="inner")


def _without_excluded(found: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """``found`` less the pairs whose HS code starts with one of its row's excluded prefixes."""
    excluded = (
        table.select("row", pl.col("exclude_prefixes").alias("excluded"))
        .unique("row")
        .explode("excluded")
        .drop_nulls("excluded")
    )
    if excluded.is_empty() or found.is_empty():
        return found
    found = found.with_row_index("_pair")
    hit = _prefix_join(found.select("_pair", "row", "hs_code"), excluded, "row", "excluded")
    return found.filter(~pl.col("_pair").is_in(hit.get_column("_pair").implode())).drop("_pair")


def key_matches(keys: pl.DataFrame, table: pl.DataFrame, include_unverified: bool) -> pl.DataFrame:
    """Every (key, measure) pair where the measure applies, one per key and measure id (a
    verified row before an unverified one): importer, HS prefix, date, origin, exclusions, and a
    specific amount's currency equal to the tax currency. ``keys``: distinct ``KEY`` rows."""
    table = table if include_unverified else table.filter(pl.col("verified"))
    keyed = importer_keys(keys.select(KEY))
    found = _prefix_join(keyed, table.drop("exclude_prefixes"), "importer", "prefix")
    currencies = {**dict(TAX_CURRENCY), **{c: TAX_CURRENCY["EU"] for c in EU_MEMBERS}}
    tax_currency = pl.col("importer").replace_strict(
        currencies, default=None, return_dtype=pl.String
    )
    found = found.filter(
        in_force(pl.col("date"))
        & origin_ok(pl.col("origin"))
        & ((pl.col("kind") != "specific") | (pl.col("currency") == tax_currency))
    )
    return (
        _without_excluded(found, table)
        .sort(["verified", "row"], descending=[True, False], maintain_order=True)
        .unique(subset=[*KEY, "id"], keep="first", maintain_order=True)
    )


def _per_key(keys: pl.DataFrame, table: pl.DataFrame, include_unverified: bool) -> pl.DataFrame:
    """Per key with a measure: ``measure_ids``, ``_specific`` (the specific amounts per unit,
    summed) and ``_rate0``, ``_rate1``... (its ad valorem rates, 0.0 past the key's last one)."""
    found = key_matches(keys, table, include_unverified)
    per_key = found.group_by(KEY).agg(
        pl.col("rate").filter(pl.col("kind") == "ad_valorem").alias("_rates"),
        pl.col("amount_minor").filter(pl.col("kind") == "specific").sum().alias("_specific"),
        pl.col("id").unique().sort().str.join(",").alias("measure_ids"),
    )
    width = max(per_key.get_column("_rates").list.len().to_list(), default=0)
    return per_key.select(
        *KEY,
        "measure_ids",
        pl.col("_specific").cast(pl.Int64),
        *(
            pl.col("_rates").list.get(k, null_on_oob=True).fill_null(0.0).alias(f"_rate{k}")
            for k in range(width)
        ),
    )


def _with_duties(
    lines: pl.DataFrame, table: pl.DataFrame | None, include_unverified: bool
) -> pl.DataFrame:
    """``lines`` with ``additional_duty_minor`` (null where no measure applies or the line is not
    eligible) and ``measure_ids``: measures resolved once per distinct key, joined back once."""
    table = shipped_measures() if table is None else table
    lines = lines.drop([c for c in ("additional_duty_minor", "measure_ids") if c in lines.columns])
    eligible = pl.col("ok").fill_null(False) & pl.col("regime").is_not_null()
    keys = lines.filter(eligible).select(KEY).unique()
    per_key = _per_key(keys, table, include_unverified).with_columns(pl.lit(True).alias("_ok"))
    joined = lines.with_columns(eligible.alias("_ok")).join(
        per_key, on=[*KEY, "_ok"], how="left", maintain_order="left", nulls_equal=True
    )
    at = np.flatnonzero(joined.get_column("measure_ids").is_not_null().to_numpy())
    base = joined.get_column("base_minor").fill_null(0).to_numpy()[at]
    qty = joined.get_column("qty").fill_null(0).to_numpy()[at]
    total = qty * joined.get_column("_specific").to_numpy()[at]
    rate_columns = [c for c in per_key.columns if c.startswith("_rate")]
    for column in rate_columns:
        total = total + _valorem(base, joined.get_column(column).to_numpy()[at])
    duty = np.zeros(joined.height, dtype=np.int64)
    duty[at] = total
    return joined.drop("_ok", "_specific", *rate_columns).select(
        *lines.columns,
        pl.when(pl.col("measure_ids").is_not_null())
        .then(pl.Series("additional_duty_minor", duty))
        .alias("additional_duty_minor"),
        "measure_ids",
    )


def _valorem(base: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Each line's duty at ``rate`` in minor units, rounded half-up exactly."""

    def exact_at(i: int) -> Fraction:
        return exact(float(rate[i])) * int(base[i])

    return round_half_up(base.astype(np.float64) * rate, exact_at).astype(np.int64)


def line_duties(
    lines: pl.DataFrame, table: pl.DataFrame | None = None, *, include_unverified: bool = False
) -> pl.DataFrame:
    """Per (rec, line) a measure applies to: ``additional_duty_minor`` and ``measure_ids``."""
    return (
        _with_duties(lines, table, include_unverified)
        .filter(pl.col("measure_ids").is_not_null())
        .select("rec", "line", "additional_duty_minor", "measure_ids")
    )


def with_additional_duties(
    lines: pl.DataFrame,
    *,
    table: pl.DataFrame | None = None,
    include_unverified: bool = False,
) -> pl.DataFrame:
    """Add ``additional_duty_minor`` (Int64, tax-currency minor units, 0 where no measure or the
    line is not ``ok``) and ``measure_ids`` (String: ids joined by ``,``; null where none).

    Reads: rec, line, date, regime, destination, origin, hs_code, qty, base_minor, ok.
    ``table``: measures (``parse_measures``) instead of the shipped ones; ``include_unverified``:
    also the rows marked ``verified=no``. The additional duty is not in the VAT base (module doc).
    """
    out = _with_duties(lines, table, include_unverified)
    return out.with_columns(pl.col("additional_duty_minor").fill_null(0).cast(pl.Int64))


def measure_rows(table: pl.DataFrame | None = None) -> dict[str, list[dict[str, object]]]:
    """The rows of each measure id, one per HS prefix (for the explanation): kind, rate or
    amount, validity, source."""
    table = shipped_measures() if table is None else table
    out: dict[str, list[dict[str, object]]] = {}
    for row in table.sort("row").iter_rows(named=True):
        out.setdefault(row["id"], []).append(row)
    return out
