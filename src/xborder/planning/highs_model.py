"""HiGHS models of the fulfilment problem, built from the columnar arrays (no per-order loop).

``solve_mip`` is the exact MIP of a (small) wave; ``solve_lp`` the LP relaxation of a class
problem (units of a class share options; each class's row caps its options at its multiplicity),
started from a *crash basis*: every class on its cheapest option, every stock and capacity row
slack. That basis is dual feasible (with zero prices each class's cheapest option has the least
reduced cost), so the dual simplex only repairs the overdrawn rows instead of first serving every
class one pivot at a time: about 3x fewer iterations than from the slack basis on the benchmark
wave. ``solve_lp(..., integral=True)`` is the same model with integer counts per class and option:
the exact MIP of a class problem whose members are identical (used by the repair).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import highspy
import numpy as np

from xborder.planning.lagrange import reduced_costs
from xborder.planning.problem import F64, I64, Plan, Problem, plan_cost


@dataclass(frozen=True, slots=True)
class _Model:
    """A HiGHS model of (a subset of) the problem: columns are options."""

    cost: F64
    offset: float
    inv_rows: I64  # flat (source * skus + sku) of each inventory row
    cap_rows: I64  # capacity row of each capacity row
    n_unit_rows: int


def highs_instance(quiet: bool = True) -> highspy.Highs:
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
    h = highs_instance()
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


def _crash_basis(h: highspy.Highs, problem: Problem, cost: F64) -> None:
    """Every class on its cheapest option by ``cost`` (if below zero, i.e. cheaper than leaving it
    unserved), every linking row slack.

    Dual feasible at zero prices, primal infeasible only on the rows that the cheapest choices
    overdraw: the dual simplex starts there (see the module doc).
    """
    order = np.lexsort((cost, problem.opt_unit))
    u = problem.opt_unit[order]
    first = order[np.r_[True, u[1:] != u[:-1]]]
    first = first[cost[first] < 0]
    status = highspy.HighsBasisStatus
    col = np.zeros(problem.n_options, dtype=np.int8)
    col[first] = 1
    row = np.ones(h.getNumRow(), dtype=np.int8)
    row[problem.opt_unit[first]] = 2
    lookup = (status.kLower, status.kBasic, status.kUpper)
    basis = highspy.HighsBasis()
    basis.col_status = [lookup[i] for i in col.tolist()]
    basis.row_status = [lookup[i] for i in row.tolist()]
    basis.valid = True
    h.setBasis(basis)


def solve_lp(
    problem: Problem,
    mult: F64 | None = None,
    time_limit: float | None = None,
    *,
    crash: bool = True,
    integral: bool = False,
    prices: tuple[F64, F64] | None = None,
) -> tuple[float, F64, F64, F64]:
    """The LP relaxation: (objective, x, stock prices (sources x skus), capacity prices).

    With a ``time_limit`` the dual simplex may stop early: its prices are still non-negative and
    so still give a valid (weaker) Lagrangian bound; the objective is then not a bound.
    ``crash=False`` is plain HiGHS (presolve, slack basis): the benchmark's comparator.
    ``prices`` (stock, capacity) from a similar problem (the previous chunk of a wave) choose
    each class's crash option by its priced cost: about 2.5x fewer simplex iterations when the
    prices are close (the basis is then not dual feasible; HiGHS repairs that too).
    ``integral=True`` solves the class MIP instead (integer count per class and option; no
    prices, zeros are returned for them); raises RuntimeError when HiGHS finds no solution.
    """
    mult = np.ones(problem.n_units) if mult is None else mult
    lam_inv = np.zeros(problem.inventory.shape)
    lam_cap = np.zeros(problem.capacity.size)
    if problem.n_options == 0:
        return float((problem.unit_penalty * mult).sum()), np.zeros(0), lam_inv, lam_cap
    h = highs_instance()
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    if integral:
        h.setOptionValue("mip_rel_gap", 1e-4)
    model = _build(problem, mult, h, integral=integral)
    if crash and not integral:
        score = model.cost
        if prices is not None:
            score = reduced_costs(problem, *prices) - problem.unit_penalty[problem.opt_unit]
        _crash_basis(h, problem, score)
    h.run()
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    if integral:
        if x.size != problem.n_options:
            raise RuntimeError("HiGHS returned no integer solution")
        return float(h.getInfo().objective_function_value), np.round(x), lam_inv, lam_cap
    duals = -np.asarray(sol.row_dual)
    flat = lam_inv.ravel()
    flat[model.inv_rows] = np.maximum(
        duals[model.n_unit_rows : model.n_unit_rows + model.inv_rows.size], 0
    )
    lam_cap[model.cap_rows] = np.maximum(duals[model.n_unit_rows + model.inv_rows.size :], 0)
    objective = float(h.getInfo().objective_function_value)
    return objective, x, flat.reshape(lam_inv.shape), lam_cap
