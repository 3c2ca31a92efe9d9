"""Money that follows the lifecycle: settle every milestone the stored facts show, once.

``settle_lifecycle`` reads what happened (payments, declarations, parcels packed, departed,
delivered, lost) and posts what it earns, set-wise, in one transaction, in the lifecycle's order:

1. paid orders (payments cover goods + freight + insurance - discount) -> captured into escrow;
2. DDP declarations -> tax withheld in escrow; released or closed ones -> remitted to
   ``customs-<destination>``;
3. parcels packed -> the warehouse operator's handling; departed on a lane -> the lane carrier's
   freight on the chargeable weight; delivered -> the last-mile carrier's rate. Paid from the
   seller's proceeds by contract (the world's rate cards, or the store's when no world is
   given), converted at the milestone day's FX rate. An unpaid order's partners are owed all the
   same: the seller's proceeds go negative (a payable to the platform), escrow is not touched;
4. delivered parcels -> the seller's release and the platform fee reserved in escrow (paid orders
   only), and a lateness penalty against the order's promise, charged to the lane carrier (the
   last-mile carrier when there was no line haul) and paid to the seller (unpaid orders too);
5. deliveries reserved at least the terms' N days ago -> confirmed automatically;
6. lost or damaged parcels -> the buyer refunded from escrow, the custodian the trace record names
   charged (orders whose record names none are reported, for a person to decide);
7. cancelled orders and returned parcels -> what escrow holds goes back to the buyer (after a
   release, a return is corrected from the seller's proceeds and the fee).

Every transfer is dated by its milestone (never after the clock's now); automatic confirmations
by the run's now. Ids are deterministic (``o<order>:<step>``) and each milestone query reads only
the facts without their transfer, so a re-run completes what a crash interrupted and posts
nothing twice. The counters say how many orders (one parcel per order) each kind newly settled;
``settlement_counts`` recomputes the totals from the ledger (distinct orders per transfer code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from xborder.domain.money import FxRate, FxTable
from xborder.domain.world import World
from xborder.services.settlement_claims import (
    compensate_traced,
    declared_transfers,
    pay_transfers,
)
from xborder.services.settlement_escrow import (
    capture,
    confirm_due_transfers,
    deliver,
    penalty_transfers,
    refund,
)
from xborder.services.settlement_posting import Posted, facts, post
from xborder.settlement.contracts import (
    chargeable_weight,
    price_legs,
    rate_cards,
    stored_rate_cards,
)
from xborder.settlement.crashpoints import crash_point
from xborder.settlement.escrow import EscrowTerms
from xborder.settlement.milestones import COUNTED_CODES, COUNTERS, count_orders
from xborder.settlement.sla import SlaTerms
from xborder.store.settlement_facts_repo import SettlementFactsRepository
from xborder.store.uow import UnitOfWork

MISHAPS = ("lost", "damaged")  # parcel statuses whose buyer is compensated
ROLES = ("warehouse", "lane", "last_mile")  # in the order the parcel meets them


@dataclass(frozen=True, slots=True)
class SettleLifecycle:
    terms: EscrowTerms
    sla: SlaTerms = field(default_factory=SlaTerms)
    world: World | None = None  # the contracts and FX rates (default: as stored)


@dataclass(frozen=True, slots=True)
class LifecycleSettlement:
    """Orders (one parcel each) of each kind newly settled by this run."""

    at: datetime  # the run's now
    orders_captured: int
    taxes_withheld: int
    taxes_remitted: int
    warehouse_paid: int
    linehaul_paid: int
    last_mile_paid: int
    deliveries_released: int
    auto_confirmed: int
    losses_compensated: int
    penalties: int
    orders_refunded: int  # cancelled orders and returned parcels refunded
    transfers: int  # transfers posted
    losses_unassigned: tuple[int, ...] = ()  # lost/damaged orders whose record names no custodian

    def counters(self) -> dict[str, int]:
        """The counters by name (the same names as ``settlement_counts``)."""
        return {name: int(getattr(self, name)) for name in COUNTERS}


def settle_lifecycle(uow: UnitOfWork, command: SettleLifecycle) -> LifecycleSettlement:
    """Settle every milestone the stored lifecycle facts show that is not settled yet."""
    terms = command.terms
    with uow:
        now = uow.clock.now()
        repo = facts(uow)
        cards, fx = _contracts(repo, command.world)
        done: list[Posted] = []

        paid = repo.paid_uncaptured()
        done.append(capture(uow, terms, paid.with_columns(_until(now, "paid_at"))))
        # Steps next to each other whose reads do not depend on each other's transfers are
        # posted as one batch, in the same order (a batch is checked in order; each post has a
        # fixed cost that a simulated run pays every cycle): the tax remittances with the
        # partners' pay, the lateness penalties with the automatic confirmations.
        withheld, remits = declared_transfers(uow, terms, fx, None)
        done.append(withheld)
        owed = [remits] + [
            pay_transfers(uow, terms, _charges(legs, role, cards, now), fx)
            for role in ROLES if (legs := repo.unpaid_legs(role)).height
        ]  # fmt: skip
        done.append(post(uow, pl.concat(owed)))

        deliveries = repo.unsettled_deliveries().with_columns(_until(now, "delivered_at"))
        if deliveries.height:  # only paid orders have something in escrow to release
            done.append(deliver(uow, terms, deliveries, skip_unpaid=True))
        # penalties touch no reservation: the due ones read below are the same without them
        late = penalty_transfers(command.sla, deliveries.filter(~pl.col("penalized")).select(
            "order_id", "seller", "currency", "promised_by", "delivered_at",
            pl.coalesce("lane_carrier", "last_mile_carrier").alias("responsible"),
        ))  # fmt: skip
        done.append(post(uow, pl.concat([late, confirm_due_transfers(uow, terms, now)])))

        mishaps = repo.uncompensated_mishaps(MISHAPS).get_column("order_id").to_list()
        unassigned: list[int] = []
        if mishaps:
            compensated, unassigned = compensate_traced(uow, terms, mishaps, now)
            done.append(compensated)
        ends = repo.unrefunded_ends().with_columns(pl.col("at").fill_null(now))
        for reason in ("refund.unshipped", "refund.return"):
            dated = ends.filter(pl.col("reason") == reason).with_columns(_until(now, "at"))
            if dated.height:
                done.append(refund(uow, terms, dated.select("order_id", "at"), reason))
        uow.commit()
    crash_point("committed", "settle_lifecycle")
    new = pl.concat([p.new for p in done])
    return LifecycleSettlement(
        at=now, **count_orders(new), transfers=sum(p.result.posted for p in done),
        losses_unassigned=tuple(unassigned),
    )  # fmt: skip


def settlement_counts(uow: UnitOfWork) -> dict[str, int]:
    """Each lifecycle counter's total recomputed from the ledger: distinct orders per code."""
    with uow:
        return count_orders(uow.ledger.coded_orders(COUNTED_CODES))


