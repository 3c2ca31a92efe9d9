"""The simulator: a discrete-event run of a world through the real use cases, day by day.

Time advances in work cycles (06:00, 12:00, 18:00, 23:59 UTC). Between cycles the outside
world acts: buyers place orders (the day's demand, with its weekday and peak factors), pay or do
not, carriers move bags and parcels, customs decide, disruptions strike. At each cycle the
platform works through its use cases exactly as an operator's scheduler would: receive inbound
stock and reorder, capture and declare the orders placed since the last cycle, record payments,
match the three documents, expire unpaid orders, plan (the real HiGHS planner), pack, bag the
day's departures, record the carriers' and customs' reports, and settle. Every event goes
through the trace ledger and every movement of money through the settlement ledger; the KPIs
are read back from the store (``xborder.services.kpis``), nothing is computed a second time.

A run is seeded: the same world, scenario and seed give the same store, bit for bit. Re-running
on the same store stores nothing twice (every use case is idempotent); it only moves time on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import polars as pl

from xborder.bootstrap import Platform
from xborder.domain.clock import SettableClock
from xborder.domain.order_rules import OrderBatch
from xborder.domain.parties import Role
from xborder.domain.world import World
from xborder.services.capture import capture_batch
from xborder.services.customs import DeclareOrders, MatchDeclared, declare_orders, match_declared
from xborder.services.customs_variance import (
    AssessmentDue,
    RecordAssessments,
    assessment_due,
    record_assessments,
)
from xborder.services.inventory import (
    AnnounceInbound,
    ReceiveInbound,
    StockPositions,
    announce_inbound,
    receive_inbound,
    stock_positions,
)
from xborder.services.order_states import ExpireUnpaid, expire_unpaid
from xborder.services.parcels import PackOrders, StepReport, pack_orders
from xborder.services.partners import (
    ClearCustoms,
    CollectPayments,
    TrackShipments,
    clear_customs,
    collect_payments,
    track_shipments,
)
from xborder.services.planning import Consolidate, PlanFulfilment, consolidate, plan_fulfilment
from xborder.services.queries import latest_record
from xborder.services.settlement import SettleLifecycle, settle_lifecycle
from xborder.services.world import LoadWorld, load_world
from xborder.settlement.escrow import EscrowTerms
from xborder.settlement.sla import SlaTerms
from xborder.simulation.config import Demand, Replenishment, ScenarioConfig
from xborder.simulation.order_generator import generate_orders
from xborder.simulation.parties import SimulatedBuyers, SimulatedCarriers, SimulatedCustoms
from xborder.simulation.replenishment import opening_stock, operated_world, reorders

Progress = Callable[[str, int, int], None]
CHUNK = 20_000
CYCLES = (time(6, 0), time(12, 0), time(18, 0), time(23, 59))
PAID = ("paid",)


@dataclass(frozen=True, slots=True)
class SimulationRun:
    """``config`` from ``first_day`` for ``order_days`` days of demand, worked until ``until``."""

    config: ScenarioConfig
    seed: int
    first_day: date
    order_days: int
    until: datetime


@dataclass(frozen=True, slots=True)
class Scenario:
    """The demo's run: ``orders`` placed on ``order_day`` (seeded by ``seed``), worked until
    ``until``, with every switch on."""

    orders: int
    seed: int
    order_day: date
    until: datetime

    def run(self) -> SimulationRun:
        demand = Demand(orders_per_day=self.orders, weekly=(1.0,) * 7, peaks=(), poisson=False)
        config = ScenarioConfig(name="demo", demand=demand,
                                replenishment=Replenishment(enabled=False))  # fmt: skip
        return SimulationRun(config, self.seed, self.order_day, 1, self.until)


@dataclass
class Tally:
    """What the use cases reported, added up over the run."""

    generated: int = 0
    captured: int = 0
    already_stored: int = 0
    rejected: int = 0
    order_ids: list[int] = field(default_factory=list)
    payments: int = 0
    orders_paid: int = 0
    expired: int = 0
    declared: int = 0
    already_declared: int = 0
    not_modelled: int = 0
    declare_errors: int = 0
    match: dict[str, int] = field(default_factory=dict)
    match_examples: list[str] = field(default_factory=list)
    plans: int = 0
    planned: int = 0
    unplanned_reasons: dict[str, int] = field(default_factory=dict)  # as of the latest plan
    packed: int = 0
    bags: int = 0
    events: int = 0
    receipts: int = 0
    assessed: int = 0  # released declarations customs assessed (reconciled with the quote)
    reached: dict[str, int] = field(default_factory=dict)  # parcel state -> parcels reaching it
    orders_reached: dict[str, int] = field(default_factory=dict)
    money: dict[str, int] = field(default_factory=dict)
    reordered: int = 0  # inbound notices sent
    received_units: int = 0
    cycles: int = 0

    def steps(self, report: StepReport) -> None:
        self.events += report.events
        for status, n in report.parcels_reached.items():
            self.reached[status] = self.reached.get(status, 0) + n
        for status, n in report.orders_moved.items():
            self.orders_reached[status] = self.orders_reached.get(status, 0) + n


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=UTC)


def daily_orders(demand: Demand, seed: int, day: date) -> int:
    """The day's order count: Poisson around the expected count (seeded by seed and day)."""
    expected = demand.expected(day)
    if not demand.poisson:
        return round(expected)
    return int(np.random.default_rng((seed, day.toordinal())).poisson(expected))


