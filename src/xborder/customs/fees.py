"""Fees of an import: processing fees, carrier disbursement fees, national handling fees
(placeholder interface; the fees helper fills it in)."""

from __future__ import annotations

import polars as pl


def with_fees(orders: pl.DataFrame) -> pl.DataFrame:
    """Add ``fees_minor`` (Int64, tax-currency minor units) and ``fee_ids`` (String: ids joined
    by ``,``; null where none).

    Reads: rec, date, regime, destination, origin, channel, incoterm, goods_minor,
    customs_value_minor, duty_minor, additional_duty_minor, total_tax_minor, tax_currency, error.
    """
    return orders.with_columns(
        pl.lit(0, pl.Int64).alias("fees_minor"),
        pl.lit(None, pl.String).alias("fee_ids"),
    )
