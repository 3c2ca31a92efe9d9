"""Grey relational analysis: which indicators move most like a reference series.

Used to rank the indicators by how closely each follows a reference (a subsystem index, D, or a
chosen column) over the periods; short series and no distributional assumptions are exactly the
situation grey relational analysis (Deng Julong) was made for. The series should be on comparable
scales first (min-max scores, or each divided by its first value): the relational coefficient
compares absolute differences.

For each comparison series i and point k: delta_ik = |x0(k) - xi(k)|;
xi_ik = (min_i min_k delta + rho * max_i max_k delta) / (delta_ik + rho * max_i max_k delta);
the relational grade r_i is the (weighted) mean of xi_ik over k. rho is the resolution
coefficient, 0.5 by convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from xborder.domain.errors import InvalidValue

Array = NDArray[np.float64]


def relational_grades(
    reference: Array,
    comparison: Array,
    rho: float = 0.5,
    weights: Sequence[float] | None = None,
) -> Array:
    """Grey relational grade of each column of ``comparison`` (points, series) to ``reference``
    (points,). ``weights`` weight the points (equal by default)."""
    if not 0.0 < rho <= 1.0:
        raise InvalidValue("rho", "the resolution coefficient must be in (0, 1]", rho)
    if comparison.ndim != 2 or reference.shape != (comparison.shape[0],):
        raise InvalidValue("comparison", "needs one row per point of the reference")
    points = comparison.shape[0]
    w = np.full(points, 1.0 / points) if weights is None else np.asarray(weights, np.float64)
    if w.shape != (points,) or not np.isclose(w.sum(), 1.0):
        raise InvalidValue("weights", "need one weight per point, summing to 1")
    delta = np.abs(comparison - reference[:, None])
    low, high = delta.min(), delta.max()
    if high == 0:
        return np.ones(comparison.shape[1])
    coefficient = (low + rho * high) / (delta + rho * high)
    return np.asarray(w @ coefficient, dtype=np.float64)


def rank(names: Sequence[str], grades: Array) -> list[tuple[str, float]]:
    """Indicators from the most to the least related (ties keep the given order)."""
    order = np.argsort(-grades, kind="stable")
    return [(names[i], float(grades[i])) for i in order.tolist()]
