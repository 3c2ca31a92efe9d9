"""Classes of interchangeable units: the aggregation that makes a million-order wave small.

Units with the same items (multiset of SKU x qty), destination, promise, ready time and a weight
bucket share their options; a class problem has one unit per class, and each class's row caps its
options at its multiplicity. Also: restricting a problem to some units on given stock and
capacity (chunks, repair), and handing a class's integer split back to its member units.
"""

from __future__ import annotations

import numpy as np

from xborder.planning.problem import F64, I64, Problem, usage

WEIGHT_BUCKET = 0.02  # relative width of the weight buckets that aggregate units into classes


def aggregate(problem: Problem, bucket: float = WEIGHT_BUCKET) -> tuple[Problem, F64, I64]:
    """Classes of interchangeable units as a smaller problem (class-average cost and weight).

    Returns the class problem, each class's multiplicity and each unit's class. Members of a
    class share options (same items, destination, promise, ready time); weights within a bucket
    differ by ``bucket``. Classes are numbered in the order of their first member, so the class
    problem comes out sorted without a sort of the options.
    """
    wb = np.floor(np.log(np.maximum(problem.unit_weight, 1e-6)) / np.log1p(bucket)).astype(np.int64)
    key = problem.unit_class * 1_000_003 + wb
    _, first, cls = np.unique(key, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    rank = np.empty(first.size, dtype=np.int64)
    rank[by_first] = np.arange(first.size)
    return aggregate_by(problem, rank[cls.ravel()], first[by_first])


def _mirror(problem: Problem, cls: I64, first: I64) -> I64 | None:
    """Each option's counterpart among its class representative's options, when every member
    has the representative's routes in the same order (the usual case); else None."""
    n = problem.n_units
    count = np.bincount(problem.opt_unit, minlength=n)
    start = np.cumsum(count) - count
    rep = first[cls]
    if (count != count[rep]).any():
        return None
    u = problem.opt_unit
    mirror: I64 = np.arange(problem.n_options) - start[u] + start[rep[u]]
    if (problem.opt_route[mirror] != problem.opt_route).any():
        return None
    return mirror


def exact(problem: Problem, agg: Problem, cls: I64, rtol: float = 1e-9) -> bool:
    """Are the members of every class identical (options, costs, lanes, weight, penalty)?

    Then the class problem with multiplicities *is* the wave: its Lagrangian (each class's term
    times its multiplicity) equals the wave's, and costs a class-sized pass instead of a
    unit-sized one. Items, destination, promise and ready time are in the class key already.
    Weights and costs may differ in the last bits (the same lines summed in another order):
    ``rtol`` allows that, which moves a bound by about that fraction of it.
    """
    if problem.n_units == 0:
        return True
    _, first = np.unique(cls, return_index=True)
    if first.size != agg.n_units:
        return False
    rep = first[cls]
    if not np.allclose(problem.unit_weight, problem.unit_weight[rep], rtol=rtol, atol=rtol):
        return False
    if (problem.unit_penalty != problem.unit_penalty[rep]).any():
        return False
    mirror = _mirror(problem, cls, first)
    return mirror is not None and bool(
        np.allclose(problem.opt_cost, problem.opt_cost[mirror], rtol=rtol, atol=rtol)
        and (problem.opt_cap == problem.opt_cap[mirror]).all()
        and (problem.opt_source == problem.opt_source[mirror]).all()
    )


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
    o_cls = rep_cls[problem.opt_unit[sel]]
    mirror = _mirror(problem, cls, first)
    if mirror is not None:  # sum each member option onto its representative's option
        total = np.bincount(mirror, weights=problem.opt_cost, minlength=problem.n_options)
        avg_cost = total[sel] / mult[o_cls]
    else:  # average cost per (class, route) over the members' options with that route
        n_routes = len(problem.route_names)
        cell = cls[problem.opt_unit] * n_routes + problem.opt_route
        total = np.bincount(cell, weights=problem.opt_cost, minlength=n_cls * n_routes)
        count = np.bincount(cell, minlength=n_cls * n_routes)
        o_cell = o_cls * n_routes + problem.opt_route[sel]
        avg_cost = total[o_cell] / np.maximum(count[o_cell], 1)
    if o_cls.size and (np.diff(o_cls) < 0).any():
        order = np.argsort(o_cls, kind="stable")
        sel, o_cls, avg_cost = sel[order], o_cls[order], avg_cost[order]
    # class lines: those of the representative
    rep_line = np.flatnonzero(is_rep_opt[problem.line_unit])
    line_cls = rep_cls[problem.line_unit[rep_line]]
    if line_cls.size and (np.diff(line_cls) < 0).any():
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


def follow_split(problem: Problem, agg: Problem, x: F64, cls: I64) -> I64:
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
