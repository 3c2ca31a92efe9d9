"""Fees of an import: processing fees, carrier disbursement fees, national handling fees.

Each fee is a dated row of ``data/tariffs/fees.csv`` with its conditions (importer, origins,
channels, incoterms, a value band), its amount (flat, ad valorem with min/max, or a percentage of
the duties and taxes advanced) and its source; unverified rows are left off unless a caller asks
for ``include_unverified``. ``with_fees`` is columnar and works on DISTINCT keys (as the tariff
lookup and the measures do): the conditions that do not depend on the amounts (importer, date,
origin, channel, incoterm, currency) are decided once per distinct (``FEE_KEY``) key -- a batch of a
million orders has a few dozen -- and only the candidate fees of its key are joined to an order,
whose value band and amounts are then checked. Amounts are rounded half-up exactly to the minor
unit (the kernel's ``round_half_up``), then held within min/max.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Final

import numpy as np
import polars as pl

from xborder.customs.measures import (
    ALL,
    MAX_RATE,
    dated,
    importer_keys,
    in_force,
    origin_ok,
    read_rows,
    split_list,
)
from xborder.customs.quote_kernel import exact, round_half_up
from xborder.domain.errors import InvalidValue

FEE_COLUMNS: Final = (
    "id",
    "importer",
    "origins",
    "exclude_origins",
    "channels",
    "incoterms",
    "value_base",
    "value_from_minor",
    "value_to_minor",
    "kind",
    "rate",
    "amount_minor",
    "min_minor",
    "max_minor",
    "currency",
    "valid_from",
    "valid_to",
    "verified",
    "source",
    "note",
)
FEE_KINDS: Final = ("flat", "ad_valorem", "percent_of_tax")
MAX_BITS: Final = 62  # fee ids named per order through an Int64 bit set (``_fee_ids``)
VALUE_BASES: Final = {"goods": "goods_minor", "customs_value": "customs_value_minor"}


def _check(frame: pl.DataFrame, mask: pl.Series, where: str, column: str, reason: str) -> None:
    if mask.fill_null(True).any():
        row = int(mask.fill_null(True).arg_true()[0])
        raise InvalidValue(f"{where} row {row + 1} {column}", reason, frame.get_column(column)[row])


def parse_fees(text: str, where: str = "fees") -> pl.DataFrame:
    """A fees CSV (``FEE_COLUMNS``) as a normalised frame, one row per fee row."""
    raw = read_rows(text, where, FEE_COLUMNS)
    _check(raw, raw.get_column("id").fill_null("") == "", where, "id", "is required")
    kinds = raw.get_column("kind")
    _check(raw, ~kinds.is_in(list(FEE_KINDS)), where, "kind", f"must be one of {FEE_KINDS}")
    bases = raw.get_column("value_base")
    _check(raw, ~bases.is_in(list(VALUE_BASES)), where, "value_base", "goods or customs_value")
    _check(raw, raw.get_column("currency").fill_null("") == "", where, "currency", "is required")
    frame = dated(raw, where)
    ints = ("value_from_minor", "value_to_minor", "amount_minor", "min_minor", "max_minor")
    for name in ints:
        text_col = frame.get_column(name).fill_null("")
        parsed = text_col.cast(pl.Int64, strict=False)
        _check(frame, (text_col != "") & (parsed.is_null() | (parsed < 0)), where, name, "whole")
    rate = frame.get_column("rate").cast(pl.Float64, strict=False)
    needs_rate = kinds != "flat"
    _check(
        frame, needs_rate & (rate.is_null() | (rate < 0) | (rate > MAX_RATE)), where, "rate", "0-10"
    )
    amount = frame.get_column("amount_minor").cast(pl.Int64, strict=False)
    _check(frame, (kinds == "flat") & amount.is_null(), where, "amount_minor", "required for flat")
    return frame.with_row_index("row").select(
        "row",
        "id",
        "importer",
        split_list("origins").alias("origins"),
        split_list("exclude_origins").alias("exclude_origins"),
        split_list("channels").alias("channels"),
        split_list("incoterms").alias("incoterms"),
        "value_base",
        *(pl.col(n).cast(pl.Int64, strict=False) for n in ints),
        "kind",
        pl.col("rate").cast(pl.Float64, strict=False),
        "currency",
        "from",
        "to",
        "verified",
        pl.col("source").fill_null(""),
        pl.col("note").fill_null(""),
    )


@cache
def shipped_fees() -> pl.DataFrame:
    text = resources.files("xborder").joinpath("data", "tariffs", "fees.csv")
    return parse_fees(text.read_text(encoding="utf-8"), "tariffs/fees.csv")


def _listed(column: str, value: pl.Expr) -> pl.Expr:
    return pl.col(column).list.contains(pl.lit(ALL)) | pl.col(column).list.contains(value)


FEE_KEY: Final = ("date", "regime", "destination", "origin", "channel", "incoterm", "tax_currency")
"""What decides which fee rows are candidates for an order (its amounts decide the rest)."""


def key_candidates(keys: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """Every (key, fee row) pair whose importer, date, origin, channel, incoterm and currency
    conditions hold (``keys``: distinct ``FEE_KEY`` rows)."""
    return (
        importer_keys(keys.select(FEE_KEY))
        .join(table, on="importer", how="inner")
        .filter(
            in_force(pl.col("date"))
            & origin_ok(pl.col("origin"))
            & _listed("channels", pl.col("channel"))
            & _listed("incoterms", pl.col("incoterm"))
            & (pl.col("currency") == pl.col("tax_currency"))
        )
    )


def fee_matches(
    orders: pl.DataFrame, table: pl.DataFrame | None = None, *, include_unverified: bool = False
) -> pl.DataFrame:
    """Every (order, fee row) pair where the fee applies, one per order and fee id (a verified
    row before an unverified one): ``rec``, the ``FEE_KEY`` columns, the fee row's columns, its
    ``value`` and ``fee_minor``."""
    table = shipped_fees() if table is None else table
    table = table if include_unverified else table.filter(pl.col("verified"))
    ok = orders.filter(pl.col("error").is_null() & pl.col("regime").is_not_null())
    candidates = key_candidates(ok.select(FEE_KEY).unique(), table)
    amounts = ("goods_minor", "customs_value_minor", "total_tax_minor")
    pairs = ok.select("rec", *FEE_KEY, *amounts).join(
        candidates, on=list(FEE_KEY), how="inner", nulls_equal=True
    )
    value = (
        pl.when(pl.col("value_base") == "goods")
        .then(pl.col("goods_minor"))
        .otherwise(pl.col("customs_value_minor"))
        .fill_null(0)
    )
    tax = pl.col("total_tax_minor").fill_null(0)
    pairs = pairs.with_columns(value.alias("value")).filter(
        (pl.col("value") >= pl.col("value_from_minor").fill_null(0))
        & (pl.col("value") <= pl.col("value_to_minor").fill_null(np.iinfo(np.int64).max))
        & ((pl.col("kind") != "percent_of_tax") | (tax > 0))
    )
    # A pair per (order, id) already unless a key has two rows of one id or a rec repeats.
    repeats = candidates.select(*FEE_KEY, "id").is_duplicated().any()
    if repeats or ok.get_column("rec").n_unique() != ok.height:
        pairs = pairs.sort(["verified", "row"], descending=[True, False], maintain_order=True)
        pairs = pairs.unique(subset=["rec", "id"], keep="first", maintain_order=True)
    return pairs.with_columns(pl.Series("fee_minor", _amounts(pairs), dtype=pl.Int64))


def _fee_ids(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per ``rec`` of ``pairs`` (one per rec and id): ``fees_minor`` and ``fee_ids`` (the ids
    sorted, joined by ``,``). The ids are summed as bits and the few distinct sets named once:
    joining strings per order costs more than the rest of the fees together."""
    ids = sorted(pairs.get_column("id").unique().to_list())
    if len(ids) > MAX_BITS:
        return pairs.group_by("rec").agg(
            pl.col("fee_minor").sum().cast(pl.Int64).alias("fees_minor"),
            pl.col("id").unique().sort().str.join(",").alias("fee_ids"),
        )
    bit = pl.col("id").replace_strict({i: 1 << n for n, i in enumerate(ids)}, return_dtype=pl.Int64)
    per_order = pairs.group_by("rec").agg(
        pl.col("fee_minor").sum().cast(pl.Int64).alias("fees_minor"), bit.sum().alias("_set")
    )
    sets = per_order.get_column("_set").unique().to_list()
    names = {m: ",".join(i for n, i in enumerate(ids) if m >> n & 1) for m in sets}
    return per_order.select(
        "rec",
        "fees_minor",
        pl.col("_set").replace_strict(names, return_dtype=pl.String).alias("fee_ids"),
    )


