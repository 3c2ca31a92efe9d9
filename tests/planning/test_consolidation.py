"""Consolidation kernel: bin packing within limits, GS1 SSCC and IATA AWB check digits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xborder.domain.errors import InvalidValue
from xborder.planning.consolidation import (
    Limits,
    awb_number,
    fill_rates,
    first_fit_decreasing,
    gs1_check_digit,
    sscc,
    sscc_valid,
)


def test_sscc_matches_the_gs1_example() -> None:
    # GS1 General Specifications example SSCC (AI 00): 1 0614141 123456789 7
    assert gs1_check_digit("10614141123456789") == 7
    assert sscc(123456789, extension=1) == "106141411234567897"
    assert sscc_valid("106141411234567897")
    assert not sscc_valid("106141411234567898")
    with pytest.raises(InvalidValue):
        sscc(10**9)


def test_awb_check_digit_is_serial_mod_7() -> None:
    assert awb_number(784, 1234567) == "784-12345675"  # 1234567 mod 7 = 5
    assert awb_number(1, 7) == "001-00000070"


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.01, 30.0), st.floats(1.0, 250_000.0)), min_size=1, max_size=120)
)
def test_ffd_never_overfills_and_is_near_the_bound(items: list[tuple[float, float]]) -> None:
    limits = Limits("bag", 30.0, 250_000.0)
    w = np.array([i[0] for i in items])
    v = np.array([i[1] for i in items])
    bins = first_fit_decreasing(w, v, limits)
    n = int(bins.max()) + 1
    assert (np.bincount(bins, weights=w, minlength=n) <= limits.max_kg + 1e-6).all()
    assert (np.bincount(bins, weights=v, minlength=n) <= limits.max_cm3 + 1e-3).all()
    assert set(bins.tolist()) == set(range(n))  # no empty bins
    fills = fill_rates(w, v, bins, limits)
    assert ((fills > 0) & (fills <= 1 + 1e-9)).all()
    # any packing needs at least the total of the binding dimension; FFD stays within 2x of it
    lower = max(w.sum() / limits.max_kg, v.sum() / limits.max_cm3)
    assert n <= max(1, 2 * int(np.ceil(lower)) + 1)


def test_ffd_fills_bags_one_by_one() -> None:
    limits = Limits("bag", 30.0, 1e9)
    bins = first_fit_decreasing(np.array([20.0, 10.0, 15.0, 15.0]), np.ones(4), limits)
    assert sorted(np.bincount(bins).tolist()) == [2, 2]


def test_an_oversized_parcel_is_refused() -> None:
    with pytest.raises(InvalidValue):
        first_fit_decreasing(np.array([31.0]), np.array([1.0]), Limits("bag", 30.0, 1e9))
