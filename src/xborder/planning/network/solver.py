"""Solve a CFLP: the entry point every caller (CLI, service, benchmark) uses.

Methods:
- ``exact``: the strong MIP of the whole instance (HiGHS), warm-started from a short Lagrangian
  run; its dual bound is the lower bound. Right for up to a few thousand site-region pairs.
- ``lagrangian``: subgradient on the Lagrangian dual (lower bound) with primal heuristics on the
  sites the iterates open, a drop/add/swap local search over open sets, then a kernel search: the
  strong MIP over a kernel of sites (those cost fixing keeps, ranked by the relaxation) and each
  region's cheapest arcs among them, warm-started, growing while time remains. Single-source
  first solves the multi-source kernel and the assignment MIP over its open sites.
- ``plain``: the textbook weak MIP (no ``x <= y`` rows, no aggregate cut), the baseline.
- ``auto``: ``exact`` for small instances, else ``lagrangian``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from xborder.domain.errors import InvalidValue
from xborder.planning.network import heuristics
from xborder.planning.network.instance import FloatArray, Instance
from xborder.planning.network.lagrange import Relaxed, Subgradient, closed_by_bound, subgradient
from xborder.planning.network.mip import solve_mip
from xborder.planning.network.plan import BoolArray, Plan, normalise, plan_cost, violations

Method = Literal["auto", "exact", "lagrangian", "plain"]
METHODS: tuple[str, ...] = ("auto", "exact", "lagrangian", "plain")
SMALL = 5_000  # site-region pairs up to which ``auto`` solves the full MIP
SMALL_KERNEL = 15_000  # about this many arcs in the first kernel MIP
KERNEL_MIN_SITES = 12  # sites in the first kernel (at least twice the incumbent's open sites)


@dataclass
class _Incumbent:
    inst: Instance
    cost: float = float("inf")
    share: FloatArray | None = None

    def offer(self, share: FloatArray | None) -> None:
        if share is None:
            return
        open_, x = normalise(self.inst, share)
        if violations(self.inst, open_, x):
            return
        cost = plan_cost(self.inst, open_, x)
        if cost < self.cost - 1e-9:
            self.cost, self.share = cost, x


def solve(inst: Instance, *, method: Method = "auto", time_limit: float = 60.0) -> Plan:
    """Return the best plan found within ``time_limit`` seconds with a proven lower bound."""
    if method not in METHODS:
        raise InvalidValue("method", f"must be one of {', '.join(METHODS)}", method)
    if time_limit <= 0:
        raise InvalidValue("time_limit", "must be positive", time_limit)
    t0 = time.perf_counter()
    if method == "auto":
        method = "exact" if inst.m * inst.n <= SMALL else "lagrangian"
    inc = _Incumbent(inst)
    stats: dict[str, float] = {}
    if method == "plain":
        result = solve_mip(inst, strong=False, aggregate=False, time_limit=time_limit)
        inc.offer(result.share)
        bound = result.dual_bound
    elif method == "exact":
        tried: set[bytes] = set()
        state = subgradient(inst, lambda: inc.cost, iterations=150, every=25,
                            on_open=lambda rel: _heuristic(inst, rel, inc, tried),
                            deadline=t0 + 0.3 * time_limit)  # fmt: skip
        # Cost fixing removes only sites no plan cheaper than the incumbent can use, so the
        # restricted MIP's dual bound still bounds the whole problem.
        alive = ~closed_by_bound(inst, state.best, state.u, inc.cost)
        left = max(time_limit - (time.perf_counter() - t0), 0.1)
        result = solve_mip(inst, sites=alive, start=inc.share, time_limit=left)
        inc.offer(result.share)
        bound = max(min(result.dual_bound, inc.cost), state.best.bound)
        stats.update(sites_closed=int((~alive).sum()), lagrangian_bound=state.best.bound)
    else:
        bound = _lagrangian(inst, inc, t0, time_limit, stats)
    if inc.share is None:
        raise InvalidValue("instance", f"no feasible plan found within {time_limit:g} s")
    open_, share = normalise(inst, inc.share)
    cost = plan_cost(inst, open_, share)
    seconds = time.perf_counter() - t0
    return Plan(inst, open_, share, cost, min(bound, cost), seconds, method, stats)


def _heuristic(inst: Instance, rel: Relaxed, inc: _Incumbent, tried: set[bytes]) -> None:
    opened = heuristics.complete(inst, rel.y > 0.5, rel.value, 0.02 if inst.single_source else 0)
    key = opened.tobytes()
    if key in tried:
        return
    tried.add(key)
    share = heuristics.transport(inst, opened)
    if share is not None and inst.single_source:
        share = heuristics.single_source(inst, opened, share)
    inc.offer(share)


def _averaged(inst: Instance, state: Subgradient, inc: _Incumbent, tried: set[bytes]) -> None:
    """Open the sites the subgradient iterates kept open most of the time (the moving average
    of y approximates the LP solution), at a few thresholds; price each like ``_heuristic``."""
    if state.y_avg is None:
        return
    for threshold in (0.25, 0.5, 0.75):
        opened = heuristics.complete(inst, state.y_avg >= threshold, -state.y_avg)
        if inst.single_source:
            opened = heuristics.complete(inst, opened, -state.y_avg, 0.02)
        key = opened.tobytes()
        if key in tried:
            continue
        tried.add(key)
        share = heuristics.transport(inst, opened)
        if share is not None and inst.single_source:
            share = heuristics.single_source(inst, opened, share)
        inc.offer(share)


def _lagrangian(
    inst: Instance, inc: _Incumbent, t0: float, time_limit: float, stats: dict[str, float]
) -> float:
    tried: set[bytes] = set()
    budget = t0 + 0.2 * time_limit

    def on_open(rel: Relaxed) -> None:
        if time.perf_counter() < budget or inc.share is None:
            _heuristic(inst, rel, inc, tried)

    state = subgradient(
        inst, lambda: inc.cost, iterations=500, patience=20, on_open=on_open,
        deadline=t0 + 0.3 * time_limit,
    )  # fmt: skip
    _heuristic(inst, state.best, inc, tried)
    _averaged(inst, state, inc, tried)
    bound = state.best.bound
    stats.update(lagrangian_seconds=time.perf_counter() - t0, lagrangian_bound=bound,
                 iterations=state.iterations, heuristic_cost=inc.cost)  # fmt: skip
    deadline = t0 + time_limit - min(5.0, 0.08 * time_limit)  # HiGHS overshoots its limit
    if inc.share is not None:
        # Drop/add local search on the open set, priced as multi-source (an LP per move); for
        # single-source the result is then rounded and repaired. Seeds the kernel MIP.
        ms = inst.with_single_source(False) if inst.single_source else inst
        ls_end = time.perf_counter() + 0.25 * (deadline - time.perf_counter())
        found = heuristics.local_search(ms, inc.share.sum(axis=1) > 0, state.best.value, ls_end)
        if found is not None:
            ls_open, ls_share = found
            if inst.single_source:
                inc.offer(heuristics.single_source(inst, ls_open, ls_share))
                _single_from_multi(inst, ms, inc, state, ls_share, deadline, stats)
            else:
                inc.offer(ls_share)
        stats["local_search_cost"] = inc.cost
        stats["local_search_seconds"] = time.perf_counter() - t0
    complete_bound = _kernel(inst, inc, state, deadline, stats, "")
    return max(bound, complete_bound)


def _single_from_multi(
    inst: Instance, ms: Instance, inc: _Incumbent, state: Subgradient, ms_share: FloatArray,
    deadline: float, stats: dict[str, float],
) -> None:  # fmt: skip
    """Single-source optima on capa/b/c mostly open the multi-source optimum's sites: find that
    by the multi-source kernel MIP (LP-driven, fast), then solve the single-source assignment
    MIP over exactly those sites. A plain SS kernel MIP stalls on these instances."""
    ms_inc = _Incumbent(ms)
    ms_inc.offer(ms_share)
    ms_inc.offer(inc.share)
    now = time.perf_counter()
    _kernel(ms, ms_inc, state, now + 0.4 * (deadline - now), stats, "ms_")
    stats["ms_cost"] = ms_inc.cost
    if ms_inc.share is None:
        return
    open_ = ms_inc.share.sum(axis=1) > 0
    inc.offer(heuristics.single_source(inst, open_, ms_inc.share))
    now = time.perf_counter()
    left = 0.4 * (deadline - now)
    if left > 0.5 and inst.capacity[open_].sum() >= inst.total_demand:
        result = solve_mip(inst, strong=False, fixed_open=open_, time_limit=left)
        inc.offer(result.share)
    stats["assignment_cost"] = inc.cost
    stats["assignment_seconds"] = time.perf_counter() - state.started


def _kernel(
    inst: Instance, inc: _Incumbent, state: Subgradient, deadline: float,
    stats: dict[str, float], tag: str,
) -> float:  # fmt: skip
    """Kernel search rounds until ``deadline``; returns the MIP's bound if a round covered every
    arc of every site cost fixing keeps and closed, else -inf."""
    closed = closed_by_bound(inst, state.best, state.u, inc.cost)
    stats[f"{tag}sites_closed"] = int(closed.sum())
    alive = ~closed
    n_alive = int(alive.sum())
    # Kernel order: the incumbent's sites, then those the relaxation opens, then by value v_i.
    used = np.zeros(inst.m, dtype=bool) if inc.share is None else inc.share.sum(axis=1) > 0
    key = np.lexsort((state.best.value, state.best.y <= 0, ~used))
    rank = key[alive[key]]
    size = min(n_alive, max(KERNEL_MIN_SITES, 2 * int(used.sum())))
    arcs_per_round = SMALL_KERNEL // 3 if inst.single_source else SMALL_KERNEL
    k = min(size, max(8, arcs_per_round // inst.n))
    rounds = 0
    while True:
        sites = np.zeros(inst.m, dtype=bool)
        sites[rank[:size]] = True
        by_cost = np.argsort(np.where(sites[:, None], inst.assign_cost, np.inf), axis=0)
        arcs = np.zeros((inst.m, inst.n), dtype=bool)
        np.put_along_axis(arcs, by_cost[:k], True, axis=0)
        arcs |= (state.best.x > 0) & (state.best.y > 0)[:, None]
        arcs &= sites[:, None]
        left = deadline - time.perf_counter()
        if left < 0.5:
            return -np.inf
        result = solve_mip(inst, sites=sites, arcs=arcs, start=inc.share, time_limit=left)
        inc.offer(result.share)
        rounds += 1
        name = f"{tag}kernel{rounds}"
        stats[f"{name}_sites"], stats[f"{name}_arcs"] = size, int(arcs.sum())
        stats[f"{name}_seconds"] = time.perf_counter() - state.started
        if size == n_alive and k >= size:
            # nothing was cut but what cost fixing proved useless: the MIP bound is global
            return min(result.dual_bound, inc.cost) if result.optimal else -np.inf
        if not result.optimal:
            return -np.inf
        if size < n_alive:
            size = min(n_alive, size + max(KERNEL_MIN_SITES // 2, size // 2))
        else:
            k = min(size, 2 * k)


def solve_fixed(inst: Instance, open_: BoolArray, *, time_limit: float = 60.0) -> Plan:
    """The best plan with exactly the sites ``open_`` available (e.g. today's network): the
    transportation LP (multi-source) or the assignment MIP (single-source). Unused sites still
    pay their fixed cost, since they are open."""
    if open_.shape != (inst.m,):
        raise InvalidValue("open", f"need {inst.m} flags, got {open_.shape}")
    t0 = time.perf_counter()
    result = solve_mip(inst, strong=False, fixed_open=open_, relax=not inst.single_source,
                       time_limit=time_limit)  # fmt: skip
    if result.share is None:
        raise InvalidValue("open", "these sites cannot serve all demand")
    _, share = normalise(inst, result.share)
    fixed = np.asarray(open_, dtype=bool)
    cost = float(inst.fixed_cost[fixed].sum() + (inst.assign_cost * share).sum())
    bound = min(result.dual_bound, cost) if inst.single_source else cost
    return Plan(inst, fixed, share, cost, bound, time.perf_counter() - t0, "fixed")
