"""The scenario runner: a simulated clock advanced through the real use cases, with the outside
parties (buyers, carriers, customs) simulated behind the platform's ports.

One day of orders is placed on ``order_day``; the runner then works the platform four times a
day (06:00, 12:00, 18:00, 23:59 UTC) until ``until``: buyers' payments come in, unpaid orders
expire, paid orders are planned, packed and bagged, carriers and customs report what happened
since the last cycle, and the money follows. Every step is a use case with a typed result; the
runner adds the results up in a ``Tally`` (no shared dictionary of facts between steps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from xborder.bootstrap import Platform
from xborder.domain.clock import SettableClock
from xborder.domain.parties import Role
from xborder.domain.world import World
from xborder.services.capture import capture_batch
from xborder.services.customs import DeclareOrders, MatchDeclared, declare_orders, match_declared
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
from xborder.simulation.order_generator import generate_orders
from xborder.simulation.parties import SimulatedBuyers, SimulatedCarriers, SimulatedCustoms

Progress = Callable[[str, int, int], None]
CHUNK = 20_000
CYCLES = (time(6, 0), time(12, 0), time(18, 0), time(23, 59))
PAID = ("paid",)


@dataclass(frozen=True, slots=True)
class Scenario:
    """``orders`` placed on ``order_day`` (seeded by ``seed``), worked until ``until``."""

    orders: int
    seed: int
    order_day: date
    until: datetime


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
    reached: dict[str, int] = field(default_factory=dict)  # parcel state -> parcels reaching it
    orders_reached: dict[str, int] = field(default_factory=dict)
    money: dict[str, int] = field(default_factory=dict)
    cycles: int = 0

    def steps(self, report: StepReport) -> None:
        self.events += report.events
        for status, n in report.parcels_reached.items():
            self.reached[status] = self.reached.get(status, 0) + n
        for status, n in report.orders_moved.items():
            self.orders_reached[status] = self.orders_reached.get(status, 0) + n


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=UTC)


def run_scenario(
    platform: Platform, clock: SettableClock, world: World, scenario: Scenario,
    progress: Progress | None = None,
) -> Tally:  # fmt: skip
    """Run the scenario on ``platform`` (whose clock is ``clock``); re-running it on the same
    store stores nothing twice (every use case is idempotent), it only moves time on."""
    tally = Tally()
    load_world(platform.uow(), LoadWorld(world))
    start = _at(scenario.order_day + timedelta(days=1), time(0, 5))
    clock.set(max(clock.now(), min(start, scenario.until)))
    stored = latest_record(platform.uow())  # a run again on this store goes on from there
    if stored is not None and stored > clock.now():
        clock.set(min(stored, scenario.until))
    _capture(platform, world, scenario, tally, progress)
    _declare(platform, scenario, tally)
    provider = next(p.id for p in world.parties if p.has(Role.PAYMENT_PROVIDER))
    parties = (
        SimulatedBuyers(scenario.seed, provider),
        SimulatedCarriers(world, scenario.seed),
        SimulatedCustoms(scenario.seed),
    )
    terms, sla = EscrowTerms(platform=provider), SlaTerms()
    moments = [
        _at(scenario.order_day + timedelta(days=d), t)
        for d in range(1, (scenario.until.date() - scenario.order_day).days + 1)
        for t in CYCLES
    ]
    moments = [m for m in moments if clock.now() <= m <= scenario.until] + [scenario.until]
    for i, moment in enumerate(moments):
        clock.set(max(clock.now(), moment))
        _cycle(platform, parties, terms, sla, world, tally, first=i == 0)
        if progress:
            progress("simulate days", i + 1, len(moments))
    return tally


def _capture(
    platform: Platform, world: World, scenario: Scenario, tally: Tally, progress: Progress | None
) -> None:
    batch = generate_orders(world, scenario.orders, seed=scenario.seed, day=scenario.order_day)
    tally.generated = scenario.orders
    recs = batch.orders.get_column("rec")
    for start in range(0, scenario.orders, CHUNK):
        part = recs.slice(start, CHUNK).implode()
        chunk = type(batch)(batch.orders.filter(pl.col("rec").is_in(part)),
                            batch.lines.filter(pl.col("rec").is_in(part)))  # fmt: skip
        report = capture_batch(platform.uow(), chunk)
        tally.order_ids.extend(report.results.get_column("order_id").to_list())
        tally.captured += report.created
        tally.already_stored += report.existing
        tally.rejected += report.rejected
        if progress:
            progress("capture orders", min(start + CHUNK, scenario.orders), scenario.orders)


def _declare(platform: Platform, scenario: Scenario, tally: Tally) -> None:
    ids = tuple(tally.order_ids)
    report = declare_orders(platform.uow(), DeclareOrders(ids, on=scenario.order_day))
    tally.declared += report.declared
    tally.already_declared += report.already
    tally.not_modelled += report.not_modelled
    tally.declare_errors += len(report.errors)


def _cycle(
    platform: Platform, parties: tuple[SimulatedBuyers, SimulatedCarriers, SimulatedCustoms],
    terms: EscrowTerms, sla: SlaTerms, world: World, tally: Tally, first: bool,
) -> None:  # fmt: skip
    buyers, carriers, customs = parties
    paid = collect_payments(platform.uow(), CollectPayments(buyers))
    tally.payments += paid.recorded
    tally.orders_paid += paid.orders_paid
    if first:  # the three documents, once the buyers' payments are in
        match = match_declared(platform.uow(), MatchDeclared(tuple(tally.order_ids)))
        tally.match = dict(match.counts)
        tally.match_examples = [f"{p.order_no}: {p.rule} {p.field}" for p in match.examples]
    tally.expired += expire_unpaid(platform.uow(), ExpireUnpaid()).cancelled
    plan = plan_fulfilment(platform.uow(), PlanFulfilment(statuses=PAID))
    if plan.plan_id is not None:
        tally.plans += 1
        tally.planned += plan.assigned
        tally.unplanned_reasons = dict(plan.reasons)  # each plan covers every open order
    packed = pack_orders(platform.uow(), PackOrders())
    tally.packed += packed.parcels
    tally.events += packed.events
    bags = consolidate(platform.uow(), Consolidate(departing_by=platform.clock.now().date()))
    tally.bags += bags.consolidations
    tally.events += bags.events
    tally.steps(track_shipments(platform.uow(), TrackShipments(carriers)))
    cleared = clear_customs(platform.uow(), ClearCustoms(customs))
    tally.steps(cleared.steps)
    tally.receipts += cleared.receipts
    tally.steps(track_shipments(platform.uow(), TrackShipments(carriers)))
    money = settle_lifecycle(platform.uow(), SettleLifecycle(terms, sla, world))
    for name, n in money.counters().items():
        tally.money[name] = tally.money.get(name, 0) + n
    tally.cycles += 1
