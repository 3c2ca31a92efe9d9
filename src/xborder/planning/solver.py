"""Solve the fulfilment problem with HiGHS: exact MIP for small waves, aggregated LP for large ones.

Large waves: units that are interchangeable (same items, destination, promise, ready time and a
weight bucket) form classes; the LP over classes (HiGHS, built from arrays) prices inventory and
lane departures. With those prices every unit's Lagrangian subproblem is one ``min`` over its
options, which gives a lower bound valid for the whole, un-aggregated wave (weak duality: any
non-negative prices do), and the vectorised rounds turn the priced preferences into a feasible plan.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass

import highspy
import numpy as np

from xborder.domain.errors import InvalidValue
from xborder.planning.problem import F64, I64, Plan, Problem, is_feasible, plan_cost, usage
from xborder.planning.rounds import assign_by_rounds

MIP_MAX_UNITS = 3_000
MAX_CLASSES = 80_000
REPAIR_UNITS = 30_000  # the leftover of the LP's rounding is re-planned by an exact MIP up to this
WEIGHT_BUCKET = 0.02  # relative width of the weight buckets that aggregate units into classes


@dataclass(frozen=True, slots=True)
class _Model:
    """A HiGHS model of (a subset of) the problem: columns are options."""

    cost: F64
    offset: float
    inv_rows: I64  # flat (source * skus + sku) of each inventory row
    cap_rows: I64  # capacity row of each capacity row
    n_unit_rows: int


def _highs(quiet: bool = True) -> highspy.Highs:
    """A HiGHS instance; its start-up banner goes to /dev/null, not into our JSON on stdout."""
    sys.stdout.flush()
    saved, sink = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 1)
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)
    h.setOptionValue("output_flag", not quiet)
    h.setOptionValue("threads", 1)
    return h


def _build(problem: Problem, mult: F64, h: highspy.Highs, integral: bool) -> _Model:
    """Pass min sum (c - penalty) x s.t. per-unit sum x <= mult, stock and capacity, to HiGHS.

    Rows that cannot bind (total possible use within the limit) are left out.
    """
    n_units, n_opt = problem.n_units, problem.n_options
    n_skus = problem.inventory.shape[1]
    u = problem.opt_unit
    ub = mult[u]
    # inventory entries: one per (option, line of its unit)
    line_start = np.searchsorted(problem.line_unit, np.arange(n_units))
    nl = np.bincount(problem.line_unit, minlength=n_units)[u]
    col_inv = np.repeat(np.arange(n_opt), nl)
    offs = np.arange(col_inv.size) - np.repeat(np.cumsum(nl) - nl, nl)
    lines = line_start[u][col_inv] + offs
    inv_key = problem.opt_source[col_inv] * n_skus + problem.line_sku[lines]
    inv_val = problem.line_qty[lines].astype(np.float64)
    need = np.bincount(inv_key, weights=inv_val * ub[col_inv], minlength=problem.inventory.size)
    binding_inv = np.flatnonzero(need > problem.inventory.ravel())
    inv_row_of = np.full(problem.inventory.size, -1, dtype=np.int64)
    inv_row_of[binding_inv] = np.arange(binding_inv.size)
    keep = inv_row_of[inv_key] >= 0
    col_inv, inv_val, inv_row = col_inv[keep], inv_val[keep], inv_row_of[inv_key[keep]]
    # capacity entries
    lane = np.flatnonzero(problem.opt_cap >= 0)
    w = problem.unit_weight[u[lane]]
    cap_need = np.bincount(
        problem.opt_cap[lane], weights=w * ub[lane], minlength=problem.capacity.size
    )
    binding_cap = np.flatnonzero(cap_need > problem.capacity + 1e-9)
    cap_row_of = np.full(problem.capacity.size, -1, dtype=np.int64)
    cap_row_of[binding_cap] = np.arange(binding_cap.size)
    keep = cap_row_of[problem.opt_cap[lane]] >= 0
    col_cap, cap_val = lane[keep], w[keep]
    cap_row = cap_row_of[problem.opt_cap[col_cap]]

    r0, r1 = n_units, n_units + binding_inv.size
    rows = np.concatenate((u, r0 + inv_row, r1 + cap_row))
    cols = np.concatenate((np.arange(n_opt), col_inv, col_cap))
    vals = np.concatenate((np.ones(n_opt), inv_val, cap_val))
    order = np.argsort(cols, kind="stable")
    start = np.searchsorted(cols[order], np.arange(n_opt + 1)).astype(np.int32)
    n_rows = r1 + binding_cap.size
    row_upper = np.concatenate(
        (
            mult,
            problem.inventory.ravel()[binding_inv].astype(np.float64),
            problem.capacity[binding_cap],
        )
    )
    cost = problem.opt_cost - problem.unit_penalty[u]
    offset = float((problem.unit_penalty * mult).sum())
    integrality = np.full(n_opt, 1 if integral else 0, dtype=np.int32)  # HiGHS reads n_opt
    status = h.passModel(
        n_opt,
        n_rows,
        int(vals.size),
        1,
        1,
        offset,
        cost,
        np.zeros(n_opt),
        ub,
        np.full(n_rows, -np.inf),
        row_upper,
        start,
        rows[order].astype(np.int32),
        vals[order],
        integrality,
    )
    if status != highspy.HighsStatus.kOk:
        raise RuntimeError(f"HiGHS rejected the model: {status}")
    return _Model(cost, offset, binding_inv, binding_cap, n_units)


def solve_mip(problem: Problem, time_limit: float = 60.0, gap: float = 1e-9) -> Plan:
    """The exact MIP of the whole wave (HiGHS branch and cut); the bound is HiGHS's dual bound."""
    t0 = time.perf_counter()
    choice = np.full(problem.n_units, -1, dtype=np.int64)
    if problem.n_options == 0:
        cost = plan_cost(problem, choice)
        return Plan(choice, cost, cost, "mip", time.perf_counter() - t0)
    h = _highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", gap)
    _build(problem, np.ones(problem.n_units), h, integral=True)
    h.run()
    x = np.asarray(h.getSolution().col_value)
    if x.size != problem.n_options:
        raise RuntimeError(f"HiGHS returned no plan ({h.modelStatusToString(h.getModelStatus())})")
    picked = np.flatnonzero(x > 0.5)
    choice[problem.opt_unit[picked]] = picked
    info = h.getInfo()
    cost = plan_cost(problem, choice)
    bound = min(cost, float(info.mip_dual_bound))
    return Plan(
        choice, cost, bound, "mip", time.perf_counter() - t0, {"nodes": float(info.mip_node_count)}
    )


