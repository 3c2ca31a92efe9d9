"""Synergy analytics: coupling coordination, composite-system synergy, grey relational analysis
and replication statistics. Pure NumPy computation (an engine): it reads no store and knows no
entry point, so the CLI, the simulator and tests all call the same functions.

``order_degree`` is deliberately not re-exported here: the function would shadow the submodule
of the same name (import it as ``from xborder.analytics.order_degree import order_degree``)."""

from xborder.analytics.coupling import (
    COUPLING_FORMS,
    TEN_LEVELS,
    CouplingParams,
    CouplingResult,
    Level,
    Normalisation,
    Reference,
    Subsystem,
    coupling_coordination,
    coupling_degree,
    entropy_weights,
    minmax,
)
from xborder.analytics.grey import rank, relational_grades
from xborder.analytics.order_degree import order_bounds, orderliness, synergy
from xborder.analytics.stats import MeanCI, mean_ci, t_quantile_975

__all__ = [
    "COUPLING_FORMS",
    "TEN_LEVELS",
    "CouplingParams",
    "CouplingResult",
    "Level",
    "MeanCI",
    "Normalisation",
    "Reference",
    "Subsystem",
    "coupling_coordination",
    "coupling_degree",
    "entropy_weights",
    "mean_ci",
    "minmax",
    "order_bounds",
    "orderliness",
    "rank",
    "relational_grades",
    "synergy",
    "t_quantile_975",
]
