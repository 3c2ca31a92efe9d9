"""The CFLP as a HiGHS MIP, built from NumPy arrays in one ``passModel`` call.

Variables: ``y_i`` (open site i, binary) and ``x_a`` for each allowed arc a = (i, j) (share of
region j served by site i; binary when single-source). Rows: demand ``sum_i x_ij = 1``; capacity
``sum_j d_j x_ij - s_i y_i <= 0``; the aggregate cut ``sum_i s_i y_i >= sum_j d_j`` and the count
cut ``sum_i y_i >= p`` (p = fewest sites that can carry the demand); and, in the strong form,
``x_ij <= y_i``. The strong rows make the LP bound much tighter (the plain form's LP
opens sites fractionally just enough to carry the flow), which is what lets single-source capa/b/c
close at all. Restricting ``sites``/``arcs`` gives the kernel MIP of the large-instance method.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from xborder.planning.network.instance import FloatArray, Instance
from xborder.planning.network.lagrange import min_sites
from xborder.planning.network.plan import BoolArray

IntArray = npt.NDArray[np.int64]


_quiet = False


def new_highs() -> highspy.Highs:
    """A silent HiGHS. Its C++ constructor prints a banner to stdout once per process, which
    would corrupt ``--json`` output: the first construction runs with stdout sent to stderr."""
    global _quiet
    if _quiet:
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _quiet = True
    h.setOptionValue("output_flag", False)
    # HiGHS keeps one thread scheduler per process, set up by the first solve: every solver in
    # xborder asks for the same single thread, or a later one with another count fails
    h.setOptionValue("threads", 1)
    return h


@dataclass(frozen=True, eq=False)
class MipResult:
    share: FloatArray | None  # (m, n) or None when no feasible solution was found
    objective: float
    dual_bound: float
    optimal: bool


def solve_mip(
    inst: Instance,
    *,
    strong: bool = True,
    aggregate: bool = True,
    sites: BoolArray | None = None,
    arcs: BoolArray | None = None,
    start: FloatArray | None = None,
    time_limit: float = 60.0,
    rel_gap: float = 1e-7,
    relax: bool = False,
    fixed_open: BoolArray | None = None,
) -> MipResult:
    """Solve (or LP-relax) the model over the allowed ``sites`` and ``arcs`` (default: all).

    ``start`` is a full (m, n) share matrix used as the incumbent (warm start); its arcs are
    always allowed. ``fixed_open`` fixes exactly those sites open (the others closed): the
    transportation LP (multi-source) or assignment MIP (single-source) of one open set. The dual
    bound is for the restricted model: it bounds the full problem only when nothing was
    restricted.
    """
    m, n = inst.m, inst.n
    site_ok = np.ones(m, dtype=bool) if sites is None else sites.copy()
    if fixed_open is not None:
        site_ok = fixed_open.copy()
    arc_ok = np.ones((m, n), dtype=bool) if arcs is None else arcs.copy()
    if start is not None and fixed_open is None:
        used = start > 1e-9
        arc_ok |= used
        site_ok |= used.any(axis=1)
    arc_ok &= site_ok[:, None]
    site_idx = np.flatnonzero(site_ok)
    k = len(site_idx)
    pos = np.full(m, -1, dtype=np.int64)
    pos[site_idx] = np.arange(k)
    ai, aj = np.nonzero(arc_ok)
    a = len(ai)
    d, s = inst.demand, inst.capacity

    # Row blocks: [0, n) demand, [n, n+k) capacity, n+k aggregate, n+k+1 count (at least as
    # many sites as the largest capacities need), then one x <= y row per arc.
    cap0, agg, cnt, vub0 = n, n + k, n + k + 1, n + k + 2
    ycol = np.arange(k)
    xcol = k + np.arange(a)
    cols = [ycol, ycol, ycol, xcol, xcol]
    rows = [cap0 + ycol, np.full(k, agg), np.full(k, cnt), aj, cap0 + pos[ai]]
    vals = [-s[site_idx], s[site_idx], np.ones(k), np.ones(a), d[aj]]
    if strong:
        cols += [xcol, pos[ai]]
        rows += [vub0 + np.arange(a), vub0 + np.arange(a)]
        vals += [np.ones(a), -np.ones(a)]
    col = np.concatenate(cols)
    row = np.concatenate(rows)
    val = np.concatenate(vals).astype(np.float64)
    order = np.lexsort((row, col))
    col, row, val = col[order], row[order], val[order]
    num_col = k + a
    start_ptr = np.searchsorted(col, np.arange(num_col)).astype(np.int32)
    num_row = vub0 + (a if strong else 0)
    fewest = min_sites(inst.capacity, inst.total_demand) if aggregate else -np.inf
    row_lo = np.concatenate(
        [np.ones(n), np.full(k, -np.inf), [inst.total_demand if aggregate else -np.inf, fewest]]
    )
    row_hi = np.concatenate([np.ones(n), np.zeros(k), [np.inf, np.inf]])
    if strong:
        row_lo = np.concatenate([row_lo, np.full(a, -np.inf)])
        row_hi = np.concatenate([row_hi, np.zeros(a)])
    cost = np.concatenate([inst.fixed_cost[site_idx], inst.assign_cost[ai, aj]])
    col_lo = np.zeros(num_col)
    if fixed_open is not None:
        col_lo[:k] = 1.0
    integrality = np.zeros(num_col, dtype=np.int32)
    if not relax:
        integrality[:k] = 1
        if inst.single_source:
            integrality[k:] = 1

    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(rel_gap))
    h.setOptionValue("mip_abs_gap", 1e-7)
    h.passModel(
        num_col, num_row, len(val), 1, 1, 0.0,
        cost, col_lo, np.ones(num_col), row_lo, row_hi,
        start_ptr, row.astype(np.int32), val, integrality,
    )  # fmt: skip
    if start is not None and not relax:
        x0 = start[ai, aj]
        y0 = (start[site_idx] > 1e-9).any(axis=1).astype(np.float64)
        h.setSolution(num_col, np.arange(num_col, dtype=np.int32), np.concatenate([y0, x0]))
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value, dtype=np.float64)
    feasible = info.primal_solution_status == 2 and len(values) == num_col
    share: FloatArray | None = None
    if feasible:
        share = np.zeros((m, n))
        share[ai, aj] = values[k:]
    objective = float(info.objective_function_value) if feasible else float("inf")
    if relax:
        bound = objective if status == highspy.HighsModelStatus.kOptimal else -float("inf")
    else:
        bound = float(info.mip_dual_bound)
    return MipResult(share, objective, bound, status == highspy.HighsModelStatus.kOptimal)
