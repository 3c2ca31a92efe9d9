"""Compile orders, sources, lanes and routes (columnar) into the planner's ``Problem``.

One pass per source (which units can it serve whole?) and one per route (which units does it reach,
at what cost?): the work is a handful of NumPy operations per route, never a loop per order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from xborder.domain.errors import InvalidValue
from xborder.planning.cost_model import DutiesHook, departure_wait, expected_lateness, freight
from xborder.planning.problem import F64, I64, Problem

DAYS_AHEAD = 8  # capacity rows per lane: departures on the ready day and the seven after


@dataclass(frozen=True, slots=True)
class OrderColumns:
    """Orders and their lines; ``line_weight`` is the kg of the whole line (qty included)."""

    dest: I64
    promise_days: F64
    penalty: F64
    split: NDArray[np.bool_]
    line_order: I64
    line_sku: I64
    line_qty: I64
    line_weight: F64
    ready_day: I64 | None = None  # days since a Monday
    ready_minute: I64 | None = None  # minute of the day the order is ready to leave
    line_volume_cm3: F64 | None = None  # for volumetric (dimensional) weight

    @property
    def n(self) -> int:
        return int(self.dest.size)


@dataclass(frozen=True, slots=True)
class LaneColumns:
    """International lanes: capacity per departure, weekdays (Mon first) and cut-off."""

    capacity_kg: F64
    weekdays: NDArray[np.bool_] | None = None  # (lanes, 7); None: departs every day
    cutoff_minute: I64 | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One way to serve a destination from a source: via a lane (or in-country), then last mile."""

    name: str
    source: int
    dest: int
    lane: int  # -1: in-country, no international lane
    per_kg: float = 0.0
    per_parcel: float = 0.0
    minimum: float = 0.0
    handling: float = 0.0
    last_mile_per_parcel: float = 0.0
    last_mile_per_kg: float = 0.0
    transit_mean: float = 0.0  # door to door, days
    transit_p95: float | None = None  # None: deterministic transit
    domestic: bool | None = None  # in-country stock (greedy prefers it); default: no lane
    volumetric_divisor: float = 0.0  # cm3 per kg; 0: bill actual weight only
    max_parcel_kg: float | None = None  # heavier units cannot take this route


@dataclass(frozen=True, slots=True)
class Network:
    inventory: I64  # (sources, skus)
    lanes: LaneColumns
    routes: tuple[Route, ...]
    late_penalty_per_day: float = 0.0
    duties: DutiesHook | None = field(default=None)


def _units(orders: OrderColumns) -> tuple[I64, I64]:
    """Unit of each line (orders that may split become one unit per line) and unit -> order."""
    order_of_line = orders.line_order
    if orders.line_order.size and (np.diff(order_of_line) < 0).any():
        raise ValueError("lines must be sorted by order")
    splits = orders.split[order_of_line]
    first = np.ones(order_of_line.size, dtype=bool)
    first[1:] = order_of_line[1:] != order_of_line[:-1]
    new_unit = first | splits
    line_unit = np.cumsum(new_unit) - 1
    unit_order = order_of_line[new_unit]
    return line_unit.astype(np.int64), unit_order.astype(np.int64)


def _merge_lines(line_unit: I64, line_sku: I64, line_qty: I64) -> tuple[I64, I64, I64]:
    """One line per (unit, sku): repeated SKUs in an order add up (sorted by unit, then sku)."""
    order = np.lexsort((line_sku, line_unit))
    u, k, q = line_unit[order], line_sku[order], line_qty[order]
    first = np.r_[True, (u[1:] != u[:-1]) | (k[1:] != k[:-1])] if u.size else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    qty = np.add.reduceat(q, starts) if starts.size else q
    return u[starts].astype(np.int64), k[starts].astype(np.int64), qty.astype(np.int64)


def _signature(line_unit: I64, line_sku: I64, line_qty: I64, n_units: int) -> I64:
    """A hash of each unit's multiset of (sku, qty): the sum of splitmix64 hashes of its lines."""
    x = (line_sku.astype(np.uint64) << np.uint64(20)) ^ line_qty.astype(np.uint64)
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    if not n_units:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, line_unit[1:] != line_unit[:-1]])
    return np.add.reduceat(x, starts).view(np.int64)


