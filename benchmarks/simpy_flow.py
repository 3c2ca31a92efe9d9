"""The baseline of ``bench_simulate.py``: the platform's parcel flow as a classic SimPy model.

One SimPy process per parcel (an order ships as one parcel, as in the platform), lanes as SimPy
``Container`` resources holding each departure day's kg capacity, bags as shared processes. The
flow and its figures are the platform simulator's (``xborder.simulation.scenario`` and
``xborder.simulation.parties``), read from the same world (``read_world()``) and the same
generated orders (``generate_orders`` with the same seed):

order placed -> paid (the simulated buyers' share, 1-30 min later) -> planned at the next work
cycle (06:00, 12:00, 18:00, 23:59 UTC, from the order day on) to the cheapest
route the planner's rule allows (a warehouse stocking every line; in the buyer's country, or a
lane from the warehouse's hub; any last-mile carrier there; cost = lane freight on chargeable
kg + handling + last mile + the planner's price of expected lateness against the promise, in
CNY; the lane's capacity on the departure the order can make) ->
packed -> bagged per lane at the first cycle of its departure day (bags filled in turn up to
the planner's limits: 30 kg bags, 28.2 t containers) -> export cleared (CN origin)
-> departs at the lane's cut-off (+3 h, origin local time) -> line haul lognormal (lane mean,
p95) -> arrived -> opened 2-8 h later (lost at the lane's rate) -> import customs (release, hold,
inspect, reject shares, and the documents' discrepancy rate left after pre-validation; declared
in-country orders clear from the bonded zone) -> out for
delivery 6-20 h later -> last mile lognormal (carrier mean, p95), loss and damage at the
carrier's (and the lane's damage) rate, first-attempt rate, a second round 16-30 h after a
failed attempt -> delivered.

The figures come from the run's ``ScenarioConfig`` (``Figures.of``). Where it simplifies: the
planner is greedy per parcel (the platform solves a wave at once and re-plans what it could not
serve), random draws come from one seeded stream (the platform seeds each decision by its
subject), disruptions, loose hand-over, unconnected carriers and replenishment are not modelled
(the benchmark's scenario has none of them), and no money, declarations or trace records are
kept. It is a plausibility check of the platform's
KPIs and a speed baseline, not a second implementation to trust.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import simpy

from xborder.domain.network import WEEKDAYS, Lane, LastMileCarrier, Warehouse
from xborder.domain.timezones import COUNTRY_ZONE
from xborder.domain.world import World
from xborder.planning.consolidation import DEFAULT_LIMITS
from xborder.planning.cost_model import expected_lateness
from xborder.planning.wave import LATE_PENALTY_PER_DAY
from xborder.simulation.config import ScenarioConfig
from xborder.simulation.parties import Z95
from xborder.simulation.replenishment import operated_world
from xborder.simulation.scenario import CYCLES

HOUR = 1 / 24
MINUTE = 1 / 1440
PLAN_CURRENCY = "CNY"


@dataclass(frozen=True, slots=True)
class Figures:
    """The simulated parties' behaviour, as the platform's runner configures them."""

    pay_share: float = 0.9
    hold: float = 0.02
    inspect: float = 0.03
    reject: float = 0.002
    document_error: float = 0.0  # declarations held for a discrepancy (after pre-validation)

    @classmethod
    def of(cls, config: ScenarioConfig) -> Figures:
        rates, shared = config.rates, config.switches.shared_data
        error = rates.document_error * ((1 - rates.prevalidation_catch) if shared else 1.0)
        return cls(rates.pay_share, rates.customs_hold, rates.customs_inspect,
                   rates.customs_reject, error)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FlowOrder:
    """One generated order as the flow needs it; times in days since the order day 00:00 UTC."""

    placed: float
    dest: str
    declared: bool  # an import into CN: declared, so it clears customs even in-country
    kg: float
    cm3: float
    lines: tuple[tuple[str, int], ...]
    placed_minute: int
    promise_days: int


@dataclass(frozen=True, slots=True)
class Route:
    warehouse: str
    lane: Lane | None
    carrier: LastMileCarrier
    cost_fixed: float  # handling + last mile per parcel (CNY)
    cost_per_kg: float  # last mile per kg (CNY)
    lane_per_kg: float
    lane_per_parcel: float
    lane_minimum: float
    divisor: int
    transit_mean: float  # line haul + last mile, as the planner adds them
    transit_p95: float


@dataclass
class FlowKpis:
    """The platform summary's counters, counted the same way (parcels reaching each state)."""

    orders: int = 0
    paid: int = 0
    planned: int = 0
    unserved: int = 0
    bags: int = 0
    departed: int = 0
    import_held: int = 0
    delivered: int = 0
    damaged: int = 0
    lost: int = 0
    returned: int = 0
    attempts_failed: int = 0
    delivery_days: list[float] = field(default_factory=list)

    @property
    def mean_delivery_days(self) -> float:
        days = self.delivery_days
        return sum(days) / len(days) if days else float("nan")

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "delivery_days"}
        out["mean_delivery_days"] = round(self.mean_delivery_days, 3)
        return out


