"""The greedy baseline ShipBob and others publish: in-country stock first, then the cheapest lane.

Orders are served first come, first served (lower unit index first); it is what an operator gets
without optimisation, and the benchmark's and tests' yardstick.
"""

from __future__ import annotations

import time

import numpy as np

from xborder.planning.problem import Plan, Problem, plan_cost
from xborder.planning.rounds import assign_by_rounds


def plan_greedy(problem: Problem) -> Plan:
    """Serve every unit it can: domestic options before lanes, cheaper before dearer."""
    t0 = time.perf_counter()
    domestic = problem.route_domestic[problem.opt_route]
    span = float(np.abs(problem.opt_cost).max()) + 1.0 if problem.n_options else 1.0
    score = problem.opt_cost + np.where(domestic, 0.0, 2.0 * span)
    priority = -np.arange(problem.n_units, dtype=np.float64)
    choice = assign_by_rounds(problem, score, priority, np.ones(problem.n_options, dtype=bool))
    cost = plan_cost(problem, choice)
    return Plan(choice, cost, float("-inf"), "greedy", time.perf_counter() - t0)
