"""Lagrangian relaxation of the demand rows, solved by subgradient (Polyak steps), all in NumPy.

Relaxing ``sum_i x_ij = 1`` with multipliers ``u_j`` splits the problem per site: site i, if open,
takes the regions with negative reduced cost ``c_ij - u_j`` best-ratio-first up to its capacity
(a continuous knapsack: one sort per row of the whole matrix at once), worth
``v_i = f_i + K_i(u)``. The sites are then chosen by the LP of ``min sum v_i y_i`` subject to the
aggregate cut ``sum s_i y_i >= D`` (a greedy by ``v_i / s_i``). ``L(u) = sum u + that minimum`` is a
valid lower bound for both variants (single-source only adds integrality inside the knapsack), and
the sites each iterate opens seed the primal heuristics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xborder.planning.network.instance import FloatArray, Instance
from xborder.planning.network.plan import BoolArray


@dataclass(frozen=True, eq=False)
class Relaxed:
    """One evaluation of the Lagrangian function at ``u``."""

    bound: float
    value: FloatArray  # v_i = f_i + K_i(u)
    y: FloatArray  # site weights chosen by the cover LP (0..1)
    x: FloatArray  # (m, n) knapsack solution of each site, as if open
    subgradient: FloatArray  # 1 - sum_i y_i x_ij


def knapsacks(inst: Instance, u: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Every site's continuous knapsack at once: returns (K_i, x) for reduced costs ``c - u``."""
    r = inst.assign_cost - u[None, :]
    d = inst.demand
    ratio = np.where(
        d[None, :] > 0, r / np.maximum(d, 1e-300)[None, :], np.where(r < 0, -np.inf, 0)
    )
    order = np.argsort(ratio, axis=1)
    rs = np.take_along_axis(r, order, axis=1)
    ds = d[order]
    room = inst.capacity[:, None] - (np.cumsum(ds, axis=1) - ds)  # capacity left before item
    with np.errstate(divide="ignore", invalid="ignore"):
        take = np.where(ds > 0, room / ds, np.where(room >= 0, 1.0, 0.0))
    xs = np.clip(take, 0.0, 1.0) * (rs < 0)
    x = np.empty_like(xs)
    np.put_along_axis(x, order, xs, axis=1)
    return (rs * xs).sum(axis=1), x


def cover_lp(value: FloatArray, capacity: FloatArray, demand: float) -> FloatArray:
    """Minimise ``value @ y`` over ``y in [0, 1]``, ``capacity @ y >= demand``: take every site of
    negative value, then the cheapest ``value / capacity`` sites (last one fractionally)."""
    y = (value < 0).astype(np.float64)
    need = demand - float(capacity @ y)
    if need <= 0:
        return y
    rest = np.flatnonzero(y == 0)
    rest = rest[np.argsort(value[rest] / np.maximum(capacity[rest], 1e-300))]
    cum = np.cumsum(capacity[rest])
    before = cum - capacity[rest]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip((need - before) / capacity[rest], 0.0, 1.0)
    y[rest] = np.nan_to_num(frac)
    return y


def min_sites(capacity: FloatArray, demand: float) -> int:
    """The fewest sites whose capacities can cover ``demand`` (largest first)."""
    cum = np.cumsum(np.sort(capacity)[::-1])
    return min(int(np.searchsorted(cum, demand * (1 - 1e-12))) + 1, len(capacity))


def cover_count(value: FloatArray, count: int) -> FloatArray:
    """Minimise ``value @ y`` over binary y with ``sum y >= count``: negatives, then cheapest."""
    y = (value < 0).astype(np.float64)
    short = count - int(y.sum())
    if short > 0:
        rest = np.flatnonzero(y == 0)
        y[rest[np.argsort(value[rest])[:short]]] = 1.0
    return y


def cover(value: FloatArray, capacity: FloatArray, demand: float, count: int) -> FloatArray:
    """The better (higher) of two relaxations of the site choice: the capacity-cover LP and the
    exact cardinality cover ``sum y >= count`` (exact itself when all capacities are equal)."""
    y1 = cover_lp(value, capacity, demand)
    y2 = cover_count(value, count)
    return y2 if value @ y2 > value @ y1 else y1