def flow_orders(world: World, batch: Any, day: date) -> list[FlowOrder]:
    """The generator's orders (an ``OrderBatch``) reduced to what the flow needs."""
    products = pl.DataFrame(
        {
            "sku": [p.sku for p in world.products],
            "kg": [float(p.gross_weight_kg) for p in world.products],
            "cm3": [float(p.length_cm * p.width_cm * p.height_cm) for p in world.products],
        }
    )
    lines = (
        batch.lines.select("rec", "sku", pl.col("qty").cast(pl.Int64))
        .join(products, on="sku", how="left")
        .group_by("rec")
        .agg(
            (pl.col("kg") * pl.col("qty")).sum().alias("kg"),
            (pl.col("cm3") * pl.col("qty")).sum().alias("cm3"),
            pl.col("sku"),
            pl.col("qty"),
        )
    )
    frame = batch.orders.select(
        "rec", "consignee_country", "direction", "placed_at", "promised_by"
    ).join(lines, on="rec", how="left")
    origin = datetime.combine(day, time(0), tzinfo=UTC)
    out: list[FlowOrder] = []
    for r in frame.sort("rec").iter_rows(named=True):
        placed = r["placed_at"]
        if isinstance(placed, str):
            placed = datetime.fromisoformat(placed)
        if placed.tzinfo is None:
            placed = placed.replace(tzinfo=UTC)
        out.append(
            FlowOrder(
                placed=(placed - origin).total_seconds() / 86400,
                dest=str(r["consignee_country"]),
                declared=str(r["direction"]) == "import",
                kg=float(r["kg"] or 0.0),
                cm3=float(r["cm3"] or 0.0),
                lines=tuple(zip(r["sku"] or [], r["qty"] or [], strict=True)),
                placed_minute=placed.hour * 60 + placed.minute,
                promise_days=(_day(r["promised_by"]) - placed.date()).days,
            )
        )
    return out


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _fx(world: World, on: date) -> dict[str, float]:
    best: dict[str, tuple[date, float]] = {}
    for e in world.fx:
        if (
            e.quote == PLAN_CURRENCY
            and e.date <= on
            and (e.base not in best or best[e.base][0] < e.date)
        ):
            best[e.base] = (e.date, float(e.rate))
    return {PLAN_CURRENCY: 1.0} | {k: v for k, (_, v) in best.items()}


def _lognormal(rng: random.Random, mean: float, p95: float) -> float:
    """The platform's draw: a lognormal whose mean and 95th percentile are the given figures."""
    sigma = max(math.log(max(p95, mean * 1.0001) / mean) / Z95, 1e-3)
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


