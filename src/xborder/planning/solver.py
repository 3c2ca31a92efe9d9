"""Solve the fulfilment problem with HiGHS: exact MIP for small waves, class LP for large ones.

The pieces live by purpose: ``highs_model`` (the HiGHS models: exact MIP, class LP from a crash
basis, class MIP), ``lagrange`` (prices -> reduced costs -> a lower bound valid for the whole
wave), ``classes`` (aggregation into classes of interchangeable units, restriction to a subset)
and ``large`` (the large-wave method: class LP prices, follow, exact repair, chunks). This module
is the entry point and re-exports what callers and tests use.
"""

from __future__ import annotations

import contextlib

from xborder.domain.errors import InvalidValue
from xborder.planning.classes import WEIGHT_BUCKET, aggregate, aggregate_by, restrict, subproblem
from xborder.planning.highs_model import solve_lp, solve_mip
from xborder.planning.lagrange import lagrangian_bound, reduced_costs, subgradient_bound
from xborder.planning.large import MAX_CLASSES, REPAIR_UNITS, repair, solve_large
from xborder.planning.problem import Plan, Problem, is_feasible

__all__ = [
    "MAX_CLASSES",
    "MIP_MAX_UNITS",
    "REPAIR_UNITS",
    "WEIGHT_BUCKET",
    "aggregate",
    "aggregate_by",
    "lagrangian_bound",
    "reduced_costs",
    "repair",
    "restrict",
    "solve",
    "solve_large",
    "solve_lp",
    "solve_mip",
    "subgradient_bound",
    "subproblem",
]

MIP_MAX_UNITS = 3_000


def solve(problem: Problem, method: str = "auto", time_limit: float = 60.0) -> Plan:
    """Plan a wave: ``mip`` (exact), ``lp`` (class LP + exact repair) or ``auto`` by size."""
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