def build(orders: OrderColumns, network: Network) -> Problem:
    """The planner's problem for these orders on this network."""
    inv = network.inventory
    n_skus = inv.shape[1]
    if orders.line_sku.size and (orders.line_sku.min() < 0 or orders.line_sku.max() >= n_skus):
        raise InvalidValue("sku", "unknown sku index")
    raw_unit, unit_order = _units(orders)
    line_unit, line_sku, line_qty = _merge_lines(raw_unit, orders.line_sku, orders.line_qty)
    n_units = int(unit_order.size)
    unit_weight = np.bincount(raw_unit, weights=orders.line_weight, minlength=n_units)
    unit_volume = (
        np.bincount(raw_unit, weights=orders.line_volume_cm3, minlength=n_units)
        if orders.line_volume_cm3 is not None
        else np.zeros(n_units)
    )
    unit_dest = orders.dest[unit_order]
    unit_promise = orders.promise_days[unit_order]
    unit_penalty = orders.penalty[unit_order].astype(np.float64)
    ready_day = (
        orders.ready_day[unit_order]
        if orders.ready_day is not None
        else np.zeros(n_units, dtype=np.int64)
    )
    ready_min = (
        orders.ready_minute[unit_order]
        if orders.ready_minute is not None
        else np.zeros(n_units, dtype=np.int64)
    )

    # Which units can each source serve whole (every line's qty in stock)?
    used_sources = sorted({r.source for r in network.routes})
    can_serve: dict[int, NDArray[np.bool_]] = {}
    for s in used_sources:
        short = inv[s, line_sku] < line_qty
        can_serve[s] = np.bincount(line_unit, weights=short, minlength=n_units) == 0

    lanes = network.lanes
    per_route: list[tuple[I64, F64, I64]] = []
    waits: list[I64] = []
    counts = np.zeros(n_units, dtype=np.int64)
    by_dest = {d: np.flatnonzero(unit_dest == d) for d in sorted({r.dest for r in network.routes})}
    for r in network.routes:
        at_dest = by_dest[r.dest]
        ok = can_serve[r.source][at_dest]
        if r.max_parcel_kg is not None:
            ok &= unit_weight[at_dest] <= r.max_parcel_kg
        units = at_dest[ok]
        w = unit_weight[units]
        charged: F64 = np.asarray(
            np.maximum(w, unit_volume[units] / r.volumetric_divisor)
            if r.volumetric_divisor > 0
            else w,
            dtype=np.float64,
        )
        wait = np.zeros(units.size, dtype=np.int64)
        cap_row = np.full(units.size, -1, dtype=np.int64)
        if r.lane >= 0:
            if lanes.weekdays is not None and lanes.cutoff_minute is not None:
                wait = departure_wait(
                    ready_day[units],
                    ready_min[units],
                    lanes.weekdays[r.lane],
                    int(lanes.cutoff_minute[r.lane]),
                )
            cap_row = r.lane * DAYS_AHEAD + wait
        cost = (
            freight(charged, r.per_kg, r.per_parcel, r.minimum)
            + r.handling
            + r.last_mile_per_parcel
            + r.last_mile_per_kg * w
        )
        if network.late_penalty_per_day:
            late = expected_lateness(r.transit_mean, r.transit_p95, unit_promise[units] - wait)
            cost = cost + network.late_penalty_per_day * late
        if network.duties is not None:
            cost = cost + network.duties(units, network.routes.index(r))
        per_route.append((units, cost, cap_row))
        waits.append(wait)
        counts[units] += 1

    # Place options unit-major without sorting: each route fills the next slot of its units.
    start = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    n_opt = int(counts.sum())
    filled = np.zeros(n_units, dtype=np.int64)
    opt_unit = np.empty(n_opt, dtype=np.int64)
    opt_source = np.empty(n_opt, dtype=np.int64)
    opt_route = np.empty(n_opt, dtype=np.int64)
    opt_cap = np.empty(n_opt, dtype=np.int64)
    opt_cost = np.empty(n_opt, dtype=np.float64)
    opt_wait = np.empty(n_opt, dtype=np.int64)
    for k, (r, (units, cost, cap_row)) in enumerate(zip(network.routes, per_route, strict=True)):
        pos = start[units] + filled[units]
        filled[units] += 1
        opt_unit[pos] = units
        opt_source[pos] = r.source
        opt_route[pos] = k
        opt_cap[pos] = cap_row
        opt_cost[pos] = cost
        opt_wait[pos] = waits[k]

    n_lanes = int(lanes.capacity_kg.size)
    capacity = np.repeat(lanes.capacity_kg.astype(np.float64), DAYS_AHEAD)
    sig = _signature(line_unit, line_sku, line_qty, n_units)
    keys = pl.DataFrame(
        {
            "sig": sig,
            "dest": unit_dest,
            "promise": unit_promise,
            "pen": unit_penalty,
            "day": ready_day,
            "late": ready_min,
        }
    )
    key_hash = keys.select(pl.struct(pl.all()).hash()).to_series().to_numpy()
    unit_class = np.unique(key_hash, return_inverse=True)[1]
    reach = np.isin(unit_dest, np.array(list(by_dest), dtype=np.int64))
    reasons = np.where(counts > 0, 0, np.where(reach, 2, 1)).astype(np.int8)
    problem = Problem(
        unit_order=unit_order,
        unit_weight=unit_weight.astype(np.float64),
        unit_penalty=unit_penalty,
        unit_class=unit_class.astype(np.int64),
        line_unit=line_unit,
        line_sku=line_sku,
        line_qty=line_qty,
        inventory=inv.astype(np.int64),
        opt_unit=opt_unit,
        opt_source=opt_source,
        opt_route=opt_route,
        opt_cap=opt_cap,
        opt_cost=opt_cost,
        capacity=capacity[: n_lanes * DAYS_AHEAD],
        route_names=tuple(r.name for r in network.routes),
        route_domestic=np.array(
            [r.lane < 0 if r.domestic is None else r.domestic for r in network.routes], dtype=bool
        ),
        unit_reason=reasons,
        extra={"wait_days": opt_wait, "unit_volume": unit_volume},
    )
    problem.validate()
    return problem