def evaluate(inst: Instance, u: FloatArray, count: int | None = None) -> Relaxed:
    k, x = knapsacks(inst, u)
    value = inst.fixed_cost + k
    p = min_sites(inst.capacity, inst.total_demand) if count is None else count
    y = cover(value, inst.capacity, inst.total_demand, p)
    bound = float(u.sum() + value @ y)
    return Relaxed(bound, value, y, x, 1.0 - y @ x)


def closed_by_bound(inst: Instance, best: Relaxed, u: FloatArray, upper: float) -> BoolArray:
    """Sites that cannot be open in any plan cheaper than ``upper`` (Lagrangian cost fixing):
    forcing y_i = 1 in the cover LP already lifts the bound above ``upper``."""
    closed = np.zeros(inst.m, dtype=bool)
    p = min_sites(inst.capacity, inst.total_demand)
    for i in np.flatnonzero(best.y < 1.0 - 1e-9).tolist():
        rest = np.ones(inst.m, dtype=bool)
        rest[i] = False
        left = inst.total_demand - inst.capacity[i]
        y = cover(best.value[rest], inst.capacity[rest], left, p - 1)
        forced = float(u.sum() + best.value[i] + best.value[rest] @ y)
        closed[i] = forced > upper * (1 + 1e-9) + 1e-6
    return closed


@dataclass
class Subgradient:
    """State of the subgradient run: best bound, its multipliers, and the open sets it visited."""

    best: Relaxed
    u: FloatArray
    iterations: int = 0
    started: float = 0.0  # time.perf_counter() at the start
    y_avg: FloatArray | None = None  # moving average of the site weights: a primal estimate


def initial_multipliers(inst: Instance) -> FloatArray:
    """Start every region at its cheapest full-service cost: the bound is then sum_j min_i c_ij."""
    u: FloatArray = inst.assign_cost.min(axis=0).astype(np.float64)
    return u


def subgradient(
    inst: Instance,
    upper: Callable[[], float],
    *,
    u0: FloatArray | None = None,
    iterations: int = 600,
    patience: int = 25,
    on_open: Callable[[Relaxed], None] | None = None,
    every: int = 10,
    deadline: float | None = None,
) -> Subgradient:
    """Maximise L(u) by subgradient with Polyak steps toward the incumbent cost ``upper()``.

    The step factor halves after ``patience`` iterations without a better bound. Every ``every``
    iterations the sites the relaxation opens are handed to ``on_open`` (a primal heuristic),
    which may improve ``upper()``. Stops early at ``deadline`` (a ``time.perf_counter()``).
    """
    started = time.perf_counter()
    u = initial_multipliers(inst) if u0 is None else u0.copy()
    current = evaluate(inst, u)
    state = Subgradient(current, u.copy(), started=started)
    lam, stall = 2.0, 0
    for it in range(iterations):
        if deadline is not None and time.perf_counter() > deadline:
            break
        state.iterations = it + 1
        if on_open is not None and it % every == 0:
            on_open(current)
        ub = upper()
        g = current.subgradient
        norm = float(g @ g)
        if norm < 1e-18:
            break  # the relaxed solution is feasible for the demand rows: bound is optimal
        gap = ub - current.bound if np.isfinite(ub) else abs(current.bound) * 0.05 + 1.0
        u = u + lam * max(gap, 1e-9) / norm * g
        current = evaluate(inst, u)
        state.y_avg = current.y if state.y_avg is None else 0.95 * state.y_avg + 0.05 * current.y
        if current.bound > state.best.bound + 1e-9 * abs(state.best.bound):
            state.best, state.u, stall = current, u.copy(), 0
        else:
            stall += 1
            if stall >= patience:
                lam, stall = lam / 2, 0
                u = state.u.copy()
                current = state.best
        if lam < 1e-4 or (np.isfinite(ub) and ub - state.best.bound <= 1e-7 * abs(ub)):
            break
    return state
