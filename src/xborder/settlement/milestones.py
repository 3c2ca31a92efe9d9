"""What each kind of transfer means: the lifecycle counters and the plain words of a statement.

Every transfer carries a ``code`` saying why the money moved (``escrow.capture``,
``partner.pay.lane``, ``sla.late``...). Two things are read from the codes alone, so that they
agree with the ledger by construction:

- the milestone counters (``COUNTERS``): how many distinct orders (one parcel per order) had a
  transfer of the counter's codes; a settlement run reports the ones it newly posted, and
  ``count_orders`` over the whole ledger recomputes the totals;
- a statement entry's description: the code in words plus what it is about (the order, or the
  parcel's tracking number for a partner's leg, or how many days late for a penalty).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import polars as pl

COUNTERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "orders_captured": ("escrow.capture",),
    "taxes_withheld": ("tax.withhold",),
    "taxes_remitted": ("tax.remit",),
    "warehouse_paid": ("partner.pay.warehouse",),
    "linehaul_paid": ("partner.pay.lane",),
    "last_mile_paid": ("partner.pay.last_mile",),
    "deliveries_released": ("escrow.release", "escrow.fee"),
    "auto_confirmed": ("escrow.auto_confirm", "escrow.fee.auto"),
    "losses_compensated": ("refund.loss", "sla.loss.seller", "sla.loss.buyer"),
    "penalties": ("sla.late",),
    "orders_refunded": ("refund.unshipped", "refund.return", "refund.return.seller"),
})  # fmt: skip
COUNTED_CODES = tuple(sorted({c for codes in COUNTERS.values() for c in codes}))


def count_orders(moves: pl.DataFrame) -> dict[str, int]:
    """Distinct orders per counter among transfers (``moves``: code, order_id)."""
    return {
        name: moves.filter(pl.col("code").is_in(codes) & pl.col("order_id").is_not_null())
        .get_column("order_id").n_unique()
        for name, codes in COUNTERS.items()
    }  # fmt: skip


WORDS: Mapping[str, str] = MappingProxyType({
    "escrow.capture": "escrow capture",
    "tax.withhold": "tax withheld for customs",
    "tax.remit": "tax remitted to customs",
    "escrow.release": "seller's release reserved on delivery",
    "escrow.fee": "platform fee reserved on delivery",
    "escrow.confirm": "release on the buyer's confirmation",
    "escrow.fee.post": "platform fee on the buyer's confirmation",
    "escrow.auto_confirm": "release on automatic confirmation",
    "escrow.fee.auto": "platform fee on automatic confirmation",
    "refund.return": "refund to the buyer (returned)",
    "refund.unshipped": "refund to the buyer (never shipped)",
    "refund.loss": "refund to the buyer (lost or damaged)",
    "refund.return.void": "reservation cancelled (returned)",
    "refund.unshipped.void": "reservation cancelled (never shipped)",
    "refund.loss.void": "reservation cancelled (lost or damaged)",
    "refund.return.seller": "returned after release: seller's proceeds back",
    "refund.return.fee": "returned after release: platform fee back",
    "partner.pay.warehouse": "warehouse handling",
    "partner.pay.lane": "line-haul freight",
    "partner.pay.last_mile": "last-mile delivery",
    "partner.pay": "partner payment",
    "partner.fx.warehouse": "warehouse handling via currency exchange",
    "partner.fx.lane": "line-haul freight via currency exchange",
    "partner.fx.last_mile": "last-mile delivery via currency exchange",
    "fx.convert": "currency exchange for a partner payment",  # before per-role codes
    "sla.late": "SLA penalty",
    "sla.loss.seller": "loss or damage: goods value to the seller",
    "sla.loss.buyer": "loss or damage: the buyer's shortfall",
})  # fmt: skip
_BY_PARCEL = tuple(f"partner.{kind}.{role}" for kind in ("pay", "fx")
                   for role in ("warehouse", "lane", "last_mile"))  # fmt: skip


def describe(entries: pl.DataFrame, facts: pl.DataFrame) -> pl.Series:
    """One plain sentence per entry, e.g. "escrow capture, order 123", "line-haul freight,
    parcel XB000000000123", "SLA penalty (late 2 days), order 9".

    ``entries``: code, order_id, at (the transfer's time); ``facts``: order_id, tracking_no
    (the order's parcel, may be null), promised_by (date, may be null). A code this module does
    not know is shown as it is."""
    joined = entries.select("code", "order_id", "at").join(
        facts.select("order_id", "tracking_no", "promised_by"), on="order_id", how="left",
        maintain_order="left",
    )  # fmt: skip
    late = (pl.col("at").cast(pl.Date) - pl.col("promised_by").cast(pl.Date)).dt.total_days()
    days = pl.when(late == 1).then(pl.lit("1 day")).otherwise(
        pl.concat_str(late.cast(pl.String), pl.lit(" days"))
    )  # fmt: skip
    known = pl.col("code").replace_strict(dict(WORDS), default=pl.col("code"),
                                          return_dtype=pl.String)  # fmt: skip
    words = (
        pl.when((pl.col("code") == "sla.late") & pl.col("promised_by").is_not_null() & (late > 0))
        .then(pl.concat_str(known, pl.lit(" (late "), days, pl.lit(")")))
        .otherwise(known)
    )
    about = (
        pl.when(pl.col("code").is_in(_BY_PARCEL) & pl.col("tracking_no").is_not_null())
        .then(pl.concat_str(pl.lit("parcel "), pl.col("tracking_no")))
        .when(pl.col("order_id").is_not_null())
        .then(pl.concat_str(pl.lit("order "), pl.col("order_id").cast(pl.String)))
    )
    text = pl.when(about.is_null()).then(words).otherwise(pl.concat_str(words, pl.lit(", "), about))
    return joined.select(text.alias("description")).get_column("description")