def _amounts(pairs: pl.DataFrame) -> np.ndarray:
    kind = pairs.get_column("kind")
    rate = pairs.get_column("rate").fill_null(0.0).to_numpy()
    tax = pairs.get_column("total_tax_minor").fill_null(0).to_numpy()
    on_tax = (kind == "percent_of_tax").to_numpy()
    base = np.where(on_tax, tax, pairs.get_column("value").to_numpy())

    def exact_at(i: int) -> Fraction:
        return exact(float(rate[i])) * int(base[i])

    computed = round_half_up(base.astype(np.float64) * rate, exact_at)
    flat = pairs.get_column("amount_minor").fill_null(0).to_numpy()
    amount = np.where((kind == "flat").to_numpy(), flat, computed)
    low = pairs.get_column("min_minor").fill_null(0).to_numpy()
    high = pairs.get_column("max_minor").fill_null(np.iinfo(np.int64).max).to_numpy()
    clamped: np.ndarray = np.minimum(np.maximum(amount, low), high).astype(np.int64)
    return clamped


def with_fees(
    orders: pl.DataFrame,
    *,
    table: pl.DataFrame | None = None,
    include_unverified: bool = False,
) -> pl.DataFrame:
    """Add ``fees_minor`` (Int64, tax-currency minor units) and ``fee_ids`` (String: ids joined
    by ``,``; null where none).

    Reads: rec, date, regime, destination, origin, channel, incoterm, goods_minor,
    customs_value_minor, duty_minor, additional_duty_minor, total_tax_minor, tax_currency, error.
    ``table``: fee rows (``parse_fees``) instead of the shipped ones; ``include_unverified``: also
    the rows marked ``verified=no``.
    """
    base = orders.drop([c for c in ("fees_minor", "fee_ids") if c in orders.columns])
    pairs = fee_matches(base, table, include_unverified=include_unverified)
    per_order = _fee_ids(pairs)
    return base.join(per_order, on="rec", how="left", maintain_order="left").with_columns(
        pl.col("fees_minor").fill_null(0).cast(pl.Int64)
    )


def fee_rows(table: pl.DataFrame | None = None) -> dict[str, list[dict[str, object]]]:
    """The rows of each fee id (for the explanation)."""
    table = shipped_fees() if table is None else table
    out: dict[str, list[dict[str, object]]] = {}
    for row in table.sort("row").iter_rows(named=True):
        out.setdefault(row["id"], []).append(row)
    return out
