"""Primal heuristics: turn an open set from the relaxation into a feasible plan, cheaply.

Multi-source: the transportation LP over the open sites (HiGHS). Single-source: round that LP to
each region's largest share, repair overloaded sites by the cheapest feasible moves, then move
regions to cheaper open sites with room while that pays. The result seeds the kernel MIP.
"""

from __future__ import annotations

import time

import numpy as np

from xborder.planning.network.instance import FloatArray, Instance
from xborder.planning.network.mip import solve_mip
from xborder.planning.network.plan import BoolArray

IntVec = np.ndarray[tuple[int], np.dtype[np.int64]]
SWAP_WIDTH = 8


def complete(inst: Instance, opened: BoolArray, value: FloatArray, slack: float = 0.0) -> BoolArray:
    """Add sites, cheapest ``value / capacity`` first, until capacity covers demand * (1+slack)."""
    out = opened.copy()
    need = inst.total_demand * (1 + slack) - float(inst.capacity[out].sum())
    if need <= 0:
        return out
    rest = np.flatnonzero(~out)
    rest = rest[np.argsort(value[rest] / np.maximum(inst.capacity[rest], 1e-300))]
    cum = np.cumsum(inst.capacity[rest])
    k = int(np.searchsorted(cum, need)) + 1
    out[rest[:k]] = True
    return out


def transport(inst: Instance, open_: BoolArray) -> FloatArray | None:
    """Cheapest continuous shares over exactly the open sites, or None if they cannot carry it."""
    if inst.capacity[open_].sum() < inst.total_demand * (1 - 1e-12):
        return None
    result = solve_mip(inst, strong=False, fixed_open=open_, relax=True, time_limit=30.0)
    return result.share


def single_source(inst: Instance, open_: BoolArray, share: FloatArray) -> FloatArray | None:
    """A single-source plan near ``share`` (open sites may be added if repair needs them)."""
    m, n = inst.m, inst.n
    d, s, c = inst.demand, inst.capacity, inst.assign_cost
    is_open = open_.copy()
    assign: IntVec = np.argmax(np.where(is_open[:, None], share, -1.0), axis=0)
    load: FloatArray = np.bincount(assign, weights=d, minlength=m).astype(np.float64)
    for _ in range(4 * n):
        over = np.flatnonzero(load > s + 1e-9)
        if len(over) == 0:
            break
        i = int(over[0])
        regions = np.flatnonzero(assign == i)
        room = s - load
        ok = is_open[:, None] & (room[:, None] >= d[None, regions])
        ok[i] = False
        if not ok.any():
            closed = np.flatnonzero(~is_open)
            if len(closed) == 0:
                return None
            k = closed[np.argmin(inst.fixed_cost[closed] / np.maximum(s[closed], 1e-300))]
            is_open[k] = True
            continue
        delta = np.where(ok, c[:, regions] - c[i, regions][None, :], np.inf)
        k, r = np.unravel_index(int(np.argmin(delta)), delta.shape)
        j = int(regions[r])
        assign[j] = k
        load[i] -= d[j]
        load[k] += d[j]
    else:
        return None
    if (load > s + 1e-9).any():
        return None
    assign = improve(inst, is_open, assign, load)
    x = np.zeros((m, n))
    x[assign, np.arange(n)] = 1.0
    return x


def improve(inst: Instance, is_open: BoolArray, assign: IntVec, load: FloatArray) -> IntVec:
    """Shift regions to cheaper open sites with room, best saving first, until none pays."""
    d, s, c = inst.demand, inst.capacity, inst.assign_cost
    cols = np.arange(inst.n)
    for _ in range(20):
        room = s - load
        ok = is_open[:, None] & (room[:, None] >= d[None, :])
        saving = np.where(ok, c[assign, cols][None, :] - c, 0.0)
        best_site = np.argmax(saving, axis=0)
        best_gain = saving[best_site, cols]
        moved = False
        for j in np.argsort(-best_gain).tolist():
            if best_gain[j] <= 1e-9:
                break
            k, i = int(best_site[j]), int(assign[j])
            if load[k] + d[j] <= s[k] + 1e-9:
                assign[j] = k
                load[i] -= d[j]
                load[k] += d[j]
                moved = True
        if not moved:
            break
    return assign


def local_search(
    inst: Instance, open_: BoolArray, value: FloatArray, deadline: float, adds: int = 12
) -> tuple[BoolArray, FloatArray] | None:
    """Drop/add/swap local search over open sets, each priced by the transportation LP
    (multi-source costs; pass the multi-source instance). First improvement: drops of the least
    loaded sites first, then adds of the ``adds`` closed sites of best relaxation ``value``, then
    swaps among the first few of each."""
    current = open_.copy()
    share = transport(inst, current)
    if share is None:
        return None
    cost = _cost(inst, current, share)
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        load = share @ inst.demand
        drops = [i for i in np.argsort(load).tolist() if current[i]]
        closed = np.flatnonzero(~current)
        add_list = closed[np.argsort(value[closed])][:adds].tolist()
        moves: list[tuple[int, ...]] = [(i, -1) for i in drops] + [(-1, j) for j in add_list]
        moves += [(i, j) for i in drops[:SWAP_WIDTH] for j in add_list[:SWAP_WIDTH]]
        for drop, add in moves:
            if time.perf_counter() >= deadline:
                break
            trial = current.copy()
            if drop >= 0:
                trial[drop] = False
            if add >= 0:
                trial[add] = True
            if inst.capacity[trial].sum() < inst.total_demand:
                continue
            trial_share = transport(inst, trial)
            if trial_share is None:
                continue
            trial_cost = _cost(inst, trial, trial_share)
            if trial_cost < cost * (1 - 1e-9):
                current, share, cost, improved = trial, trial_share, trial_cost, True
                break
    return current, share


def _cost(inst: Instance, open_: BoolArray, share: FloatArray) -> float:
    return float(inst.fixed_cost[open_].sum() + (inst.assign_cost * share).sum())
