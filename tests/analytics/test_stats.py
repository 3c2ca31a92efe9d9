"""Replication statistics: the t table checked by integrating the t density, the CI by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xborder.analytics.stats import mean_ci, t_quantile_975
from xborder.domain.errors import InvalidValue


def _t_cdf(x: float, df: int, steps: int = 4000) -> float:
    """P(T <= x) by Simpson's rule on the t density: independent of the module's table."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    grid = np.linspace(0.0, x, steps + 1)
    f = c * (1 + grid**2 / df) ** (-(df + 1) / 2)
    weights = np.ones(steps + 1)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    return 0.5 + float(f @ weights) * (x / steps) / 3


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 17, 29, 30, 31, 45, 100])
def test_t_quantile_is_the_975_point(df: int) -> None:
    assert _t_cdf(t_quantile_975(df), df) == pytest.approx(0.975, abs=1e-8)


def test_t_quantile_against_printed_tables() -> None:
    # the familiar printed values (3 decimals)
    for df, q in [(1, 12.706), (4, 2.776), (10, 2.228), (30, 2.042), (60, 2.000), (120, 1.980)]:
        assert t_quantile_975(df) == pytest.approx(q, abs=6e-4)
    assert t_quantile_975(10**6) == pytest.approx(1.959964, abs=1e-5)
    with pytest.raises(InvalidValue):
        t_quantile_975(0)


def test_mean_ci_by_hand() -> None:
    ci = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    s = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + 1 + 4) / 4)  # sample sd = sqrt(2.5)
    half = 2.776445105 * s / math.sqrt(5)
    assert (ci.mean, ci.n) == (3.0, 5)
    assert ci.half_width == pytest.approx(half)
    assert ci.low == pytest.approx(3 - half)
    assert ci.high == pytest.approx(3 + half)


def test_one_replication_has_no_interval() -> None:
    ci = mean_ci([4.2])
    assert (ci.mean, ci.n, ci.half_width, ci.low, ci.high) == (4.2, 1, None, None, None)
    with pytest.raises(InvalidValue):
        mean_ci([])
    with pytest.raises(InvalidValue):
        mean_ci([1.0, float("nan")])
