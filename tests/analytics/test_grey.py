"""Grey relational analysis: the mathmodels published example and a hand-computed one."""

from __future__ import annotations

import numpy as np
import pytest

from xborder.analytics.grey import rank, relational_grades
from xborder.domain.errors import InvalidValue


def test_mathmodels_grey_corr_example() -> None:
    # R package mathmodels, repo zhjx19/mathmodels, docs/reference/grey_analysis.md
    ref = np.array([0.9, 0.8, 0.7])
    cmp = np.column_stack([[0.9, 0.7, 0.8], [0.8, 0.9, 0.7], [0.7, 0.8, 0.9]])
    assert relational_grades(ref, cmp, 0.5) == pytest.approx(
        [0.6666667, 0.6666667, 0.5555556], abs=1e-7
    )


def test_hand_computed_grades_and_ranking() -> None:
    ref = np.array([1.0, 2.0])
    cmp = np.column_stack([[1.0, 2.5], [2.0, 2.0]])
    # deltas: x1 (0, 0.5), x2 (1, 0); min 0, max 1; rho 0.5 -> xi = 0.5 / (delta + 0.5)
    x1 = (1.0 + 0.5 / 1.0) / 2
    x2 = (0.5 / 1.5 + 1.0) / 2
    grades = relational_grades(ref, cmp)
    assert grades == pytest.approx([x1, x2])
    ranking = rank(["x1", "x2"], grades)
    assert [name for name, _ in ranking] == ["x1", "x2"]
    assert [value for _, value in ranking] == pytest.approx([x1, x2])
    assert [name for name, _ in rank(["x1", "x2"], grades[::-1])] == ["x2", "x1"]
    # a smaller rho sharpens the distinction: xi = 0.1 / (delta + 0.1)
    sharp = relational_grades(ref, cmp, rho=0.1)
    assert sharp == pytest.approx([(1 + 0.1 / 0.6) / 2, (0.1 / 1.1 + 1) / 2])


def test_identical_series_are_fully_related_and_bad_input_is_refused() -> None:
    ref = np.array([0.1, 0.2])
    assert relational_grades(ref, np.column_stack([ref, ref])) == pytest.approx([1.0, 1.0])
    with pytest.raises(InvalidValue, match="rho"):
        relational_grades(ref, np.column_stack([ref]), rho=0.0)
    with pytest.raises(InvalidValue):
        relational_grades(ref, np.ones((3, 1)))
