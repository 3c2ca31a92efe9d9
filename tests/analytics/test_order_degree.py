"""Composite system synergy degree (Meng & Han 2000): hand-computed values and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xborder.analytics.order_degree import order_bounds, order_degree, orderliness, synergy
from xborder.domain.errors import InvalidValue


def test_orderliness_positive_and_negative() -> None:
    values = np.array([[2.0, 2.0], [4.0, 4.0], [12.0, -1.0]])
    u = orderliness(values, ["+", "-"], np.array([0.0, 0.0]), np.array([10.0, 10.0]))
    # positive: (e - 0)/10; negative: (10 - e)/10; outside the bounds clipped to [0, 1]
    assert u[:, 0] == pytest.approx([0.2, 0.4, 1.0])
    assert u[:, 1] == pytest.approx([0.8, 0.6, 1.0])


def test_order_degree_geometric_and_linear() -> None:
    u = np.array([[0.25, 0.64], [0.5, 0.5]])
    assert order_degree(u) == pytest.approx([math.sqrt(0.25 * 0.64), 0.5])
    assert order_degree(u, "linear", [0.2, 0.8]) == pytest.approx([0.2 * 0.25 + 0.8 * 0.64, 0.5])
    with pytest.raises(InvalidValue, match="weights"):
        order_degree(u, "linear", [0.5, 0.6])


def test_synergy_sign_and_magnitude_by_hand() -> None:
    # periods x (u1, u2)
    degrees = np.array([[0.2, 0.3], [0.5, 0.6], [0.6, 0.4], [0.5, 0.3]])
    s = synergy(degrees)
    assert s[0] == pytest.approx(math.sqrt(0.3 * 0.3))  # both rose: +
    assert s[1] == pytest.approx(-math.sqrt(0.1 * 0.2))  # u2 fell: -
    assert s[2] == pytest.approx(-math.sqrt(0.1 * 0.1))  # both fell: still -
    base = synergy(degrees, base=0)  # every period against the first
    assert base == pytest.approx([0.3, math.sqrt(0.4 * 0.1), math.sqrt(0.3 * 0.0)])


def test_order_bounds_widen_by_the_margin() -> None:
    lower, upper = order_bounds(np.array([[10.0], [20.0]]), margin=0.1)
    assert (lower[0], upper[0]) == pytest.approx((9.0, 21.0))
    with pytest.raises(InvalidValue, match="constant"):
        order_bounds(np.array([[1.0], [1.0]]))


def test_synergy_needs_two_periods_and_a_valid_base() -> None:
    with pytest.raises(InvalidValue):
        synergy(np.array([[0.1, 0.2]]))
    with pytest.raises(InvalidValue, match="base"):
        synergy(np.array([[0.1, 0.2], [0.3, 0.4]]), base=1)


@settings(max_examples=200, deadline=None)
@given(degrees=arrays(np.float64, st.tuples(st.integers(2, 10), st.integers(2, 4)),
                      elements=st.floats(0.0, 1.0, allow_nan=False)))  # fmt: skip
def test_synergy_stays_in_minus_one_to_one(degrees: np.ndarray) -> None:
    s = synergy(degrees)
    assert np.all(s >= -1.0)
    assert np.all(s <= 1.0)
    rising = np.all(np.diff(degrees, axis=0) > 0, axis=1)
    assert np.all(s[~rising] <= 0)  # positive only when every subsystem's order rose
