"""Composite system synergy degree between periods, after Meng Qingsong and Han Wenxiu (2000).

Coupling coordination (``coupling.py``) is a snapshot of each period; the synergy degree is about
change: did the two subsystems become more ordered *together* from one period to the next? Each
subsystem's order parameters (its indicators) get an orderliness in [0, 1] against stated upper
and lower bounds (alpha, beta), the orderliness values combine into the subsystem's order degree,
and the synergy between a base period t0 and a period t1 is

    C = theta * (prod_j |u_j(t1) - u_j(t0)|)^(1/k),  theta = +1 if every u_j rose, else -1

which for two subsystems is theta * sqrt(|du1| * |du2|), in [-1, 1]. Positive only when both
subsystems improve; one improving at the other's expense counts as non-synergetic.

Reference: Meng Qingsong, Han Wenxiu, "复合系统协调度模型研究" (Research on the coordination
degree model of composite systems), Journal of Tianjin University (Social Sciences) 2(4), 2000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from xborder.analytics.coupling import Direction
from xborder.domain.errors import InvalidValue

Array = NDArray[np.float64]
Aggregation = Literal["geometric", "linear"]


def order_bounds(values: Array, margin: float = 0.1) -> tuple[Array, Array]:
    """Bounds (beta, alpha) of each order parameter from the data, widened by ``margin`` times
    the range on each side. Why widen: with the geometric mean a component at exactly its lower
    bound has orderliness 0 and zeroes the whole subsystem's order degree, hiding every other
    component's movement. Pass explicit bounds for comparisons across runs."""
    if margin < 0:
        raise InvalidValue("margin", "must be >= 0", margin)
    low, high = values.min(axis=0), values.max(axis=0)
    span = high - low
    if np.any(span <= 0):
        raise InvalidValue("order parameters", "a constant column has no order to measure")
    return low - margin * span, high + margin * span


def orderliness(
    values: Array, directions: Sequence[Direction], lower: Array, upper: Array
) -> Array:
    """Orderliness u(e_ji) of each order parameter in each period, clipped to [0, 1]:
    (e - beta)/(alpha - beta) for a positive parameter, (alpha - e)/(alpha - beta) for a negative
    one, with alpha the upper and beta the lower bound."""
    span = upper - lower
    if np.any(span <= 0):
        raise InvalidValue("bounds", "each upper bound (alpha) must exceed the lower (beta)")
    share = (values - lower) / span
    negative = np.array([d == "-" for d in directions])
    return np.asarray(np.clip(np.where(negative, 1.0 - share, share), 0.0, 1.0), np.float64)


def order_degree(
    orderliness_values: Array,
    aggregation: Aggregation = "geometric",
    weights: Sequence[float] | None = None,
) -> Array:
    """Order degree of a subsystem per period: the geometric mean of its components'
    orderliness (Meng & Han's first form) or their weighted linear sum (the second form; equal
    weights unless given)."""
    n = orderliness_values.shape[1]
    if aggregation == "geometric":
        return np.asarray(np.prod(orderliness_values, axis=1) ** (1.0 / n), dtype=np.float64)
    if aggregation != "linear":
        raise InvalidValue("aggregation", "must be 'geometric' or 'linear'", aggregation)
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise InvalidValue("weights", "need one non-negative weight per component, summing to 1")
    return np.asarray(orderliness_values @ w, dtype=np.float64)


def synergy(order_degrees: Array, base: int | None = None) -> Array:
    """Synergy degree of the subsystems, one value per period after the first.

    ``order_degrees`` is (periods, k). With ``base=None`` each period is compared with the one
    before it (t0 = t - 1); with ``base=i`` every later period is compared with period i (the
    result then has one value per period after i).
    """
    periods, k = order_degrees.shape
    if periods < 2 or k < 2:
        raise InvalidValue("order degrees", "need at least 2 periods and 2 subsystems",
                           (periods, k))  # fmt: skip
    if base is None:
        delta = np.diff(order_degrees, axis=0)
    else:
        if not 0 <= base < periods - 1:
            raise InvalidValue("base", f"must be a period index in 0..{periods - 2}", base)
        delta = order_degrees[base + 1 :] - order_degrees[base]
    theta = np.where(np.all(delta > 0, axis=1), 1.0, -1.0)
    magnitude = np.prod(np.abs(delta), axis=1) ** (1.0 / k)
    return np.asarray(theta * magnitude, dtype=np.float64)
