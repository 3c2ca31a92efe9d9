"""The order rules as one columnar kernel: one order and a million go through the same code.

Input: an ``OrderBatch`` of two Polars frames with text columns as they come from a file, an API
body or a generator (amounts as exact decimal strings). Output: a ``CheckedBatch`` holding the
normalised orders and lines (amounts in integer minor units, codes upper-case, times in UTC) and
an error frame with one row per broken rule: record, source line, field, reason, value.

An order with any error, in itself or in one of its lines, is rejected whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from xborder.domain.orders import BuyerIdType, Direction, Incoterm, TradeMode
from xborder.refdata import countries, currencies, hs_subheadings

ORDER_TEXT_COLUMNS = (
    "channel", "external_id", "seller_id", "platform_id", "trade_mode", "direction", "incoterm",
    "currency", "origin_country", "buyer_name", "buyer_telephone", "buyer_id_type",
    "buyer_id_number", "buyer_email", "consignee_name", "consignee_telephone", "consignee_line1",
    "consignee_line2", "consignee_city", "consignee_region", "consignee_postcode",
    "consignee_country", "freight", "insurance", "discount", "placed_at", "promised_by",
)  # fmt: skip
LINE_TEXT_COLUMNS = ("sku", "description", "hs_code", "qty", "unit_price", "origin_country")
OPTIONAL_ORDER_COLUMNS = frozenset(
    {"platform_id", "buyer_id_type", "buyer_id_number", "buyer_email", "consignee_line2",
     "consignee_region", "freight", "insurance", "discount"}
)  # fmt: skip
UPPER_COLUMNS = frozenset(
    {"trade_mode", "incoterm", "currency", "origin_country", "consignee_country"}
)
ERROR_SCHEMA = pl.Schema({
    "rec": pl.Int64, "line": pl.Int64, "field": pl.String, "reason": pl.String, "value": pl.String,
})  # fmt: skip
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"  # GB 11643-1999, ISO 7064 MOD 11-2


@dataclass(frozen=True, slots=True)
class OrderBatch:
    """Orders (one row each, keyed by ``rec``) and their lines (``rec`` links, ``line`` locates)."""

    orders: pl.DataFrame
    lines: pl.DataFrame


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    orders: pl.DataFrame
    lines: pl.DataFrame
    errors: pl.DataFrame

    @property
    def rejected(self) -> pl.Series:
        return self.errors.get_column("rec").unique().sort()


@dataclass(frozen=True, slots=True)
class Rule:
    field: str
    ok: pl.Expr
    reason: str


def _text(frame: pl.DataFrame, names: Iterable[str]) -> pl.DataFrame:
    """Every expected column present as trimmed text (missing ones are null); '' becomes null."""
    exprs = []
    for name in names:
        col = pl.col(name).cast(pl.String) if name in frame.columns else pl.lit(None, pl.String)
        col = col.str.strip_chars()
        col = pl.when(col == "").then(None).otherwise(col)
        if name in UPPER_COLUMNS:
            col = col.str.to_uppercase()
        exprs.append(col.alias(name))
    return frame.with_columns(exprs)


def _one_of(name: str, values: Iterable[str]) -> pl.Expr:
    return pl.col(name).is_in(list(values))


def _decimal_ok(name: str) -> pl.Expr:
    return pl.col(name).str.contains(r"^\d{1,15}(\.\d+)?$")


def _minor_units(name: str, digits: pl.Expr) -> pl.Expr:
    """Exact decimal text -> integer minor units; null when not representable in the currency."""
    text = pl.col(name)
    whole = text.str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False)
    frac = text.str.extract(r"\.(\d+)$", 1).fill_null("").str.strip_chars_end("0")
    frac_len = frac.str.len_chars().cast(pl.Int64)
    frac_value = pl.when(frac_len == 0).then(0).otherwise(frac.cast(pl.Int64, strict=False))
    scale = pl.lit(10, pl.Int64).pow(digits)
    value = whole * scale + frac_value * pl.lit(10, pl.Int64).pow(digits - frac_len)
    return pl.when(_decimal_ok(name) & (frac_len <= digits)).then(value).otherwise(None)


def _timestamp(name: str) -> pl.Expr:
    text = pl.col(name).str.replace(r"[zZ]$", "+00:00").str.replace(" ", "T")
    return text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False
    )


def _resident_id_ok(name: str) -> pl.Expr:
    """China resident identity card number: 17 digits plus the MOD 11-2 check character."""
    number = pl.col(name).str.to_uppercase()
    weighted = pl.sum_horizontal(
        number.str.slice(i, 1).cast(pl.Int64, strict=False) * weight
        for i, weight in enumerate(_RESIDENT_ID_WEIGHTS)
    )
    expected = pl.lit(_RESIDENT_ID_CHECK).str.slice(weighted % 11, 1)
    return number.str.contains(r"^\d{17}[\dX]$") & (number.str.slice(17, 1) == expected)


def order_rules(known_sellers: frozenset[str] | None) -> list[Rule]:
    """The rules on the order header, in the order they are reported."""
    needs_identity = (pl.col("consignee_country") == "CN") | (pl.col("trade_mode") == "B2B")
    rules = [
        Rule(name, pl.col(name).is_not_null(), "is required")
        for name in ORDER_TEXT_COLUMNS
        if name not in OPTIONAL_ORDER_COLUMNS
    ]
    rules += [
        Rule("channel", pl.col("channel").str.len_chars() <= 64, "at most 64 characters"),
        Rule("external_id", pl.col("external_id").str.len_chars() <= 60, "at most 60 characters"),
        Rule("trade_mode", _one_of("trade_mode", TradeMode), "must be B2C or B2B"),
        Rule("direction", _one_of("direction", Direction), "must be import or export"),
        Rule("incoterm", _one_of("incoterm", Incoterm), "must be DDP or DAP"),
        Rule("currency", _one_of("currency", currencies()), "not an ISO 4217 currency code"),
        Rule("origin_country", _one_of("origin_country", countries()), "not an ISO 3166-1 code"),
        Rule("consignee_country", _one_of("consignee_country", countries()),
             "not an ISO 3166-1 code"),
        Rule("consignee_country", pl.col("consignee_country") != pl.col("origin_country"),
             "a cross-border order ships to another country than its origin"),
        Rule("direction",
             (pl.col("direction") != "import") | (pl.col("consignee_country") == "CN"),
             "an import order is consigned to CN"),
        Rule("direction",
             (pl.col("direction") != "export") | (pl.col("origin_country") == "CN"),
             "an export order leaves CN"),
        Rule("buyer_id_type", pl.col("buyer_id_type").is_not_null() | ~needs_identity,
             "buyer identity is required for orders into CN and for B2B"),
        Rule("buyer_id_number", pl.col("buyer_id_number").is_not_null() | ~needs_identity,
             "buyer identity is required for orders into CN and for B2B"),
        Rule("buyer_id_type",
             pl.col("buyer_id_type").is_null() | _one_of("buyer_id_type", BuyerIdType),
             "must be 1 (resident identity card) or 2 (other)"),
        Rule("buyer_id_number",
             (pl.col("buyer_id_type") != BuyerIdType.RESIDENT_ID.value)
             | pl.col("buyer_id_number").is_null()
             | _resident_id_ok("buyer_id_number"),
             "not a valid resident identity card number (18 characters, MOD 11-2 check)"),
        Rule("placed_at", pl.col("placed_at").is_null() | _timestamp("placed_at").is_not_null(),
             "not an ISO 8601 timestamp with a UTC offset"),
        Rule("promised_by",
             pl.col("promised_by").is_null()
             | pl.col("promised_by").str.to_date("%Y-%m-%d", strict=False).is_not_null(),
             "not an ISO 8601 date"),
        Rule("promised_by",
             pl.col("promised_by").str.to_date("%Y-%m-%d", strict=False)
             >= _timestamp("placed_at").dt.date(),
             "the delivery promise is before the order was placed"),
    ]  # fmt: skip
    for name in ("freight", "insurance", "discount"):
        rules.append(Rule(name, pl.col(name).is_null() | _decimal_ok(name),
                          "must be a non-negative decimal number"))  # fmt: skip
        rules.append(Rule(name, pl.col(name).is_null() | pl.col(f"{name}_minor").is_not_null(),
                          "has more decimal places than the currency allows"))  # fmt: skip
    if known_sellers is not None:
        rules.append(Rule("seller_id", _one_of("seller_id", known_sellers), "unknown seller"))
    return rules


def line_rules() -> list[Rule]:
    return [
        Rule("sku", pl.col("sku").is_not_null(), "is required"),
        Rule("description", pl.col("description").is_not_null(), "is required"),
        Rule("hs_code", pl.col("hs_code").is_not_null(), "is required"),
        Rule("hs_code", pl.col("hs_code").str.contains(r"^(\d{6}|\d{8}|\d{10})$"),
             "must be 6, 8 or 10 digits"),
        Rule("hs_code",
             ~pl.col("hs_code").str.contains(r"^(\d{6}|\d{8}|\d{10})$")
             | pl.col("hs_code").str.slice(0, 6).is_in(list(hs_subheadings())),
             "6-digit prefix is not an HS 2022 subheading"),
        Rule("qty", pl.col("qty").str.contains(r"^-?\d{1,9}$"), "must be a whole number"),
        Rule("qty", pl.col("qty").cast(pl.Int64, strict=False) > 0, "must be positive"),
        Rule("unit_price", _decimal_ok("unit_price"), "must be a non-negative decimal number"),
        Rule("unit_price", pl.col("unit_price_minor").is_not_null() | ~_decimal_ok("unit_price"),
             "has more decimal places than the currency allows"),
        Rule("origin_country", _one_of("origin_country", countries()), "not an ISO 3166-1 code"),
    ]  # fmt: skip


def _violations(frame: pl.DataFrame, rules: list[Rule], line: pl.Expr) -> pl.DataFrame:
    """One error row per (record, broken rule): all rules evaluated in a single pass."""
    flags = frame.select(
        pl.col("rec"), line.alias("line"),
        *(r.ok.fill_null(False).alias(f"ok{i}") for i, r in enumerate(rules)),
        *(pl.col(r.field).cast(pl.String).alias(f"v{i}") for i, r in enumerate(rules)),
    )  # fmt: skip
    parts = [
        flags.filter(~pl.col(f"ok{i}")).select(
            "rec",
            "line",
            pl.lit(r.field).alias("field"),
            pl.lit(r.reason).alias("reason"),
            pl.col(f"v{i}").alias("value"),
        )
        for i, r in enumerate(rules)
    ]
    errors = pl.concat(parts) if parts else pl.DataFrame(schema=ERROR_SCHEMA)
    return errors.cast(ERROR_SCHEMA)


def check_orders(batch: OrderBatch, known_sellers: frozenset[str] | None = None) -> CheckedBatch:
    """Validate and normalise a batch. Pure: reference sets come from the shipped data."""
    digits = {code: info.minor_units for code, info in currencies().items()}
    orders = _text(batch.orders, ORDER_TEXT_COLUMNS)
    if "rec" not in orders.columns:
        orders = orders.with_row_index("rec").with_columns(pl.col("rec").cast(pl.Int64))
    if "line" not in orders.columns:
        orders = orders.with_columns(pl.col("rec").alias("line"))
    orders = orders.with_columns(
        pl.col("currency")
        .replace_strict(digits, default=None, return_dtype=pl.Int64)
        .alias("_digits")
    )
    orders = orders.with_columns(
        _minor_units(n, pl.col("_digits")).alias(f"{n}_minor")
        for n in ("freight", "insurance", "discount")
    )
    order_errors = _violations(orders, order_rules(known_sellers), pl.col("line"))

    lines = _text(batch.lines, LINE_TEXT_COLUMNS)
    if "line" not in lines.columns:
        lines = lines.with_row_index("line").with_columns(pl.col("line").cast(pl.Int64))
    lines = lines.with_columns(pl.col("rec").cast(pl.Int64), pl.col("line").cast(pl.Int64))
    lines = lines.join(
        orders.select("rec", "_digits", pl.col("origin_country").alias("_origin")),
        on="rec", how="left",
    )  # fmt: skip
    lines = lines.with_columns(
        pl.col("hs_code").str.replace_all(r"\.", ""),
        pl.coalesce("origin_country", "_origin").alias("origin_country"),
        _minor_units("unit_price", pl.col("_digits")).alias("unit_price_minor"),
    )
    line_errors = _violations(lines, line_rules(), pl.col("line"))
    orphans = lines.join(orders.select("rec"), on="rec", how="anti")
    no_lines = orders.join(lines.select("rec").unique(), on="rec", how="anti")
    structural = pl.concat([
        orphans.select("rec", "line", pl.lit("rec").alias("field"),
                       pl.lit("line belongs to no order").alias("reason"),
                       pl.col("rec").cast(pl.String).alias("value")),
        no_lines.select("rec", "line", pl.lit("lines").alias("field"),
                        pl.lit("an order needs at least one line").alias("reason"),
                        pl.lit(None, pl.String).alias("value")),
    ]).cast(ERROR_SCHEMA)  # fmt: skip

    lines = lines.with_columns(pl.col("qty").cast(pl.Int64, strict=False))
    goods = (
        lines.group_by("rec")
        .agg((pl.col("qty") * pl.col("unit_price_minor")).sum().alias("goods_minor"),
             pl.len().alias("line_count"))
    )  # fmt: skip
    orders = orders.join(goods, on="rec", how="left")
    discount_errors = orders.filter(
        pl.col("discount_minor").fill_null(0)
        > pl.col("goods_minor") + pl.col("freight_minor").fill_null(0)
        + pl.col("insurance_minor").fill_null(0)
    ).select(
        "rec", "line", pl.lit("discount").alias("field"),
        pl.lit("exceeds goods + freight + insurance").alias("reason"),
        pl.col("discount").alias("value"),
    ).cast(ERROR_SCHEMA)  # fmt: skip

    errors = pl.concat([order_errors, line_errors, structural, discount_errors]).sort("rec", "line")
    bad = errors.select("rec").unique()
    good_orders = orders.join(bad, on="rec", how="anti").select(
        "rec", "line",
        *(c for c in ORDER_TEXT_COLUMNS
          if c not in {"freight", "insurance", "discount", "placed_at", "promised_by"}),
        *(pl.col(f"{n}_minor").fill_null(0) for n in ("freight", "insurance", "discount")),
        "goods_minor", pl.col("line_count").cast(pl.Int64),
        _timestamp("placed_at").alias("placed_at"),
        pl.col("promised_by").str.to_date("%Y-%m-%d"),
    )  # fmt: skip
    good_lines = (
        lines.join(bad, on="rec", how="anti")
        .sort("rec", "line")
        .with_columns(pl.int_range(pl.len()).over("rec").add(1).cast(pl.Int64).alias("line_no"))
        .select("rec", "line_no", "sku", "description", "hs_code", "qty", "unit_price_minor",
                "origin_country")
    )  # fmt: skip
    return CheckedBatch(good_orders, good_lines, errors)


def content_fingerprint(orders: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Per record, a hash of the order's normalised content (lines in order) for idempotency.

    Valid within one process: used to compare a repeated order with its first capture.
    """
    order_columns = [c for c in orders.columns if c not in {"rec", "line", "id"}]
    line_columns = [c for c in lines.columns if c not in {"rec", "order_id"}]
    line_hash = (
        lines.sort("rec", "line_no")
        .with_columns(pl.struct(line_columns).hash(seed=7).alias("_h"))
        .group_by("rec")
        .agg(pl.col("_h").alias("_lh"))
    )
    return (
        orders.select("rec", pl.struct(order_columns).hash(seed=3).alias("_oh"))
        .join(line_hash, on="rec", how="left")
        .select("rec", pl.struct("_oh", "_lh").hash(seed=5).alias("fingerprint"))
    )