def solve_lp(
    problem: Problem, mult: F64 | None = None, time_limit: float | None = None
) -> tuple[float, F64, F64, F64]:
    """The LP relaxation: (objective, x, stock prices (sources x skus), capacity prices).

    With a ``time_limit`` the dual simplex may stop early: its prices are still non-negative and
    so still give a valid (weaker) Lagrangian bound; the objective is then not a bound.
    """
    mult = np.ones(problem.n_units) if mult is None else mult
    lam_inv = np.zeros(problem.inventory.shape)
    lam_cap = np.zeros(problem.capacity.size)
    if problem.n_options == 0:
        return float((problem.unit_penalty * mult).sum()), np.zeros(0), lam_inv, lam_cap
    h = _highs()
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    model = _build(problem, mult, h, integral=False)
    h.run()
    sol = h.getSolution()
    duals = -np.asarray(sol.row_dual)
    flat = lam_inv.ravel()
    flat[model.inv_rows] = np.maximum(
        duals[model.n_unit_rows : model.n_unit_rows + model.inv_rows.size], 0
    )
    lam_cap[model.cap_rows] = np.maximum(duals[model.n_unit_rows + model.inv_rows.size :], 0)
    objective = float(h.getInfo().objective_function_value)
    return objective, np.asarray(sol.col_value), flat.reshape(lam_inv.shape), lam_cap


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
    problem: Problem, lam_inv: F64, lam_cap: F64, reduced: F64 | None = None
) -> float:
    """sum over units of min(penalty, min reduced cost) - prices x limits: a valid lower bound."""
    r = reduced_costs(problem, lam_inv, lam_cap) if reduced is None else reduced
    best = problem.unit_penalty.copy()
    if problem.n_options:
        starts = np.flatnonzero(np.r_[True, problem.opt_unit[1:] != problem.opt_unit[:-1]])
        mins = np.minimum.reduceat(r, starts)
        units = problem.opt_unit[starts]
        best[units] = np.minimum(best[units], mins)
    return float(
        best.sum() - (lam_inv * problem.inventory).sum() - (lam_cap * problem.capacity).sum()
    )


