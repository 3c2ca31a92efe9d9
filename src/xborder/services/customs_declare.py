"""Declare stored orders to customs, and read a buyer's annual CBEC total.

A declaration is quoted by the same kernel as a checkout quote, on the declaration date (default:
the clock's today). China CBEC amounts count into each buyer's annual total in the same
transaction, so a crash never leaves a declaration without its count or the reverse; declaring an
order again is a no-op (idempotent by order number).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from xborder.customs.declaration_status import Status
from xborder.customs.regimes import EU_MEMBERS, applied_rules
from xborder.customs.tariffs import TariffBook
from xborder.domain.errors import InvalidValue
from xborder.domain.money import Money
from xborder.services.customs_quote import kernel_frames, quote_in_waves
from xborder.store.uow import UnitOfWork

MODELLED_DESTINATIONS = frozenset(EU_MEMBERS | {"CN", "GB", "US"})
ANNUAL_CURRENCY = "CNY"  # the China CBEC annual limit is counted in yuan


def day_of(uow: UnitOfWork, on: date | None, where: str = "on") -> date:
    """``on``, or the clock's today; a date after the clock's today is refused, because what is
    stored for it would be dated in the future."""
    today = uow.clock.now().date()
    if on is None:
        return today
    if on > today:
        raise InvalidValue(where, f"is after today ({today.isoformat()})", on.isoformat())
    return on


@dataclass(frozen=True, slots=True)
class DeclareOrders:
    """Declare these stored orders on ``on`` (default: the clock's today)."""

    order_ids: Sequence[int]
    on: date | None = None
    book: TariffBook | None = None


@dataclass(frozen=True, slots=True)
class DeclareReport:
    """How many orders were declared now, had been declared before, or go to a destination
    without a modelled regime; per-order quote errors; and the quotes of the declared orders."""

    declared: int = 0
    already: int = 0
    not_modelled: int = 0
    errors: tuple[str, ...] = ()
    quotes: pl.DataFrame = field(default_factory=pl.DataFrame)


def declare_orders(uow: UnitOfWork, command: DeclareOrders) -> DeclareReport:
    """Quote and declare stored orders in one transaction: a declaration per order of a modelled
    regime, its first event (receipt ``2``) at the clock's now, and the CBEC amounts counted into
    each buyer's annual total (a buyer's orders count in turn). Idempotent by order number."""
    with uow:
        day = day_of(uow, command.on)
        repo = uow.customs
        order_rows, line_rows = uow.orders.load(list(command.order_ids))
        if order_rows.is_empty():
            return DeclareReport()
        known = repo.declared(order_rows.get_column("external_id").to_list())
        order_rows = order_rows.filter(~pl.col("external_id").is_in(list(known)))
        modelled = pl.col("consignee_country").is_in(list(MODELLED_DESTINATIONS))
        not_modelled = order_rows.filter(~modelled).height
        order_rows = order_rows.filter(modelled)
        if order_rows.is_empty():
            return DeclareReport(already=len(known), not_modelled=not_modelled)
        line_rows = line_rows.filter(
            pl.col("order_id").is_in(order_rows.get_column("id").implode())
        )
        korders, klines = kernel_frames(repo, order_rows, line_rows, day)
        buyers = order_rows.select(
            pl.when(pl.col("consignee_country") == "CN").then(pl.col("buyer_id_number"))
        ).to_series()
        stored = repo.annual_totals([b for b in buyers.to_list() if b], day.year)
        result = quote_in_waves(korders, klines, buyers, stored, command.book)
        res = result.orders.join(
            order_rows.select(
                pl.col("id").alias("rec"),
                pl.col("external_id").alias("order_no"),
                pl.col("buyer_id_number").alias("buyer_id"),
            ),
            on="rec",
            how="left",
        )
        bad = res.filter(pl.col("error").is_not_null())
        errors = tuple(f"{r['order_no']}: {r['error']}" for r in bad.iter_rows(named=True))
        good = res.filter(pl.col("error").is_null()).with_columns(
            pl.when(pl.col("channel").is_in(["cbec", "cbec_full"]))
            .then(pl.col("value_minor"))
            .otherwise(0)
            .alias("counted_minor")
        )
        rows = [
            {
                "order_no": r["order_no"],
                "order_id": r["rec"],
                "regime": r["regime"],
                "destination": r["destination"],
                "channel": r["channel"],
                "customs_mode": None,
                "buyer_id": r["buyer_id"] if r["regime"] == "CN" else None,
                "declared_on": r["date"],
                "tax_currency": r["tax_currency"],
                "customs_value_minor": r["value_minor"],
                "duty_minor": r["duty_minor"],
                "vat_minor": r["vat_minor"],
                "consumption_tax_minor": r["ct_minor"],
                "fees_minor": r["fees_minor"],
                "total_tax_minor": r["total_tax_minor"],
                "landed_minor": r["landed_minor"],
                "counted_minor": r["counted_minor"],
                "incoterm": r["incoterm"],
                "tax_payer": r["tax_payer"],
                "collected_at": r["collected_at"],
                "status": Status.DECLARED.value,
                "released_on": None,
                "rules": json.dumps(
                    list(applied_rules(r["regime"], r["channel"], r["date"], r["origin"]))
                ),
            }
            for r in good.iter_rows(named=True)
        ]
        repo.insert_declarations(rows, uow.clock.now(), "2", "declared with the list (CEB621)")
        counted = (
            good.filter(pl.col("counted_minor") > 0)
            .group_by("buyer_id")
            .agg(pl.col("counted_minor").sum(), pl.len().alias("n"))
        )
        repo.add_annual(day.year, [(str(b), int(m), int(n)) for b, m, n in counted.iter_rows()])
        uow.commit()
    return DeclareReport(len(rows), len(known), not_modelled, errors, good)


@dataclass(frozen=True, slots=True)
class BuyerAnnualTotal:
    """A China buyer (resident ID number) and the year (default: the clock's year)."""

    buyer_id: str
    year: int | None = None


@dataclass(frozen=True, slots=True)
class AnnualTotal:
    """What the buyer's CBEC purchases count against the annual limit this year (CNY fen)."""

    buyer_id: str
    year: int
    total_minor: int

    @property
    def total(self) -> Money:
        return Money.from_minor(self.total_minor, ANNUAL_CURRENCY)


def annual_total(uow: UnitOfWork, command: BuyerAnnualTotal) -> AnnualTotal:
    """The buyer's stored annual CBEC total (zero when nothing is counted)."""
    year = command.year if command.year is not None else uow.clock.now().year
    with uow:
        frame = uow.customs.annual_totals([command.buyer_id], year)
    total = int(frame.get_column("total_minor")[0]) if frame.height else 0
    return AnnualTotal(command.buyer_id, year, total)