@dataclass
class _Parties:
    buyers: SimulatedBuyers
    carriers: SimulatedCarriers
    customs: SimulatedCustoms
    terms: EscrowTerms
    sla: SlaTerms


def _parties(world: World, run: SimulationRun) -> _Parties:
    cfg, sw, rates = run.config, run.config.switches, run.config.rates
    provider = next(p.id for p in world.parties if p.has(Role.PAYMENT_PROVIDER))
    error = rates.document_error * ((1 - rates.prevalidation_catch) if sw.shared_data else 1.0)
    return _Parties(
        SimulatedBuyers(run.seed, provider, share=rates.pay_share),
        SimulatedCarriers(world, run.seed, cfg.disruptions, run.first_day,
                          loose=not sw.consolidation,
                          loose_delay_hours=rates.loose_handover_delay_hours,
                          untracked=0.0 if sw.full_tracking else rates.untracked_share),
        SimulatedCustoms(run.seed, rates.customs_hold, rates.customs_inspect,
                         rates.customs_reject, error, cfg.disruptions, run.first_day),
        # without escrow the seller is paid on delivery and no SLA is contracted
        EscrowTerms(platform=provider, auto_confirm_days=7 if sw.escrow else 0),
        SlaTerms() if sw.escrow else SlaTerms(penalty_per_day=0, penalty_cap=0),
    )  # fmt: skip


def simulate(
    platform: Platform, clock: SettableClock, world: World, run: SimulationRun,
    progress: Progress | None = None,
) -> Tally:  # fmt: skip
    """Run ``run`` on ``platform`` (whose clock is ``clock``)."""
    tally = Tally()
    world = operated_world(world, run.config.switches)
    load_world(platform.uow(), LoadWorld(world))
    clock.set(max(clock.now(), min(_at(run.first_day, time(0, 5)), run.until)))
    stored = latest_record(platform.uow())  # a run again on this store goes on from there
    if stored is not None and stored > clock.now():
        clock.set(min(stored, run.until))
    parties = _parties(world, run)
    opening = opening_stock(world)
    last_day = max(run.until.date(), run.first_day + timedelta(days=run.order_days - 1))
    moments = [
        _at(run.first_day + timedelta(days=d), t)
        for d in range((last_day - run.first_day).days + 1) for t in CYCLES
    ]  # fmt: skip
    moments = [m for m in moments if m <= run.until] + [run.until]
    pending = _Pending(world, run)
    to_match: list[int] = []
    for i, moment in enumerate(moments):
        clock.set(max(clock.now(), moment))
        if moment.time() == CYCLES[0] or i == 0:
            _replenish(platform, run.config.replenishment, opening, moment.date(), tally)
        new_ids = _capture(platform, pending.due(moment), moment.date(), tally)
        _cycle(platform, parties, run, world, tally, to_match)
        to_match = new_ids
        if progress:
            progress("simulate", i + 1, len(moments))
    return tally


def run_scenario(
    platform: Platform, clock: SettableClock, world: World, scenario: Scenario,
    progress: Progress | None = None,
) -> Tally:  # fmt: skip
    """The demo's one day of orders (see ``Scenario``)."""
    return simulate(platform, clock, world, scenario.run(), progress)


