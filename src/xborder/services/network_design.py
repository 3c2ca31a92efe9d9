"""Use case: which overseas/bonded warehouses should the world's network open, and what it saves.

Pure computation over the world (no store access): derive the instance, solve it, and price
today's network (every warehouse the world has, open) on the same cost model for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xborder.domain.world import World
from xborder.planning.network import METHODS, Plan, solve, solve_fixed
from xborder.planning.network.world_model import NetworkModel, build

NETWORK_METHODS = METHODS  # for the CLI's help


@dataclass(frozen=True, eq=False)
class NetworkDesign:
    model: NetworkModel
    plan: Plan  # the designed network
    today: Plan  # today's network: the world's warehouses, all open

    @property
    def saving_per_day(self) -> float:
        return self.today.cost - self.plan.cost

    def to_json(self) -> dict[str, Any]:
        ids = self.model.instance.site_ids
        designed = set(np.flatnonzero(self.plan.open).tolist())
        now = set(np.flatnonzero(self.model.today).tolist())
        return {
            **self.plan.to_json(),
            "currency": "CNY",
            "per": "day",
            "daily_orders": self.model.daily_orders,
            "today_open": [ids[i] for i in sorted(now)],
            "today_cost": round(self.today.cost, 2),
            "saving_per_day": round(self.saving_per_day, 2),
            "saving_share": round(self.saving_per_day / self.today.cost, 6),
            "to_open": [ids[i] for i in sorted(designed - now)],
            "to_close": [ids[i] for i in sorted(now - designed)],
        }


def design_network_for_world(
    world: World, *, daily_orders: float = 10_000.0, single_source: bool = False,
    time_limit: float = 30.0,
) -> NetworkDesign:  # fmt: skip
    """Design the network for ``world`` at ``daily_orders`` a day and compare it with today's."""
    model = build(world, daily_orders=daily_orders, single_source=single_source)
    plan = solve(model.instance, time_limit=time_limit)
    today = solve_fixed(model.instance, model.today, time_limit=time_limit)
    return NetworkDesign(model, plan, today)


@dataclass(frozen=True, slots=True)
class SolveNetwork:
    """A standalone network design: an instance (``docs/network-design.md``) as JSON, or an
    OR-Library ``cap*.txt`` file, with the options the CLI takes."""

    instance: dict[str, Any] | None = None
    orlib: str | None = None
    capacity: float | None = None
    single_source: bool = False
    method: str = "auto"
    time_limit: float = 60.0


def solve_network(command: SolveNetwork) -> dict[str, Any]:
    """Open sites, flows, cost, bound and gap of the instance (pure: no store)."""
    from pathlib import Path

    from xborder.domain.errors import InvalidValue
    from xborder.planning.network import Instance, read_orlib

    if command.method not in METHODS:
        raise InvalidValue("--method", f"must be one of {', '.join(METHODS)}", command.method)
    if command.orlib is not None:
        inst = read_orlib(Path(command.orlib), capacity=command.capacity,
                          single_source=command.single_source)  # fmt: skip
    elif command.instance is not None:
        inst = Instance.from_json(command.instance)
        if command.single_source:
            inst = inst.with_single_source(True)
        if command.capacity is not None:
            if command.capacity < 0:
                raise InvalidValue("capacity", "must not be negative", command.capacity)
            inst = Instance.of(
                inst.fixed_cost, [command.capacity] * inst.m, inst.demand, inst.assign_cost,
                site_ids=inst.site_ids, region_ids=inst.region_ids,
                single_source=inst.single_source, name=inst.name,
            )  # fmt: skip
    else:
        raise InvalidValue("instance", "give an instance or an OR-Library file")
    plan = solve(inst, method=command.method, time_limit=command.time_limit)  # type: ignore[arg-type]
    return plan.to_json()
