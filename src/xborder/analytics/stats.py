"""Mean and 95% confidence interval of Monte Carlo replications (Student's t).

SciPy is not a dependency, so the t quantile is here: an exact table of the 0.975 quantile for
1..30 degrees of freedom (checked in the tests against a numerical integration of the t density)
and, above 30, the Cornish-Fisher expansion of t around the normal quantile, which is within
1e-6 of the exact value there. Only the 95% two-sided interval is offered because that is what
the report shows; widen the table if another level is ever needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xborder.domain.errors import InvalidValue

Z_975 = 1.959963984540054  # the standard normal 0.975 quantile
T_975 = (
    12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
    2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688,
    2.131449546, 2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845,
    2.073873068, 2.068657610, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
    2.045229642, 2.042272456,
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise InvalidValue("df", "degrees of freedom must be >= 1", df)
    if df <= len(T_975):
        return T_975[df - 1]
    z = Z_975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@dataclass(frozen=True, slots=True)
class MeanCI:
    """Mean of n replications and its 95% interval; with one replication there is no interval
    (``half_width``, ``low`` and ``high`` are None) rather than a made-up one."""

    mean: float
    n: int
    half_width: float | None
    low: float | None
    high: float | None


def mean_ci(values: Sequence[float] | np.ndarray) -> MeanCI:
    """Mean and 95% confidence interval mean +- t(0.975, n-1) * s / sqrt(n), s the sample
    standard deviation (ddof=1)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise InvalidValue("values", "need a non-empty list of numbers")
    if not np.all(np.isfinite(x)):
        raise InvalidValue("values", "must be finite numbers")
    mean = float(x.mean())
    if x.size < 2:
        return MeanCI(mean, 1, None, None, None)
    half = t_quantile_975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return MeanCI(mean, int(x.size), half, mean - half, mean + half)
