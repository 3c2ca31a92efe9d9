"""Warehouse network design: the capacitated facility location problem (multi-/single-source).

``Instance`` (arrays) -> ``solve`` (exact MIP, or Lagrangian relaxation + kernel MIP) -> ``Plan``.
"""

from xborder.planning.network.instance import Instance
from xborder.planning.network.orlib import parse_orlib, read_orlib
from xborder.planning.network.plan import Plan, plan_cost, violations
from xborder.planning.network.solver import METHODS, solve, solve_fixed

__all__ = [
    "METHODS",
    "Instance",
    "Plan",
    "parse_orlib",
    "plan_cost",
    "read_orlib",
    "solve",
    "solve_fixed",
    "violations",
]