def _until(now: datetime, column: str, alias: str = "at") -> pl.Expr:
    """The milestone's time, or now when the fact claims a later time (never date the future)."""
    return pl.min_horizontal(pl.col(column), pl.lit(now)).alias(alias)


def _contracts(
    repo: SettlementFactsRepository, world: World | None
) -> tuple[pl.DataFrame, FxTable]:
    if world is not None:
        return rate_cards(world.lanes, world.warehouses, world.last_mile), world.fx_table()
    fx = FxTable.of(FxRate(on, base, quote, rate, source)
                    for on, base, quote, rate, source in repo.fx_rates())  # fmt: skip
    return stored_rate_cards(repo.rate_cards()), fx


def _charges(legs: pl.DataFrame, role: str, cards: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Price one role's legs: the lane on the chargeable weight, the others on gross weight."""
    divisor = cards.filter(pl.col("role") == role).select(pl.col("ref"), "divisor")
    grams, grams_den = chargeable_weight(
        pl.col("gross_grams"), pl.col("volume_dcm3"), pl.col("divisor").fill_null(0)
    )
    frame = legs.join(divisor, on="ref", how="left").with_columns(
        pl.lit(role).alias("role"), grams.alias("grams"), grams_den.alias("grams_den"),
        _until(now, "at"),
    )  # fmt: skip
    priced = price_legs(frame.select("order_id", "role", "ref", "grams", "grams_den", "seller",
                                     "currency", "at"), cards)  # fmt: skip
    return priced.with_columns(pl.col("at").dt.date().alias("on"))