def subgradient_bound(
    problem: Problem, lam_inv: F64, lam_cap: F64, upper: float, steps: int = 4
) -> float:
    """The best Lagrangian bound over a few Polyak subgradient steps from the given prices.

    Every iterate is a valid bound (any non-negative prices are), so the best one is returned.
    """
    best = -np.inf
    theta = 1.0
    stall = 0
    n_skus = problem.inventory.shape[1]
    starts = np.flatnonzero(np.r_[True, problem.opt_unit[1:] != problem.opt_unit[:-1]])
    for _ in range(steps):
        reduced = reduced_costs(problem, lam_inv, lam_cap)
        value = lagrangian_bound(problem, lam_inv, lam_cap, reduced)
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
        g_inv = np.bincount(cell, weights=problem.line_qty[lines], minlength=problem.inventory.size)
        g_inv = g_inv.reshape(problem.inventory.shape) - problem.inventory
        lane = served & (problem.opt_cap[np.maximum(chosen, 0)] >= 0)
        g_cap = np.bincount(problem.opt_cap[chosen[lane]], weights=problem.unit_weight[lane],
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


def aggregate(problem: Problem, bucket: float = WEIGHT_BUCKET) -> tuple[Problem, F64, I64]:
    """Classes of interchangeable units as a smaller problem (class-average cost and weight).

    Returns the class problem, each class's multiplicity and each unit's class. Members of a
    class share options (same items, destination, promise, ready time); weights within a bucket
    differ by ``bucket``.
    """
    wb = np.floor(np.log(np.maximum(problem.unit_weight, 1e-6)) / np.log1p(bucket)).astype(np.int64)
    key = problem.unit_class * 1_000_003 + wb
    _, first, cls = np.unique(key, return_index=True, return_inverse=True)
    return aggregate_by(problem, cls.astype(np.int64), first)


def aggregate_by(problem: Problem, cls: I64, first: I64) -> tuple[Problem, F64, I64]:
    """The class problem for a given class of each unit (``first``: each class's first unit)."""
    n_cls = first.size
    mult = np.bincount(cls, minlength=n_cls).astype(np.float64)
    weight = np.bincount(cls, weights=problem.unit_weight, minlength=n_cls) / mult
    # options of each class: those of its first member; costs averaged over the members
    rep = first
    is_rep_opt = np.zeros(problem.n_units, dtype=bool)
    is_rep_opt[rep] = True
    sel = np.flatnonzero(is_rep_opt[problem.opt_unit])
    rep_cls = np.empty(problem.n_units, dtype=np.int64)
    rep_cls[rep] = np.arange(n_cls)
    # average cost per (class, route): sum over members' options with the same route
    n_routes = len(problem.route_names)
    cell = cls[problem.opt_unit] * n_routes + problem.opt_route
    total = np.bincount(cell, weights=problem.opt_cost, minlength=n_cls * n_routes)
    count = np.bincount(cell, minlength=n_cls * n_routes)
    o_cls = rep_cls[problem.opt_unit[sel]]
    o_cell = o_cls * n_routes + problem.opt_route[sel]
    avg_cost = total[o_cell] / np.maximum(count[o_cell], 1)
    order = np.argsort(o_cls, kind="stable")
    sel, o_cls, avg_cost = sel[order], o_cls[order], avg_cost[order]
    # class lines: those of the representative
    rep_line = np.flatnonzero(is_rep_opt[problem.line_unit])
    line_cls = rep_cls[problem.line_unit[rep_line]]
    lorder = np.argsort(line_cls, kind="stable")
    rep_line, line_cls = rep_line[lorder], line_cls[lorder]
    agg = Problem(
        unit_order=np.arange(n_cls, dtype=np.int64),
        unit_weight=weight,
        unit_penalty=problem.unit_penalty[rep],
        unit_class=np.arange(n_cls, dtype=np.int64),
        line_unit=line_cls,
        line_sku=problem.line_sku[rep_line],
        line_qty=problem.line_qty[rep_line],
        inventory=problem.inventory,
        opt_unit=o_cls,
        opt_source=problem.opt_source[sel],
        opt_route=problem.opt_route[sel],
        opt_cap=problem.opt_cap[sel],
        opt_cost=avg_cost,
        capacity=problem.capacity,
        route_names=problem.route_names,
        route_domestic=problem.route_domestic,
    )
    return agg, mult, cls.astype(np.int64)


def _follow_lp(problem: Problem, agg: Problem, x: F64, cls: I64) -> I64:
    """Per unit, the option the class LP gives it: the integral part of each class's split."""
    preferred = np.full(problem.n_units, -1, dtype=np.int64)
    if agg.n_options == 0 or x.size != agg.n_options:
        return preferred
    cum = np.cumsum(np.floor(x + 1e-6))  # the whole part of each class's LP split
    by_class = np.argsort(cls, kind="stable")
    class_start = np.searchsorted(cls[by_class], np.arange(agg.n_units))
    rank = np.empty(problem.n_units, dtype=np.int64)
    rank[by_class] = np.arange(problem.n_units) - class_start[cls[by_class]]
    seg_start = np.searchsorted(agg.opt_unit, np.arange(agg.n_units))
    seg_end = np.searchsorted(agg.opt_unit, np.arange(agg.n_units), side="right")
    base = np.where(seg_start > 0, cum[np.maximum(seg_start - 1, 0)], 0.0)[cls]
    j = np.searchsorted(cum, base + rank, side="right")
    ok = j < seg_end[cls]
    units = np.flatnonzero(ok)
    n_routes = len(problem.route_names)
    keys = problem.opt_unit * n_routes + problem.opt_route  # increasing: unit-major, route order
    want = units * n_routes + agg.opt_route[j[ok]]
    pos = np.minimum(np.searchsorted(keys, want), max(keys.size - 1, 0))
    hit = keys[pos] == want
    preferred[units[hit]] = pos[hit]
    return preferred


def subproblem(problem: Problem, units: I64, choice: I64) -> tuple[Problem, I64]:
    """The problem of ``units`` (sorted) on the stock and capacity ``choice`` leaves over.

    Returns it with the original index of each of its options.
    """
    inv_used, cap_used = usage(problem, choice)
    return restrict(problem, units, problem.inventory - inv_used, problem.capacity - cap_used)


def restrict(problem: Problem, units: I64, inventory: I64, capacity: F64) -> tuple[Problem, I64]:
    """The problem of ``units`` (sorted) on the given stock and capacity, and its options' index."""
    keep_unit = np.zeros(problem.n_units, dtype=bool)
    keep_unit[units] = True
    new_index = np.cumsum(keep_unit) - 1
    opts = np.flatnonzero(keep_unit[problem.opt_unit])
    lines = np.flatnonzero(keep_unit[problem.line_unit])
    sub = Problem(
        unit_order=problem.unit_order[units],
        unit_weight=problem.unit_weight[units],
        unit_penalty=problem.unit_penalty[units],
        unit_class=problem.unit_class[units],
        line_unit=new_index[problem.line_unit[lines]],
        line_sku=problem.line_sku[lines],
        line_qty=problem.line_qty[lines],
        inventory=inventory,
        opt_unit=new_index[problem.opt_unit[opts]],
        opt_source=problem.opt_source[opts],
        opt_route=problem.opt_route[opts],
        opt_cap=problem.opt_cap[opts],
        opt_cost=problem.opt_cost[opts],
        capacity=np.maximum(capacity, 0.0),
        route_names=problem.route_names,
        route_domestic=problem.route_domestic,
    )
    return sub, opts


def solve_large(
    problem: Problem,
    max_classes: int = MAX_CLASSES,
    repair_units: int = REPAIR_UNITS,
    repair_seconds: float = 3.0,
    lp_seconds: float | None = None,
) -> Plan:
    """Aggregate into classes, price with the class LP, repair by rounds; certify by Lagrange.

    ``lp_seconds`` caps the class LP (its prices still certify a bound, a weaker one). A wave with
    more than ``max_classes`` classes is planned in random chunks (see ``_solve_chunked``).
    """
    t0 = time.perf_counter()
    agg, mult, cls = aggregate(problem, WEIGHT_BUCKET)
    if agg.n_units > max_classes:
        return _solve_chunked(problem, agg.n_units, max_classes, repair_units, repair_seconds,
                              lp_seconds, t0)  # fmt: skip
    choice, lam_inv, lam_cap, stats = _solve_classes(
        problem, agg, mult, cls, repair_units, repair_seconds, lp_seconds
    )
    bound = lagrangian_bound(problem, lam_inv, lam_cap)
    cost = plan_cost(problem, choice)
    stats.update({"classes": float(agg.n_units), "chunks": 1.0})
    return Plan(choice, cost, min(bound, cost), "aggregated-lp", time.perf_counter() - t0, stats)


def _solve_classes(
    problem: Problem, agg: Problem, mult: F64, cls: I64, repair_units: int,
    repair_seconds: float, lp_seconds: float | None,
) -> tuple[I64, F64, F64, dict[str, float]]:  # fmt: skip
    """Class LP, follow its integral part, repair the rest exactly; the choice and the prices."""
    t0 = time.perf_counter()
    _, x, lam_inv, lam_cap = solve_lp(agg, mult, lp_seconds)
    t_lp = time.perf_counter()
    reduced = reduced_costs(problem, lam_inv, lam_cap)
    regret = _regret(problem, reduced)
    # units first take the option the LP gives their class (where it still fits) ...
    preferred = _follow_lp(problem, agg, x, cls)
    only_lp = np.zeros(problem.n_options, dtype=bool)
    only_lp[preferred[preferred >= 0]] = True
    choice = assign_by_rounds(problem, reduced, regret, only_lp)
    t_fix = time.perf_counter()
    # ... and the rest (fractional classes, weight overflow) is re-planned exactly on what is left
    rest = _repair(problem, choice, reduced, regret, repair_units, repair_seconds)
    stats = {"lp_s": t_lp - t0, "round_s": t_fix - t_lp,
             "repair_s": time.perf_counter() - t_fix, "repaired": float(rest)}  # fmt: skip
    return choice, lam_inv, lam_cap, stats


def _repair(problem: Problem, choice: I64, reduced: F64, regret: F64, repair_units: int,
            repair_seconds: float) -> int:  # fmt: skip
    """Plan the unserved units on the stock and capacity left (exact MIP when small); in place."""
    rest = np.flatnonzero(choice < 0)
    if rest.size == 0:
        return 0
    sub, sub_opts = subproblem(problem, rest, choice)
    sub_choice = np.full(rest.size, -1, dtype=np.int64)
    if sub.n_units <= repair_units:
        with contextlib.suppress(RuntimeError):  # no incumbent in time: priced rounds below
            sub_choice = solve_mip(sub, time_limit=repair_seconds, gap=1e-4).choice
    if (sub_choice < 0).all():
        sub_allowed = sub.opt_cost < sub.unit_penalty[sub.opt_unit]
        sub_choice = assign_by_rounds(sub, reduced[sub_opts], regret[rest], sub_allowed)
    served = sub_choice >= 0
    choice[rest[served]] = sub_opts[sub_choice[served]]
    return int(rest.size)


def _solve_chunked(
    problem: Problem, n_classes: int, max_classes: int, repair_units: int,
    repair_seconds: float, lp_seconds: float | None, t0: float,
) -> Plan:  # fmt: skip
    """Too many classes for one LP (diverse baskets): random chunks, each on its share.

    Chunk i of k gets the share (its units / units not yet planned) of the stock and capacity
    still left, so what a chunk leaves rolls over to the next and the last gets all the rest;
    each chunk is planned by the class LP; the unserved are then repaired on the leftovers. The
    bound is the Lagrangian of the whole wave at the chunks' average prices (valid for any).
    """
    k = int(np.ceil(1.25 * n_classes / max_classes))
    part = np.random.default_rng(0).integers(0, k, problem.n_units)
    choice = np.full(problem.n_units, -1, dtype=np.int64)
    inv_left = problem.inventory.copy()
    cap_left = problem.capacity.copy()
    lam_inv = np.zeros(problem.inventory.shape)
    lam_cap = np.zeros(problem.capacity.size)
    remaining = problem.n_units
    classes = 0.0
    for i in range(k):
        units = np.flatnonzero(part == i)
        share = units.size / max(remaining, 1)
        remaining -= units.size
        inv_budget = np.floor(inv_left * share).astype(np.int64) if remaining else inv_left
        cap_budget = cap_left * share if remaining else cap_left
        sub, opts = restrict(problem, units, inv_budget, cap_budget)
        agg, mult, cls = aggregate(sub, WEIGHT_BUCKET)
        classes += agg.n_units
        sub_choice, li, lc, _ = _solve_classes(
            sub, agg, mult, cls, repair_units, repair_seconds, lp_seconds
        )
        lam_inv += li / k
        lam_cap += lc / k
        served = sub_choice >= 0
        choice[units[served]] = opts[sub_choice[served]]
        used_inv, used_cap = usage(sub, sub_choice)
        inv_left = inv_left - used_inv
        cap_left = cap_left - used_cap
    reduced = reduced_costs(problem, lam_inv, lam_cap)
    repaired = _repair(problem, choice, reduced, _regret(problem, reduced), repair_units,
                       repair_seconds)  # fmt: skip
    cost = plan_cost(problem, choice)
    bound = subgradient_bound(problem, lam_inv, lam_cap, cost)
    stats = {"classes": classes, "chunks": float(k), "repaired": float(repaired)}
    return Plan(choice, cost, min(bound, cost), "aggregated-lp-chunked", time.perf_counter() - t0,
                stats)  # fmt: skip


def _regret(problem: Problem, score: F64) -> F64:
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


def solve(problem: Problem, method: str = "auto", time_limit: float = 60.0) -> Plan:
    """Plan a wave: ``mip`` (exact), ``lp`` (aggregated LP + repair) or ``auto`` by size."""
    if method not in ("auto", "mip", "lp"):
        raise InvalidValue("method", "must be auto, mip or lp", method)
    plan: Plan | None = None
    if method == "mip" or (method == "auto" and problem.n_units <= MIP_MAX_UNITS):
        with contextlib.suppress(RuntimeError):  # no incumbent within the time limit
            plan = solve_mip(problem, time_limit)
    if plan is None:
        plan = solve_large(problem)
    if not is_feasible(problem, plan.choice):
        raise RuntimeError("the planner produced an infeasible plan")  # a bug, never bad input
    return plan
