"""A network plan (which sites open, which shares flow where), its cost, its feasibility check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from xborder.planning.network.instance import FloatArray, Instance

BoolArray = npt.NDArray[np.bool_]
TOL = 1e-6


@dataclass(frozen=True, eq=False)
class Plan:
    """A solved plan. ``lower_bound`` is a proven bound on the optimum; ``gap`` is relative."""

    instance: Instance
    open: BoolArray  # (m,)
    share: FloatArray  # (m, n), rows of closed sites are zero, columns sum to 1
    cost: float
    lower_bound: float
    seconds: float
    method: str
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        if self.cost <= 0:
            return 0.0
        return max(0.0, (self.cost - self.lower_bound) / self.cost)

    def flows(self) -> list[dict[str, Any]]:
        """One row per (site, region) pair with a positive share, in site-then-region order."""
        ii, jj = np.nonzero(self.share > TOL)
        return [
            {"site": self.instance.site_ids[i], "region": self.instance.region_ids[j],
             "share": round(float(self.share[i, j]), 9)}
            for i, j in zip(ii.tolist(), jj.tolist(), strict=True)
        ]  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        inst = self.instance
        return {
            "instance": inst.name,
            "single_source": inst.single_source,
            "open": [inst.site_ids[i] for i in np.flatnonzero(self.open).tolist()],
            "flows": self.flows(),
            "cost": round(self.cost, 6),
            "lower_bound": round(self.lower_bound, 6),
            "gap": round(self.gap, 9),
            "seconds": round(self.seconds, 3),
            "method": self.method,
            "stats": {k: round(v, 6) for k, v in self.stats.items()},
        }


def plan_cost(inst: Instance, open_: BoolArray, share: FloatArray) -> float:
    """Fixed costs of the open sites plus ``assign_cost * share`` summed."""
    return float(inst.fixed_cost[open_].sum() + (inst.assign_cost * share).sum())


def normalise(inst: Instance, share: FloatArray) -> tuple[BoolArray, FloatArray]:
    """Clean solver noise: clip, rescale columns to 1, round single-source shares to 0/1, and
    open exactly the sites that serve something (an unused open site only adds cost)."""
    x = np.clip(share, 0.0, 1.0)
    x[x < 1e-9] = 0.0
    if inst.single_source:
        best = np.argmax(x, axis=0)
        x = np.zeros_like(x)
        x[best, np.arange(inst.n)] = 1.0
    else:
        x = x / np.maximum(x.sum(axis=0, keepdims=True), 1e-300)
    open_ = x.sum(axis=1) > 0
    return open_, x


def violations(inst: Instance, open_: BoolArray, share: FloatArray, tol: float = TOL) -> list[str]:
    """Everything wrong with a plan (empty when feasible): demand, capacity, closed sites, SS."""
    found: list[str] = []
    if share.shape != (inst.m, inst.n) or open_.shape != (inst.m,):
        return [f"shape: open {open_.shape} share {share.shape} for ({inst.m}, {inst.n})"]
    if (share < -tol).any() or (share > 1 + tol).any():
        found.append("share outside [0, 1]")
    served = share.sum(axis=0)
    for j in np.flatnonzero(np.abs(served - 1.0) > tol).tolist():
        found.append(f"region {inst.region_ids[j]} served {served[j]:.9f}, not 1")
    load = share @ inst.demand
    over = load > inst.capacity * (1 + tol) + tol
    for i in np.flatnonzero(over).tolist():
        found.append(f"site {inst.site_ids[i]} load {load[i]:g} > capacity {inst.capacity[i]:g}")
    for i in np.flatnonzero(~open_ & (share.sum(axis=1) > tol)).tolist():
        found.append(f"site {inst.site_ids[i]} is closed but serves demand")
    if inst.single_source and ((share > tol) & (share < 1 - tol)).any():
        found.append("single-source plan splits a region")
    return found
