"""Prices -> reduced costs -> the Lagrangian lower bound, all columnar over the options.

Weak duality: for any non-negative prices on stock and lane departures, the sum over units of
their cheapest priced option (or their penalty) minus prices x limits is a lower bound on every
feasible plan, so a bound stays valid whatever heuristics produced the prices.
"""

from __future__ import annotations

import numpy as np

from xborder.planning.problem import F64, Problem


def reduced_costs(problem: Problem, lam_inv: F64, lam_cap: F64) -> F64:
    """Option cost plus the priced stock and capacity it uses."""
    r = problem.opt_cost.copy()
    lane = problem.opt_cap >= 0
    r[lane] += lam_cap[problem.opt_cap[lane]] * problem.unit_weight[problem.opt_unit[lane]]
    priced = np.flatnonzero(lam_inv.any(axis=1))
    for s in priced:  # few sources carry a price; each pass is columnar over the lines
        per_unit = np.bincount(
            problem.line_unit,
            weights=lam_inv[s, problem.line_sku] * problem.line_qty,
            minlength=problem.n_units,
        )
        at = problem.opt_source == s
        r[at] += per_unit[problem.opt_unit[at]]
    return r


def lagrangian_bound(
    problem: Problem,
    lam_inv: F64,
    lam_cap: F64,
    reduced: F64 | None = None,
    mult: F64 | None = None,
) -> float:
    """sum over units of min(penalty, min reduced cost) - prices x limits: a valid lower bound.

    With ``mult`` the problem is a class problem whose classes hold ``mult`` identical units
    (see ``classes.exact``): each class's term counts that many times, the same sum, cheaper.
    """
    r = reduced_costs(problem, lam_inv, lam_cap) if reduced is None else reduced
    best = problem.unit_penalty.copy()
    if problem.n_options:
        starts = np.flatnonzero(np.r_[True, problem.opt_unit[1:] != problem.opt_unit[:-1]])
        mins = np.minimum.reduceat(r, starts)
        units = problem.opt_unit[starts]
        best[units] = np.minimum(best[units], mins)
    total = best.sum() if mult is None else best @ mult
    return float(total - (lam_inv * problem.inventory).sum() - (lam_cap * problem.capacity).sum())


def subgradient_bound(
    problem: Problem,
    lam_inv: F64,
    lam_cap: F64,
    upper: float,
    steps: int = 4,
    mult: F64 | None = None,
) -> float:
    """The best Lagrangian bound over a few Polyak subgradient steps from the given prices.

    Every iterate is a valid bound (any non-negative prices are), so the best one is returned.
    ``mult``: as in ``lagrangian_bound`` (classes of identical units).
    """
    count = np.ones(problem.n_units) if mult is None else mult
    best = -np.inf
    theta = 1.0
    stall = 0
    n_skus = problem.inventory.shape[1]
    starts = np.flatnonzero(np.r_[True, problem.opt_unit[1:] != problem.opt_unit[:-1]])
    for _ in range(steps):
        reduced = reduced_costs(problem, lam_inv, lam_cap)
        value = lagrangian_bound(problem, lam_inv, lam_cap, reduced, mult)
        if value > best + 1e-9:
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 2:
                theta, stall = theta / 2, 0
        if problem.n_options == 0:
            break
        # each unit's priced choice (None when its penalty is cheaper) and what it uses
        mins = np.minimum.reduceat(reduced, starts)
        owner = problem.opt_unit[starts]
        take_min = mins < problem.unit_penalty[owner]
        is_min = reduced <= np.repeat(mins, np.diff(np.r_[starts, reduced.size]))
        first = np.flatnonzero(is_min)
        first = first[np.r_[True, problem.opt_unit[first][1:] != problem.opt_unit[first][:-1]]]
        chosen = np.full(problem.n_units, -1, dtype=np.int64)
        picked = problem.opt_unit[first]
        keep = take_min[np.searchsorted(owner, picked)]
        chosen[picked[keep]] = first[keep]
        served = chosen >= 0
        lines = np.flatnonzero(served[problem.line_unit])
        opt_of_line = chosen[problem.line_unit[lines]]
        cell = problem.opt_source[opt_of_line] * n_skus + problem.line_sku[lines]
        used = problem.line_qty[lines] * count[problem.line_unit[lines]]
        g_inv = np.bincount(cell, weights=used, minlength=problem.inventory.size)
        g_inv = g_inv.reshape(problem.inventory.shape) - problem.inventory
        lane = served & (problem.opt_cap[np.maximum(chosen, 0)] >= 0)
        kg = (problem.unit_weight * count)[lane]
        g_cap = np.bincount(problem.opt_cap[chosen[lane]], weights=kg,
                            minlength=problem.capacity.size) - problem.capacity  # fmt: skip
        # prices at zero with slack stay at zero: drop those components from the direction
        g_inv = np.where((lam_inv <= 0) & (g_inv < 0), 0.0, g_inv)
        g_cap = np.where((lam_cap <= 0) & (g_cap < 0), 0.0, g_cap)
        norm = float((g_inv**2).sum() + (g_cap**2).sum())
        if norm <= 1e-12:
            break
        step = theta * max(upper - value, 1e-9) / norm
        lam_inv = np.maximum(lam_inv + step * g_inv, 0.0)
        lam_cap = np.maximum(lam_cap + step * g_cap, 0.0)
    return float(best)


def regret(problem: Problem, score: F64) -> F64:
    """Second-best minus best score per unit (the penalty stands in for a missing second option)."""
    best = problem.unit_penalty.copy()
    second = problem.unit_penalty.copy()
    if problem.n_options:
        order = np.lexsort((score, problem.opt_unit))
        u = problem.opt_unit[order]
        s = score[order]
        first = np.r_[True, u[1:] != u[:-1]]
        best[u[first]] = np.minimum(best[u[first]], s[first])
        nxt = np.flatnonzero(first) + 1
        nxt = nxt[nxt < u.size]
        same = u[nxt] == u[nxt - 1]
        second[u[nxt[same]]] = np.minimum(second[u[nxt[same]]], s[nxt[same]])
    return second - best
