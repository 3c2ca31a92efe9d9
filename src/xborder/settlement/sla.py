"""SLA terms of logistics contracts: lateness penalties and loss/damage compensation, columnar.

Lateness is counted in whole days after the promised delivery date; the penalty is a fixed amount
per day, capped per order (both contract parameters). Loss or damage is charged to the party that
held custody when it happened: the buyer is made whole (the escrow refund plus, from the
custodian, whatever of the payment already left escrow, e.g. remitted tax), and the seller is
compensated for the goods value. Custody comes from the caller: the trace ledger's custody record
once it is available, else an explicit argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.settlement.escrow import EscrowTerms, When, account, transfers_for
from xborder.settlement.ledger import Kind, Purpose


@dataclass(frozen=True, slots=True)
class SlaTerms:
    """Per contract, in minor units of the order's currency (parameters, not real-world facts)."""

    penalty_per_day: int = 100  # e.g. 1.00 per day late
    penalty_cap: int = 1_000  # per order
    grace_days: int = 0

    def __post_init__(self) -> None:
        for name in ("penalty_per_day", "penalty_cap", "grace_days"):
            if getattr(self, name) < 0:
                raise InvalidValue(name, "must be >= 0", getattr(self, name))


def days_late(promised: pl.Expr, delivered: pl.Expr, grace: int = 0) -> pl.Expr:
    """Whole days delivered after the promise (0 when on time), less the grace days."""
    days = (delivered.cast(pl.Date) - promised.cast(pl.Date)).dt.total_days() - grace
    return pl.max_horizontal(days, pl.lit(0)).cast(pl.Int64)


def penalty(late: pl.Expr, terms: SlaTerms) -> pl.Expr:
    return pl.min_horizontal(late * terms.penalty_per_day, pl.lit(terms.penalty_cap)).cast(pl.Int64)


def late_penalties(orders: pl.DataFrame, terms: SlaTerms, at: When) -> pl.DataFrame:
    """``orders``: order_id, seller, currency, promised_by, delivered_on, responsible (party).

    Penalty ``responsible:receivable -> seller:compensation`` for each late order (dated by
    ``at``: the delivery, so a statement can say how late it was)."""
    frame = orders.with_columns(
        penalty(days_late(pl.col("promised_by"), pl.col("delivered_on"), terms.grace_days), terms)
        .alias("penalty")
    ).filter(pl.col("penalty") > 0)  # fmt: skip
    return transfers_for(frame, "sla.late", account(pl.col("responsible"), Purpose.RECEIVABLE),
                      account(pl.col("seller"), Purpose.COMPENSATION), pl.col("penalty"),
                      Kind.POSTED, "sla.late", at)  # fmt: skip


def loss_compensation(orders: pl.DataFrame, terms: EscrowTerms, at: When) -> pl.DataFrame:
    """``orders``: order_id, seller, currency, custodian, goods, shortfall (minor units the escrow
    refund cannot return, e.g. remitted tax). The escrow refund itself is ``escrow.refund``."""
    if orders.filter(pl.col("custodian").is_null()).height:
        raise InvalidValue("custodian", "loss or damage needs the party that held custody")
    seller = transfers_for(orders.filter(pl.col("goods") > 0), "sla.loss",
                        account(pl.col("custodian"), Purpose.RECEIVABLE),
                        account(pl.col("seller"), Purpose.COMPENSATION), pl.col("goods"),
                        Kind.POSTED, "sla.loss.seller", at)  # fmt: skip
    buyer = transfers_for(orders.filter(pl.col("shortfall") > 0), "sla.loss.buyer",
                       account(pl.col("custodian"), Purpose.RECEIVABLE),
                       account(pl.lit(terms.buyers), Purpose.FUNDS),
                       pl.col("shortfall"), Kind.POSTED, "sla.loss.buyer", at)  # fmt: skip
    return pl.concat([seller, buyer])
