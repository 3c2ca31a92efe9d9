"""Money owed beyond the escrow itself: partners' pay, loss compensation, declared DDP taxes.

- Partners (lane, warehouse, last mile) are paid from the seller's proceeds under their contracts
  (the rate cards), converted to the order's currency at the dated FX rate. The seller owes them
  whether or not the buyer paid: for an unpaid order the seller's proceeds go negative, a payable
  to the platform, and the escrow is not touched.
- Loss or damage refunds the buyer from escrow and charges the custodian (the party the trace
  record shows holding the parcel) for the goods and for whatever escrow can no longer return.
- DDP taxes declared to customs are withheld in escrow and remitted when customs releases.

Use cases are ``verb(uow, command)``; the shared steps (``pay``, ``compensate``,
``compensate_traced``, ``declared``) run inside an open unit of work for the lifecycle settlement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from xborder.domain.money import FxRate, FxTable
from xborder.domain.world import World
from xborder.services.settlement_escrow import (
    UTC_TIME,
    orders_money,
    refund,
    state,
    withhold_known,
)
from xborder.services.settlement_posting import Posted, PostResult, facts, post, stamp
from xborder.settlement import escrow
from xborder.settlement import sla as sla_rules
from xborder.settlement.contracts import rate_card_charges, to_order_currency
from xborder.settlement.escrow import EscrowTerms
from xborder.settlement.ledger import CODED_SCHEMA
from xborder.store.uow import UnitOfWork
from xborder.trace.exceptions import Checkpoint, Thresholds, findings

FINDING_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "kind": pl.String, "custodian": pl.String,
    "at": pl.Datetime("ms", "UTC"),
}  # fmt: skip
HISTORY_COLUMNS = ("id", "event_time_ms", "party_id", "biz_step", "disposition")


def _nothing() -> Posted:
    return Posted(PostResult(0), pl.DataFrame(schema=CODED_SCHEMA))


def _both(first: Posted, second: Posted) -> Posted:
    return Posted(first.result + second.result, pl.concat([first.new, second.new]))


# --- steps inside an open unit of work ------------------------------------------------------------
def pay(uow: UnitOfWork, terms: EscrowTerms, charges: pl.DataFrame, fx: FxTable) -> Posted:
    """``charges``: order_id, partner, role, partner_currency, partner_amount, on (the FX date),
    at, and optionally seller and currency (read from the orders when absent)."""
    return post(uow, pay_transfers(uow, terms, charges, fx))


def pay_transfers(
    uow: UnitOfWork, terms: EscrowTerms, charges: pl.DataFrame, fx: FxTable
) -> pl.DataFrame:
    """The transfers ``pay`` posts (the lifecycle settlement posts every role's in one batch)."""
    if "seller" not in charges.columns or "currency" not in charges.columns:
        orders = orders_money(uow, charges.get_column("order_id").to_list())
        charges = charges.join(orders.select("order_id", "seller", "currency"), on="order_id")
    frame = to_order_currency(charges, fx)
    return escrow.partner_payments(frame, terms, pl.col("at"))


def compensate(uow: UnitOfWork, terms: EscrowTerms, losses: pl.DataFrame) -> Posted:
    """Lost or damaged orders (``losses``: order_id, custodian, at): refund the buyer from
    escrow, and charge the custodian for what escrow cannot return (remitted tax) and for the
    seller's goods."""
    ids = losses.get_column("order_id").to_list()
    orders = orders_money(uow, ids)
    before = state(uow, ids)
    refunded = refund(uow, terms, losses.select("order_id", "at"), "refund.loss")
    frame = (
        orders.join(before, on="order_id")
        .join(losses.select("order_id", "custodian", "at"), on="order_id")
        .with_columns((pl.col("captured") - pl.col("held") - pl.col("refunded")).alias("shortfall"))
    )
    return _both(refunded, post(uow, sla_rules.loss_compensation(frame, terms, pl.col("at"))))


def findings_of(
    uow: UnitOfWork, order_ids: Sequence[int], now: datetime, default_p95_days: float = 10.0
) -> pl.DataFrame:
    """Loss, damage, delay and customs-hold findings of the orders' parcels (FINDING_SCHEMA),
    each naming the custodian: the party that held custody when it happened. One history read
    per traced parcel (a parcel's history includes its bag's events while it was inside)."""
    repo = facts(uow)
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    objects = repo.traced_parcels(ids)
    p95 = repo.lane_p95_days() if objects else {}
    now_ms = int(now.timestamp() * 1000)
    rows: list[tuple[Any, ...]] = []
    for object_id, order_id, lane in objects:
        events = sorted(uow.trace.history(object_id, HISTORY_COLUMNS),
                        key=lambda r: (r.event_time_ms, r.id))  # fmt: skip
        history = [Checkpoint(r.event_time_ms, r.party_id, r.biz_step, r.disposition)
                   for r in events]  # fmt: skip
        limits = Thresholds(float(p95.get(lane or "") or default_p95_days))
        rows.extend(
            (order_id, f.kind.value, f.custodian, datetime.fromtimestamp(f.at_ms / 1000, UTC))
            for f in findings(history, now_ms, limits)
        )
    return pl.DataFrame(rows, schema=FINDING_SCHEMA, orient="row")


def compensate_traced(
    uow: UnitOfWork, terms: EscrowTerms, order_ids: Sequence[int], now: datetime
) -> tuple[Posted, list[int]]:
    """Settle the first loss or damage the trace record shows for each order, charged to the
    custodian it names and dated when it was recorded. Returns what was posted and the orders
    whose record names no custodian (left for a person to decide)."""
    found = findings_of(uow, order_ids, now).filter(pl.col("kind").is_in(["loss", "damage"]))
    losses = (
        found.filter(pl.col("custodian").is_not_null())
        .sort("at").unique("order_id", keep="first", maintain_order=True)
        .select("order_id", "custodian",
                pl.min_horizontal(pl.col("at").cast(UTC_TIME), pl.lit(now)).alias("at"))
    )  # fmt: skip
    named = set(losses.get_column("order_id").to_list())
    unassigned = sorted({int(i) for i in order_ids} - named)
    return (compensate(uow, terms, losses) if losses.height else _nothing()), unassigned


def declared(
    uow: UnitOfWork, terms: EscrowTerms, fx: FxTable, order_ids: Sequence[int] | None,
    at: datetime | None = None,
) -> tuple[Posted, Posted]:  # fmt: skip
    """Withhold and remit the declared DDP taxes (see ``declared_transfers``)."""
    withheld, remits = declared_transfers(uow, terms, fx, order_ids, at)
    return withheld, post(uow, remits)


def declared_transfers(
    uow: UnitOfWork, terms: EscrowTerms, fx: FxTable, order_ids: Sequence[int] | None,
    at: datetime | None = None,
) -> tuple[Posted, pl.DataFrame]:  # fmt: skip
    """DDP orders with a customs declaration: withhold its total tax in escrow (converted to the
    order's currency at the declaration date's rate when the tax currency differs), and remit it
    where customs has released the goods (status released or closed). Authority party:
    ``customs-<destination>``. Orders with nothing captured in escrow, or whose escrow cannot
    cover the tax, are skipped (left to the seller).

    Dated ``at`` when given; else by the facts: withheld when both the declaration and the
    payment exist, remitted on the release date (now when customs gave none), never after now."""
    rows = facts(uow).open_declared_taxes(order_ids)
    if rows.height == 0:
        return _nothing(), pl.DataFrame(schema=CODED_SCHEMA)
    now = uow.clock.now()
    ids = rows.get_column("order_id").to_list()
    money = orders_money(uow, ids)
    frame = to_order_currency(
        rows.join(money.select("order_id", "currency"), on="order_id").select(
            "order_id", "currency", "declared_on", "released_on", "paid_at",
            pl.col("tax").alias("partner_amount"), pl.col("tax_currency").alias("partner_currency"),
            pl.col("declared_on").alias("on"),
            pl.concat_str(pl.lit("customs-"), pl.col("destination").str.to_lowercase())
            .alias("authority"),
            pl.col("status").is_in(["released", "closed"]).alias("released"),
        ), fx,
    ).rename({"amount": "tax"})  # fmt: skip
    if at is not None:
        frame = frame.with_columns(pl.lit(at).alias("withhold_at"), pl.lit(at).alias("remit_at"))
    else:
        declared_at = pl.col("declared_on").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        released_at = pl.col("released_on").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        withhold_at = pl.min_horizontal(pl.max_horizontal(declared_at, pl.col("paid_at")),
                                        pl.lit(now))  # fmt: skip
        frame = frame.with_columns(withhold_at.alias("withhold_at")).with_columns(
            pl.when(released_at.is_null()).then(pl.lit(now))
            .otherwise(pl.min_horizontal(pl.max_horizontal(released_at, pl.col("withhold_at")),
                                         pl.lit(now))).alias("remit_at")
        )  # fmt: skip
    escrow_now = state(uow, ids)
    held = escrow_now.select("order_id", "captured", "free", pl.col("tax").alias("withheld"))
    frame = frame.join(held.filter(pl.col("captured") > 0), on="order_id").filter(
        (pl.col("tax") > 0) & ((pl.col("withheld") > 0) | (pl.col("tax") <= pl.col("free")))
    )
    # Only the taxes not withheld yet are posted (a withheld one would come back ``existing``),
    # with the money and escrow read above: nothing was posted since.
    fresh = frame.filter(pl.col("withheld") == 0)
    withheld = withhold_known(uow, terms, fresh.select(
        "order_id", "tax", "authority", pl.col("withhold_at").alias("at")), money,
        escrow_now.filter(pl.col("order_id").is_in(fresh.get_column("order_id").implode())),
    ) if fresh.height else _nothing()  # fmt: skip
    # Every row now has its tax withheld and open (the query leaves out remitted and voided
    # taxes), so each released one is remitted: ``remit`` without reading the escrow again.
    # Returned unposted: the caller posts it (the lifecycle settlement with the partners' pay).
    remits = escrow.remit_tax(
        frame.filter(pl.col("released")).select("order_id", pl.col("remit_at").alias("at"))
        .sort("order_id", maintain_order=True), pl.col("at"),
    )  # fmt: skip
    return withheld, remits


# --- use cases ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CompensateLoss:
    terms: EscrowTerms
    losses: pl.DataFrame  # order_id, custodian (the party holding custody when it happened)
    at: datetime | None = None


def compensate_loss(uow: UnitOfWork, command: CompensateLoss) -> PostResult:
    """Lost or damaged orders: refund the buyer, charge the custodian, compensate the seller."""
    with uow:
        at = stamp(uow, command.at)
        losses = command.losses.select("order_id", "custodian").with_columns(pl.lit(at).alias("at"))
        result = compensate(uow, command.terms, losses).result
        uow.commit()
        return result


@dataclass(frozen=True, slots=True)
class TraceFindings:
    order_ids: Sequence[int]
    now: datetime | None = None
    default_p95_days: float = 10.0


def trace_findings(uow: UnitOfWork, query: TraceFindings) -> pl.DataFrame:
    """Loss, damage, delay and customs-hold findings of the orders' parcels, each naming the
    custodian read from the trace record."""
    with uow:
        now = stamp(uow, query.now, "now")
        return findings_of(uow, query.order_ids, now, query.default_p95_days)


@dataclass(frozen=True, slots=True)
class CompensateFromTrace:
    terms: EscrowTerms
    order_ids: Sequence[int]
    now: datetime | None = None


def compensate_from_trace(uow: UnitOfWork, command: CompensateFromTrace) -> PostResult:
    """Settle every loss or damage the trace record shows for these orders, charged to the
    custodian it names (orders whose custodian is unknown are left for a person to decide)."""
    with uow:
        now = stamp(uow, command.now, "now")
        posted, _ = compensate_traced(uow, command.terms, command.order_ids, now)
        uow.commit()
        return posted.result


@dataclass(frozen=True, slots=True)
class PayPartners:
    terms: EscrowTerms
    charges: pl.DataFrame  # order_id, partner, role, partner_currency, partner_amount (minor)
    fx: FxTable
    on: date | None = None  # the FX date (default: the day of ``at``)
    at: datetime | None = None


def pay_partners(uow: UnitOfWork, command: PayPartners) -> PostResult:
    """Pay partners their contract charges from the sellers' proceeds (converted to the order's
    currency at ``on``'s rate when the contract is in another currency)."""
    with uow:
        at = stamp(uow, command.at)
        on = command.on or at.date()
        charges = command.charges.select(
            "order_id", "partner", "role", "partner_currency", "partner_amount"
        ).with_columns(pl.lit(on).alias("on"), pl.lit(at).alias("at"))
        result = pay(uow, command.terms, charges, command.fx).result
        uow.commit()
        return result


@dataclass(frozen=True, slots=True)
class PayByRateCards:
    terms: EscrowTerms
    legs: pl.DataFrame  # order_id, role, ref, grams (see settlement.contracts)
    world: World
    on: date | None = None
    at: datetime | None = None


def pay_by_rate_cards(uow: UnitOfWork, command: PayByRateCards) -> PostResult:
    """Price each leg by its partner's rate card in the world and pay it from the seller's
    proceeds."""
    world = command.world
    charges = rate_card_charges(command.legs, world.lanes, world.warehouses, world.last_mile)
    fx = FxTable.of(FxRate(e.date, e.base, e.quote, e.rate, e.source) for e in world.fx)
    return pay_partners(uow, PayPartners(command.terms, charges, fx, command.on, command.at))


@dataclass(frozen=True, slots=True)
class SettleDeclaredTaxes:
    terms: EscrowTerms
    order_ids: Sequence[int]
    fx: FxTable
    at: datetime | None = None  # default: dated by the declaration, payment and release


@dataclass(frozen=True, slots=True)
class DeclaredTaxes:
    withheld: PostResult
    remitted: PostResult


def settle_declared_taxes(uow: UnitOfWork, command: SettleDeclaredTaxes) -> DeclaredTaxes:
    """DDP orders with a customs declaration: withhold the tax, remit it once released."""
    with uow:
        at = None if command.at is None else stamp(uow, command.at)
        withheld, remitted = declared(uow, command.terms, command.fx, command.order_ids, at)
        uow.commit()
        return DeclaredTaxes(withheld.result, remitted.result)