class FlowModel:
    """The SimPy model: build it, then ``run(orders)`` returns the KPIs at the horizon."""

    def __init__(
        self, world: World, seed: int, day: date, until: datetime, config: ScenarioConfig
    ) -> None:
        world = operated_world(world, config.switches)
        self.figures = Figures.of(config)
        self.env = simpy.Environment()
        self.rng = random.Random(seed)
        self.day = day
        self.origin = datetime.combine(day, time(0), tzinfo=UTC)
        self.horizon = (until - self.origin).total_seconds() / 86400
        self.kpis = FlowKpis()
        self.cycles = [  # the runner's work cycles, from the order day on
            d + (t.hour * 60 + t.minute) * MINUTE
            for d in range(int(self.horizon) + 1)
            for t in CYCLES
        ]
        self.cycles = [c for c in self.cycles if c <= self.horizon] + [self.horizon]
        self.stock: dict[tuple[str, str], int] = {}
        for p in world.inventory:
            self.stock[(p.warehouse, p.sku)] = self.stock.get((p.warehouse, p.sku), 0) + (
                p.on_hand - p.reserved
            )
        self.hub_country = {h.id: h.country for h in world.hubs}
        self.routes = self._routes(world, _fx(world, day))
        self.capacity: dict[tuple[str, int], simpy.Container] = {}
        self.bags: dict[tuple[str, float], tuple[simpy.Event, float, float]] = {}
        self.lateness: dict[tuple[float, float, int], float] = {}

    # --- the network: every (warehouse, lane or in-country, last-mile carrier) route ----------
    def _routes(self, world: World, rate: dict[str, float]) -> dict[str, list[Route]]:
        stocked = {w for (w, _s), q in self.stock.items() if q > 0}
        by_dest: dict[str, list[Route]] = {}
        for wh in world.warehouses:
            if wh.id not in stocked:
                continue
            handling = float(wh.handling_per_order) * rate[wh.handling_currency]
            for dest in {d.country for d in world.demand}:
                legs: Iterable[Lane | None] = (
                    [None]
                    if wh.country == dest
                    else [
                        ln
                        for ln in world.lanes
                        if ln.origin_hub == wh.hub and ln.dest_country == dest
                    ]
                )
                for ln in legs:
                    for m in (m for m in world.last_mile if m.country == dest):
                        by_dest.setdefault(dest, []).append(self._route(wh, ln, m, handling, rate))
        return by_dest

    @staticmethod
    def _route(
        wh: Warehouse, ln: Lane | None, m: LastMileCarrier, handling: float, rate: dict[str, float]
    ) -> Route:
        fx_m, fx_l = rate[m.currency], rate[ln.currency] if ln else 1.0
        zero = Decimal(0)
        return Route(
            wh.id, ln, m, handling + float(m.per_parcel) * fx_m, float(m.per_kg) * fx_m,
            float(ln.per_kg if ln else zero) * fx_l, float(ln.per_parcel if ln else zero) * fx_l,
            float(ln.minimum if ln else zero) * fx_l, ln.volumetric_divisor if ln else 0,
            m.transit_mean_days + (ln.transit_mean_days if ln else 0.0),
            m.transit_p95_days + (ln.transit_p95_days if ln else 0.0),
        )  # fmt: skip

    def _late(self, r: Route, slack: int) -> float:
        """The planner's lateness cost: CNY per expected day late, from the route's transit."""
        key = (r.transit_mean, r.transit_p95, slack)
        if key not in self.lateness:
            late = expected_lateness(r.transit_mean, r.transit_p95, np.array([float(slack)]))
            self.lateness[key] = LATE_PENALTY_PER_DAY * float(late[0])
        return self.lateness[key]

    def _wait(self, lane: Lane, o: FlowOrder) -> int:
        """Days from the placing day to the departure the order can make (the planner's rule)."""
        cutoff = int(lane.cutoff[:2]) * 60 + int(lane.cutoff[3:5])
        weekday = self.day.weekday() + int(o.placed)
        for d in range(8):
            if WEEKDAYS[(weekday + d) % 7] in lane.departure_days and (
                d or o.placed_minute <= cutoff
            ):
                return d
        return -1

    def _lane_room(self, lane: Lane, dep: int) -> simpy.Container:
        key = (lane.id, dep)
        if key not in self.capacity:
            cap = float(max(lane.daily_capacity_kg, 1))
            self.capacity[key] = simpy.Container(self.env, capacity=cap, init=cap)
        return self.capacity[key]

    def plan(self, o: FlowOrder) -> tuple[Route, int] | None:
        """The cheapest route with stock for every line and room on its departure."""
        best: tuple[float, Route, int] | None = None
        for r in self.routes.get(o.dest, ()):
            if any(self.stock.get((r.warehouse, s), 0) < q for s, q in o.lines):
                continue
            dep, wait = -1, 0
            cost = r.cost_fixed + r.cost_per_kg * o.kg
            if r.lane is not None:
                ln = r.lane
                if ln.max_parcel_kg is not None and o.kg > float(ln.max_parcel_kg):
                    continue
                wait = self._wait(ln, o)
                dep = int(o.placed) + wait
                if wait < 0 or self._lane_room(ln, dep).level < o.kg:
                    continue
                kg = max(o.kg, o.cm3 / r.divisor) if r.divisor else o.kg
                cost += max(r.lane_per_kg * kg + r.lane_per_parcel, r.lane_minimum)
            cost += self._late(r, o.promise_days - wait)
            if best is None or cost < best[0]:
                best = (cost, r, dep)
        if best is None:
            return None
        _, route, dep = best
        for s, q in o.lines:
            self.stock[(route.warehouse, s)] -= q
        return route, dep

    def next_cycle(self, t: float) -> float | None:
        for c in self.cycles:
            if c >= t:
                return c
        return None

    # --- bags: one process per lane and consolidation cycle -----------------------------------
    def _departure(self, lane: Lane, dep: int, since: float) -> float:
        zone = ZoneInfo(COUNTRY_ZONE.get(self.hub_country.get(lane.origin_hub, "CN"), "UTC"))
        hour, minute = int(lane.cutoff[:2]), int(lane.cutoff[3:5])
        day = self.day + timedelta(days=dep)
        local = datetime.combine(day, time(hour, minute), tzinfo=zone) + timedelta(hours=3)
        return max((local - self.origin).total_seconds() / 86400, since + HOUR)

    def bag(self, lane: Lane, dep: int, o: FlowOrder) -> simpy.Event | None:
        """The bag the parcel rides in: filled in turn up to the mode's limits (next fit)."""
        cycle = self.next_cycle(max(self.env.now, float(dep)))
        if cycle is None:
            return None
        limits = DEFAULT_LIMITS.get(lane.mode.value, DEFAULT_LIMITS["air"])
        key = (lane.id, cycle)
        open_bag = self.bags.get(key)
        if open_bag is None or open_bag[1] < o.kg or open_bag[2] < o.cm3:
            opened = self.env.event()
            open_bag = (opened, limits.max_kg, limits.max_cm3)
            self.env.process(self._bag(lane, dep, cycle, opened))
        event, kg, cm3 = open_bag
        self.bags[key] = (event, kg - o.kg, cm3 - o.cm3)
        return event

    def _bag(
        self, lane: Lane, dep: int, cycle: float, opened: simpy.Event
    ) -> Generator[simpy.Event, Any, None]:
        env, rng = self.env, self.rng
        yield env.timeout(cycle - env.now)  # consolidated at the first cycle of the day
        self.kpis.bags += 1
        departure, at = self._departure(lane, dep, cycle), cycle
        if self.hub_country.get(lane.origin_hub) == "CN":  # 9610 export list cleared
            at = max(at + 30 * MINUTE, departure - 3 * HOUR)
            yield env.timeout(at - env.now)
        at = max(at + 30 * MINUTE, departure)
        yield env.timeout(at - env.now)
        self.kpis.departed += 1
        at += _lognormal(rng, lane.transit_mean_days, lane.transit_p95_days)
        yield env.timeout(at - env.now)  # arrived
        yield env.timeout(rng.uniform(2, 8) * HOUR)  # opened at the hub
        opened.succeed(env.now)

    # --- one parcel ---------------------------------------------------------------------------
    def parcel(self, o: FlowOrder) -> Generator[simpy.Event, Any, None]:
        env, rng, k = self.env, self.rng, self.kpis
        if rng.random() >= self.figures.pay_share:
            return  # never paid: the order expires
        yield env.timeout(rng.uniform(1, 30) * MINUTE)
        k.paid += 1
        cycle = self.next_cycle(env.now)
        if cycle is None:
            return
        yield env.timeout(cycle - env.now)
        planned = self.plan(o)
        if planned is None:
            k.unserved += 1
            return
        route, dep = planned
        k.planned += 1  # packed in the same cycle
        lane = route.lane
        if lane is not None:
            if o.kg > 0:  # SimPy refuses an empty get
                yield self._lane_room(lane, dep).get(o.kg)
            opened = self.bag(lane, dep, o)
            if opened is None:
                return
            yield opened
            if rng.random() < lane.loss_rate:  # missing when the bag is opened
                k.lost += 1
                return
        if lane is not None or o.declared:
            cleared = yield from self._customs()
            if not cleared:
                return
        yield from self._last_mile(o, route)

    def _customs(self) -> Generator[simpy.Event, Any, bool]:
        env, rng, k, f = self.env, self.rng, self.kpis, self.figures
        draw = rng.random()
        yield env.timeout(rng.uniform(2, 30) * HOUR)
        if draw >= f.reject + f.hold + f.inspect and rng.random() >= f.document_error:
            return True  # released
        k.import_held += 1
        if draw < f.reject:
            yield env.timeout(5.0)
            k.returned += 1
            return False
        yield env.timeout(rng.uniform(20, 72) * HOUR)
        return True

    def _last_mile(self, o: FlowOrder, route: Route) -> Generator[simpy.Event, Any, None]:
        env, rng, k, m = self.env, self.rng, self.kpis, route.carrier
        damage = m.damage_rate + (route.lane.damage_rate if route.lane else 0.0)
        wait = (6.0, 20.0)
        for attempt in range(2):
            yield env.timeout(rng.uniform(*wait) * HOUR)  # out for delivery
            yield env.timeout(_lognormal(rng, m.transit_mean_days, m.transit_p95_days))
            draw = rng.random()
            if draw < m.loss_rate:
                k.lost += 1
                return
            if draw < m.loss_rate + damage:
                k.damaged += 1
                yield env.timeout(2 * MINUTE)
                break
            if attempt == 0 and rng.random() > m.first_attempt_rate:
                k.attempts_failed += 1
                wait = (16.0, 30.0)
                continue
            break
        k.delivered += 1
        k.delivery_days.append(env.now - o.placed)

    def _source(self, orders: list[FlowOrder]) -> Generator[simpy.Event, Any, None]:
        """Places the orders in time order, one process per parcel."""
        for o in sorted(orders, key=lambda x: x.placed):
            if o.placed > self.env.now:
                yield self.env.timeout(o.placed - self.env.now)
            self.env.process(self.parcel(o))

    def run(self, orders: list[FlowOrder]) -> FlowKpis:
        self.kpis.orders = len(orders)
        self.env.process(self._source(orders))
        self.env.run(until=self.horizon)
        return self.kpis
