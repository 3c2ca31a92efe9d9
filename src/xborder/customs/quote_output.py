"""The kernel's output frames: the order sums, who pays and when, and the columns callers read.

Kept apart from ``quote_kernel`` (the arithmetic) so that the output contract -- the columns the
services, the declaration and the explanation read -- is in one short place.
"""

from __future__ import annotations

import polars as pl

ORDER_COLUMNS = (
    "rec",
    "date",
    "regime",
    "destination",
    "channel",
    "eligible",
    "reason_code",
    "cbec_reason",
    "single_minor",
    "annual_minor",
    "origin",
    "tax_currency",
    "fx_rate",
    "goods_minor",
    "fi_minor",
    "value_minor",
    "customs_value_minor",
    "qty_total",
    "duty_minor",
    "additional_duty_minor",
    "measure_ids",
    "vat_minor",
    "ct_minor",
    "fees_minor",
    "fee_ids",
    "total_tax_minor",
    "landed_minor",
    "exact_tariff",
    "annual_before_minor",
    "annual_after_minor",
    "collected_at",
    "tax_payer",
    "incoterm",
    "error",
)
# Amounts and decisions are null on an order with an error (nothing is quoted for it).
MASKED = (
    "duty_minor",
    "additional_duty_minor",
    "measure_ids",
    "vat_minor",
    "ct_minor",
    "fees_minor",
    "fee_ids",
    "total_tax_minor",
    "landed_minor",
    "exact_tariff",
    "channel",
    "eligible",
    "reason_code",
    "annual_after_minor",
    "collected_at",
    "tax_payer",
)
LINE_COLUMNS = (
    "rec",
    "line",
    "hs_code",
    "qty",
    "value_minor",
    "base_minor",
    "duty_eff",
    "vat_eff",
    "ct_eff",
    "duty_minor",
    "additional_duty_minor",
    "measure_ids",
    "vat_minor",
    "ct_minor",
    "tariff_source",
    "tariff_digits",
    "vat_source",
)


def with_measure_ids(orders: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Each order's measure ids: the distinct ids of its lines, joined by ``,`` (null if none)."""
    named = lines.filter(pl.col("measure_ids").is_not_null() & (pl.col("measure_ids") != ""))
    if named.is_empty():
        return orders.with_columns(pl.lit(None, pl.String).alias("measure_ids"))
    ids = (
        named.select("rec", pl.col("measure_ids").str.split(","))
        .explode("measure_ids")
        .group_by("rec")
        .agg(pl.col("measure_ids").unique(maintain_order=True).sort().str.join(","))
    )
    return orders.join(ids, on="rec", how="left", maintain_order="left")


def order_output(orders: pl.DataFrame) -> pl.DataFrame:
    """Landed cost, who pays and when, errors masking amounts, in ``ORDER_COLUMNS`` order."""
    orders = orders.with_columns(
        pl.col("fees_minor").fill_null(0),
    ).with_columns(
        (pl.col("value_minor") + pl.col("total_tax_minor") + pl.col("fees_minor")).alias(
            "landed_minor"
        ),
        pl.when(pl.col("point_of_sale") | (pl.col("incoterm") == "DDP"))
        .then(pl.lit("checkout"))
        .otherwise(pl.lit("delivery"))
        .alias("collected_at"),
        pl.when(pl.col("incoterm") == "DDP")
        .then(pl.lit("seller"))
        .otherwise(pl.lit("buyer"))
        .alias("tax_payer"),
    )
    return orders.with_columns(
        [pl.when(pl.col("error").is_null()).then(pl.col(c)).alias(c) for c in MASKED]
    ).select(ORDER_COLUMNS)


def line_output(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.select(LINE_COLUMNS)