class _Pending:
    """Orders generated for each day of demand, handed out once their placing time has come."""

    def __init__(self, world: World, run: SimulationRun) -> None:
        self.world, self.run = world, run
        self.days = [run.first_day + timedelta(days=d) for d in range(run.order_days)]
        self.batches: list[tuple[OrderBatch, pl.Series]] = []

    def due(self, moment: datetime) -> list[OrderBatch]:
        while self.days and self.days[0] <= moment.date():
            day = self.days.pop(0)
            n = daily_orders(self.run.config.demand, self.run.seed, day)
            if n:
                seed = self.run.seed * 10_000 + (day - self.run.first_day).days
                batch = generate_orders(self.world, n, seed=seed, day=day)
                placed = batch.orders.get_column("placed_at").str.to_datetime(
                    "%Y-%m-%dT%H:%M:%S%:z", time_zone="UTC")  # fmt: skip
                self.batches.append((batch, placed))
        out: list[OrderBatch] = []
        keep: list[tuple[OrderBatch, pl.Series]] = []
        for batch, placed in self.batches:
            now = placed <= moment
            if now.any():
                recs = batch.orders.get_column("rec").filter(now).implode()
                out.append(_subset(batch, recs))
            if not now.all():
                recs = batch.orders.get_column("rec").filter(~now).implode()
                later = _subset(batch, recs)
                keep.append((later, placed.filter(~now)))
        self.batches = keep
        return out


def _subset(batch: OrderBatch, recs: pl.Series) -> OrderBatch:
    return OrderBatch(batch.orders.filter(pl.col("rec").is_in(recs)),
                      batch.lines.filter(pl.col("rec").is_in(recs)))  # fmt: skip


def _capture(platform: Platform, batches: list[OrderBatch], on: date, tally: Tally) -> list[int]:
    ids: list[int] = []
    for batch in batches:
        recs = batch.orders.get_column("rec")
        tally.generated += recs.len()
        for start in range(0, recs.len(), CHUNK):
            report = capture_batch(platform.uow(), _subset(batch, recs.slice(start, CHUNK)
                                                          .implode()))  # fmt: skip
            ids.extend(report.results.get_column("order_id").drop_nulls().to_list())
            tally.captured += report.created
            tally.already_stored += report.existing
            tally.rejected += report.rejected
    tally.order_ids.extend(ids)
    if ids:
        declared = declare_orders(platform.uow(), DeclareOrders(tuple(ids), on=on))
        tally.declared += declared.declared
        tally.already_declared += declared.already
        tally.not_modelled += declared.not_modelled
        tally.declare_errors += len(declared.errors)
    return ids


def _replenish(platform: Platform, policy: Replenishment, opening: dict[tuple[str, str], int],
               on: date, tally: Tally) -> None:  # fmt: skip
    tally.received_units += receive_inbound(platform.uow(), ReceiveInbound())
    notices = reorders(stock_positions(platform.uow(), StockPositions()), opening, policy, on)
    if notices:
        tally.reordered += announce_inbound(platform.uow(), AnnounceInbound(notices))


def _cycle(platform: Platform, p: _Parties, run: SimulationRun, world: World, tally: Tally,
           to_match: list[int]) -> None:  # fmt: skip
    paid = collect_payments(platform.uow(), CollectPayments(p.buyers))
    tally.payments += paid.recorded
    tally.orders_paid += paid.orders_paid
    if to_match:  # the three documents, once the buyers' payments are in
        match = match_declared(platform.uow(), MatchDeclared(tuple(to_match)))
        for status, n in match.counts.items():
            tally.match[status] = tally.match.get(status, 0) + n
        room = max(0, 5 - len(tally.match_examples))
        tally.match_examples += [f"{x.order_no}: {x.rule} {x.field}" for x in match.examples][:room]
    tally.expired += expire_unpaid(platform.uow(), ExpireUnpaid()).cancelled
    plan = plan_fulfilment(platform.uow(), PlanFulfilment(statuses=PAID))
    if plan.plan_id is not None:
        tally.plans += 1
        tally.planned += plan.assigned
        tally.unplanned_reasons = dict(plan.reasons)  # each plan covers every open order
    packed = pack_orders(platform.uow(), PackOrders())
    tally.packed += packed.parcels
    tally.events += packed.events
    bags = consolidate(platform.uow(), Consolidate(
        departing_by=platform.clock.now().date(),
        one_per_bag=not run.config.switches.consolidation,
    ))  # fmt: skip
    tally.bags += bags.consolidations
    tally.events += bags.events
    tally.steps(track_shipments(platform.uow(), TrackShipments(p.carriers)))
    cleared = clear_customs(platform.uow(), ClearCustoms(p.customs))
    tally.steps(cleared.steps)
    tally.receipts += cleared.receipts
    due = assessment_due(platform.uow(), AssessmentDue())
    if due.height:
        items = p.customs.assess(due.iter_rows(named=True))
        tally.assessed += len(record_assessments(platform.uow(), RecordAssessments(items)))
    tally.steps(track_shipments(platform.uow(), TrackShipments(p.carriers)))
    money = settle_lifecycle(platform.uow(), SettleLifecycle(p.terms, p.sla, world))
    for name, n in money.counters().items():
        tally.money[name] = tally.money.get(name, 0) + n
    tally.cycles += 1
