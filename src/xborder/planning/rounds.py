"""Assignment by rounds: every unit bids for its preferred option, resources go by priority.

The vectorised primal heuristic behind both the repair of the LP plan and the greedy baseline. In
each round every unassigned unit proposes its best untried option; per resource (a lane departure,
a (source, sku) stock) proposals are ranked by unit priority and accepted while the running total
fits. A unit is accepted only if all its resources fit, and the running totals count every proposal
ahead of it, so the accepted set never overdraws anything (it can only under-use, which the next
round takes up). A unit whose proposal no longer fits on its own moves to its next option.
"""

from __future__ import annotations

import numpy as np

from xborder.planning.problem import F64, I64, Problem

MAX_ROUNDS = 60


def _fits_in_order(resource: I64, amount: F64, rank: I64, remaining: F64) -> np.ndarray:
    """For proposals on shared resources: does the running total up to each one fit?"""
    order = np.lexsort((rank, resource))
    res = resource[order]
    run = np.cumsum(amount[order])
    first = np.r_[True, res[1:] != res[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(res.size), 0))
    before = np.where(base > 0, run[base - 1], 0.0)
    within = run - before
    ok = np.empty(res.size, dtype=bool)
    ok[order] = within <= remaining[res] + 1e-9
    return ok


def assign_by_rounds(problem: Problem, score: F64, priority: F64, allowed: np.ndarray) -> I64:
    """A feasible choice: units take options in ``score`` order (lower first) where ``allowed``.

    ``priority`` ranks units competing for a resource (higher first).
    """
    n = problem.n_units
    choice = np.full(n, -1, dtype=np.int64)
    opts = np.flatnonzero(allowed)
    if opts.size == 0:
        return choice
    order = opts[np.lexsort((score[opts], problem.opt_unit[opts]))]
    units_sorted = problem.opt_unit[order]
    seg_start = np.searchsorted(units_sorted, np.arange(n))
    seg_end = np.searchsorted(units_sorted, np.arange(n), side="right")
    ptr = seg_start.copy()

    n_skus = problem.inventory.shape[1]
    inv_left = problem.inventory.ravel().astype(np.float64)
    cap_left = problem.capacity.astype(np.float64).copy()
    line_start = np.searchsorted(problem.line_unit, np.arange(n))
    line_count = np.bincount(problem.line_unit, minlength=n)
    rank_of_unit = np.empty(n, dtype=np.int64)
    rank_of_unit[np.argsort(-priority, kind="stable")] = np.arange(n)

    active = np.flatnonzero(ptr < seg_end)
    round_no = 0
    while active.size:
        round_no += 1
        opt = order[ptr[active]]
        rank = rank_of_unit[active]
        # capacity of lane departures
        cap_row = problem.opt_cap[opt]
        lane = cap_row >= 0
        ok = np.ones(active.size, dtype=bool)
        if lane.any():
            fit = _fits_in_order(
                cap_row[lane], problem.unit_weight[active[lane]], rank[lane], cap_left
            )
            ok[lane] = fit
        # inventory of every line at the source
        nl = line_count[active]
        which = np.repeat(np.arange(active.size), nl)
        offs = np.arange(which.size) - np.repeat(np.cumsum(nl) - nl, nl)
        lines = line_start[active][which] + offs
        res = problem.opt_source[opt][which] * n_skus + problem.line_sku[lines]
        qty = problem.line_qty[lines].astype(np.float64)
        line_fit = _fits_in_order(res, qty, rank[which], inv_left)
        ok &= np.bincount(which, weights=~line_fit, minlength=active.size) == 0

        take = np.flatnonzero(ok)
        choice[active[take]] = opt[take]
        if lane.any():
            took_lane = take[lane[take]]
            cap_left -= np.bincount(
                cap_row[took_lane],
                weights=problem.unit_weight[active[took_lane]],
                minlength=cap_left.size,
            )
        took_line = ok[which]
        inv_left -= np.bincount(res[took_line], weights=qty[took_line], minlength=inv_left.size)

        # still waiting: those whose proposal still fits on its own keep it, the rest move on
        wait = np.flatnonzero(~ok)
        w_units = active[wait]
        w_opt = opt[wait]
        alone = np.ones(wait.size, dtype=bool)
        w_cap = problem.opt_cap[w_opt]
        has_lane = w_cap >= 0
        alone[has_lane] = problem.unit_weight[w_units[has_lane]] <= cap_left[w_cap[has_lane]] + 1e-9
        w_line = ~ok[which]
        short = qty[w_line] > inv_left[res[w_line]]
        pos_in_wait = np.searchsorted(wait, which[w_line])
        alone &= np.bincount(pos_in_wait, weights=short, minlength=wait.size) == 0
        if round_no >= MAX_ROUNDS:
            alone[:] = False  # after many rounds: everyone still waiting moves on (terminates)
        ptr[w_units[~alone]] += 1
        active = w_units[ptr[w_units] < seg_end[w_units]]
    return choice
