"""The planner's columnar problem: units to serve, their options, and the shared resources.

Every front end (a standalone JSON instance, the stored world) compiles into this one form, so the
exact MIP, the aggregated LP, the repair and the greedy baseline all run on the same arrays.
A *unit* is what ships whole from one source: an order, or one line of an order that may split.
An *option* is one way to serve a unit (source, lane or none, carrier); it uses inventory
(the unit's lines at the option's source) and the capacity of one lane departure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from xborder.domain.errors import InvalidValue

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

NO_OPTION = "no source holds every item of the order with a lane to its destination"
NO_LANE = "no lane reaches the destination"
NO_STOCK = "no reachable source holds every item of the order"
EXHAUSTED = "inventory or lane capacity exhausted by cheaper-to-serve orders"
TOO_DEAR = "every option costs more than leaving the order unserved"


@dataclass(frozen=True, slots=True)
class Problem:
    """Arrays, one entry per unit, per line, per option, per resource (see the module doc)."""

    unit_order: I64  # unit -> index of its order
    unit_weight: F64  # kg the unit puts on a lane
    unit_penalty: F64  # cost of leaving the unit unserved
    unit_class: I64  # units with equal class and weight are interchangeable (aggregation key)
    line_unit: I64  # line -> unit (sorted by unit)
    line_sku: I64
    line_qty: I64
    inventory: I64  # (sources, skus) units available
    opt_unit: I64  # option -> unit (sorted by unit)
    opt_source: I64
    opt_route: I64  # index into route_names
    opt_cap: I64  # capacity row of the lane departure, -1 when no lane is used
    opt_cost: F64
    capacity: F64  # kg per capacity row
    route_names: tuple[str, ...]
    route_domestic: NDArray[np.bool_]  # in-country route (no international lane)
    unit_reason: NDArray[np.int8] | None = None  # no option at all: 1 no lane, 2 no stock
    extra: dict[str, NDArray[np.generic]] = field(default_factory=dict)  # per-option extras

    @property
    def n_units(self) -> int:
        return int(self.unit_weight.size)

    @property
    def n_options(self) -> int:
        return int(self.opt_unit.size)

    def validate(self) -> None:
        """Reject arrays that would make a solver lie (negative stock, capacity, weight)."""
        if (self.inventory < 0).any():
            raise InvalidValue("inventory", "must not be negative")
        if (self.capacity < 0).any():
            raise InvalidValue("capacity_kg", "must not be negative")
        if (self.unit_weight < 0).any():
            raise InvalidValue("weight_kg", "must not be negative")
        if (self.line_qty <= 0).any():
            raise InvalidValue("qty", "must be positive")
        if self.opt_unit.size and (np.diff(self.opt_unit) < 0).any():
            raise ValueError("options must be sorted by unit")


@dataclass(frozen=True, slots=True)
class Plan:
    """The chosen option per unit (-1: unserved), its total cost and its certified bound."""

    choice: I64
    cost: float
    lower_bound: float
    method: str
    seconds: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """Relative gap of the plan above the lower bound (0 when proven optimal)."""
        if self.cost <= 0:
            return 0.0
        return max(0.0, (self.cost - self.lower_bound) / self.cost)


def plan_cost(problem: Problem, choice: I64) -> float:
    """Objective of a choice vector: option costs plus penalties of unserved units."""
    served = choice >= 0
    return float(problem.opt_cost[choice[served]].sum() + problem.unit_penalty[~served].sum())


def usage(problem: Problem, choice: I64) -> tuple[I64, F64]:
    """Inventory (sources x skus) and capacity (per row) that a choice uses."""
    inv = np.zeros_like(problem.inventory)
    cap = np.zeros_like(problem.capacity)
    served = choice >= 0
    opt = choice[problem.line_unit]
    line_ok = opt >= 0
    np.add.at(
        inv,
        (problem.opt_source[opt[line_ok]], problem.line_sku[line_ok]),
        problem.line_qty[line_ok],
    )
    chosen = choice[served]
    rows = problem.opt_cap[chosen]
    lane = rows >= 0
    cap += np.bincount(rows[lane], weights=problem.unit_weight[served][lane], minlength=cap.size)
    return inv, cap


def is_feasible(problem: Problem, choice: I64, tol: float = 1e-6) -> bool:
    """Each chosen option belongs to its unit, and no stock or lane departure is overdrawn."""
    served = np.flatnonzero(choice >= 0)
    if (problem.opt_unit[choice[served]] != served).any():
        return False
    inv, cap = usage(problem, choice)
    return bool((inv <= problem.inventory).all() and (cap <= problem.capacity + tol).all())


def unit_reasons(problem: Problem, choice: I64) -> list[str]:
    """Why each unserved unit is unserved ("" for served units)."""
    has_option = np.zeros(problem.n_units, dtype=bool)
    has_option[problem.opt_unit] = True
    cheap = np.zeros(problem.n_units, dtype=bool)
    cheap[problem.opt_unit[problem.opt_cost < problem.unit_penalty[problem.opt_unit]]] = True
    out: list[str] = []
    for u in range(problem.n_units):
        if choice[u] >= 0:
            out.append("")
        elif not has_option[u]:
            code = 0 if problem.unit_reason is None else int(problem.unit_reason[u])
            out.append({1: NO_LANE, 2: NO_STOCK}.get(code, NO_OPTION))
        elif not cheap[u]:
            out.append(TOO_DEAR)
        else:
            out.append(EXHAUSTED)
    return out
