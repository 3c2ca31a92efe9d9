"""Coupling coordination: hand-computed values, published R outputs, invariants, fixed frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xborder.analytics.coupling import (
    COUPLING_FORMS,
    TEN_LEVELS,
    CouplingParams,
    Level,
    Normalisation,
    Reference,
    Subsystem,
    coordination,
    coupling_coordination,
    coupling_degree,
    data_bounds,
    development,
    entropy_weights,
    grade,
    lag_type,
    minmax,
)
from xborder.domain.errors import InvalidValue


def test_minmax_benefit_and_cost_with_the_default_shift() -> None:
    x = np.array([[2.0, 2.0], [4.0, 4.0], [6.0, 6.0]])
    lower, upper = data_bounds(x, ["a", "b"])
    scores = minmax(x, ["+", "-"], lower, upper)
    # benefit: (x - 2)/4 + 0.0001; cost: (6 - x)/4 + 0.0001
    assert scores[:, 0] == pytest.approx([0.0001, 0.5001, 1.0001])
    assert scores[:, 1] == pytest.approx([1.0001, 0.5001, 0.0001])


def test_minmax_interval_rescaling_and_fixed_bounds_clip() -> None:
    x = np.array([[2.0], [4.0], [6.0]])
    interval = Normalisation("interval", low=0.002, high=0.998)
    scores = minmax(x, ["+"], np.array([2.0]), np.array([6.0]), interval)
    # 0.002 + 0.996 * (0, 0.5, 1)
    assert scores[:, 0] == pytest.approx([0.002, 0.5, 0.998])
    fixed = minmax(x, ["+"], np.array([0.0]), np.array([5.0]), Normalisation(shift=0.0))
    assert fixed[:, 0] == pytest.approx([0.4, 0.8, 1.0])  # 6 is clipped to the stated 5


def test_entropy_weights_by_hand() -> None:
    scores = np.array([[0.25, 0.4], [0.75, 0.6]])
    e1 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / math.log(2)
    e2 = -(0.4 * math.log(0.4) + 0.6 * math.log(0.6)) / math.log(2)
    d1, d2 = 1 - e1, 1 - e2
    assert entropy_weights(scores) == pytest.approx([d1 / (d1 + d2), d2 / (d1 + d2)])
    assert entropy_weights(scores)[0] == pytest.approx(0.86661, abs=1e-5)


def test_two_system_coupling_forms_by_hand() -> None:
    u = np.array([[0.3, 0.6]])
    standard = 2 * math.sqrt(0.3 * 0.6) / (0.3 + 0.6)
    assert coupling_degree(u, "standard")[0] == pytest.approx(standard)
    assert standard == pytest.approx(math.sqrt(0.3 * 0.6 / ((0.3 + 0.6) / 2) ** 2))
    assert coupling_degree(u, "wang2021")[0] == pytest.approx(math.sqrt((1 - 0.3) * 0.3 / 0.6))
    assert coupling_degree(u, "fan2024")[0] == pytest.approx(1 - 0.3)
    t = development(u, (0.5, 0.5))
    assert t[0] == pytest.approx(0.45)
    assert coordination(coupling_degree(u), t)[0] == pytest.approx(math.sqrt(standard * 0.45))


def test_all_zero_indices_have_no_coupling() -> None:
    assert coupling_degree(np.zeros((1, 2)), "standard")[0] == 0.0
    assert coupling_degree(np.zeros((1, 2)), "wang2021")[0] == 0.0


def test_grades_on_the_ten_level_scale() -> None:
    levels = grade(np.array([0.0, 0.1, 0.10001, 0.55, 0.9, 0.95, 1.0]))
    assert [lv.english for lv in levels] == [
        "extreme disorder", "extreme disorder", "serious disorder", "barely coordinated",
        "good coordination", "high-quality coordination", "high-quality coordination",
    ]  # fmt: skip
    assert [lv.chinese for lv in levels][:3] == ["极度失调", "极度失调", "严重失调"]
    assert levels[-1].chinese == "优质协调"
    assert len(TEN_LEVELS) == 10


def test_a_custom_scale() -> None:
    scale = (Level(0.5, "low", "低"), Level(1.0, "high", "高"))
    assert [lv.english for lv in grade(np.array([0.2, 0.7]), scale)] == ["low", "high"]
    with pytest.raises(InvalidValue, match="scale"):
        grade(np.array([0.2]), (Level(0.5, "low", "低"),))


def test_lag_type_and_its_tolerance() -> None:
    u1, u2 = np.array([0.6, 0.3, 0.5]), np.array([0.3, 0.6, 0.45])
    names = ("ecommerce", "logistics")
    assert lag_type(u1, u2, names) == ["logistics lagging", "ecommerce lagging", "synchronous"]
    assert lag_type(u1, u2, names, tolerance=0.01)[2] == "logistics lagging"


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(InvalidValue, match="coefficients"):
        CouplingParams(coefficients=(0.7, 0.5))
    with pytest.raises(InvalidValue, match="form"):
        CouplingParams(form="nope")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="interval"):
        Normalisation("interval", low=0.5, high=0.2)
    with pytest.raises(InvalidValue, match="constant"):
        data_bounds(np.array([[1.0], [1.0]]), ["flat"])
    with pytest.raises(InvalidValue, match="2 rows"):
        entropy_weights(np.array([[0.5, 0.5]]))


# Published outputs of the R package ``mathmodels`` (Jingxin Zhang), repo zhjx19/mathmodels,
# docs/reference/entropy_weight.md and docs/reference/coupling.html (pkgdown renders of the Rd
# examples, https://zhjx19.github.io/mathmodels/reference/).
def test_mathmodels_entropy_weight_example() -> None:
    x = np.array([[3.0, 10.0], [5.0, 20.0], [2.0, 15.0], [7.0, 25.0]])
    lower, upper = data_bounds(x, ["x1", "x2"])
    # mathmodels rescales into [epsilon, 1 - epsilon] with epsilon = 0.002
    scores = minmax(x, ["+", "-"], lower, upper, Normalisation("interval", low=0.002, high=0.998))
    w = entropy_weights(scores)
    assert w == pytest.approx([0.5452618, 0.4547382], abs=1e-7)
    assert 100 * scores @ w == pytest.approx([56.35354, 47.88215, 30.39461, 54.50808], abs=1e-5)


S1 = [0.0162, 0.1782, 0.5490, 0.6730, 0.0207, 0.9875]
S2 = [0.2720, 0.6824, 0.0593, 0.4812, 0.8891, 0.5573]
S3 = [0.2655, 0.3721, 0.5729, 0.9082, 0.2017, 0.8984]


def test_mathmodels_two_system_coupling_example() -> None:
    u = np.column_stack([S1, S2])
    c = coupling_degree(u, "standard")
    assert c == pytest.approx(
        [0.4606573, 0.8104048, 0.5932335, 0.9860962, 0.2982253, 0.9604413], abs=1e-7
    )
    assert coordination(c, development(u, (0.5, 0.5))) == pytest.approx(
        [0.2576446, 0.5905228, 0.4247729, 0.7543713, 0.3683242, 0.8613041], abs=1e-7
    )
    assert coordination(c, development(u, (0.6, 0.4))) == pytest.approx(
        [0.2336602, 0.5548483, 0.4576927, 0.7668047, 0.3313077, 0.8849650], abs=1e-7
    )


def test_mathmodels_three_system_coupling_degree_example() -> None:
    # docs/reference/system_evaluation.md: tibbles printed to 3 significant digits
    u = np.column_stack([S1, S2, S3])
    c = coupling_degree(u, "standard")
    assert c == pytest.approx([0.571, 0.867, 0.674, 0.967, 0.418, 0.971], abs=6e-4)
    d = coordination(c, development(u, (1 / 3, 1 / 3, 1 / 3)))
    assert d == pytest.approx([0.325, 0.597, 0.515, 0.815, 0.393, 0.889], abs=6e-4)
    adjusted = coupling_degree(u, "wang2021")  # mathmodels' type = "adjusted" (Wang et al. 2021)
    assert adjusted == pytest.approx([0.447, 0.501, 0.455, 0.669, 0.175, 0.715], abs=6e-4)
    d = coordination(adjusted, development(u, (0.4, 0.3, 0.3)))
    assert d == pytest.approx([0.274, 0.440, 0.432, 0.678, 0.242, 0.771], abs=6e-4)


# Published outputs of the R package ``coupling`` 0.1 (Wenbo Lyu, CRAN), vignette ccd.Rmd in
# repo stscl/coupling (vignettes/ccd.Rmd): head() of ccd() on four normalised gzma scores. The
# inputs are printed to 7 decimals, so the outputs agree to about 1e-6.
GZMA = np.array([
    [0.8179733, 0.3246648, 0.6590316, 0.1308531],
    [0.3020233, 0.1318888, 0.4046987, 0.5173794],
    [0.9209903, 0.3353516, 0.6921477, 0.3141320],
    [0.9604095, 0.3914758, 0.7099999, 0.4316421],
    [0.9061589, 0.3473603, 0.7297774, 0.6909494],
    [0.9456379, 0.4391423, 0.7304117, 0.4792905],
])  # fmt: skip
R_COUPLING = {
    "standard": ([0.8051958, 0.8914577, 0.8999423, 0.9346128, 0.9440912, 0.9519923],
                 [0.6237105, 0.5497290, 0.7134825, 0.7632959, 0.7944703, 0.7858001]),
    "wang2021": ([0.4722274, 0.6211236, 0.5375842, 0.5861986, 0.6640321, 0.6319211],
                 [0.4776480, 0.4588675, 0.5514412, 0.6045044, 0.6662930, 0.6402164]),
    "fan2024": ([0.4593785, 0.7164548, 0.4915051, 0.5399620, 0.5951898, 0.5907777],
                [0.4711049, 0.4928249, 0.5272784, 0.5801746, 0.6308098, 0.6190239]),
}  # fmt: skip


@pytest.mark.parametrize("form", COUPLING_FORMS)
def test_r_package_coupling_vignette(form: str) -> None:
    c = coupling_degree(GZMA, form)  # type: ignore[arg-type]
    expected_c, expected_d = R_COUPLING[form]
    assert c == pytest.approx(expected_c, abs=2e-6)
    assert coordination(c, development(GZMA, (0.25,) * 4)) == pytest.approx(expected_d, abs=2e-6)


unit = st.floats(0.0, 1.0, allow_nan=False)
matrices = arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 5)),
                  elements=st.floats(0.0, 1.0, allow_nan=False))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(u1=unit, u2=unit, form=st.sampled_from(COUPLING_FORMS), a=unit)
def test_c_and_d_stay_in_the_unit_interval(u1: float, u2: float, form: str, a: float) -> None:
    u = np.array([[u1, u2]])
    c = coupling_degree(u, form)  # type: ignore[arg-type]
    d = coordination(c, development(u, (a, 1 - a)))
    assert 0.0 <= c[0] <= 1.0
    assert 0.0 <= d[0] <= 1.0


@settings(max_examples=200, deadline=None)
@given(scores=matrices, seed=st.integers(0, 2**32 - 1))
def test_entropy_weights_sum_to_one_and_ignore_row_order(scores: np.ndarray, seed: int) -> None:
    w = entropy_weights(scores)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w >= 0)
    shuffled = scores[np.random.default_rng(seed).permutation(scores.shape[0])]
    assert entropy_weights(shuffled) == pytest.approx(w, abs=1e-9)


SYSTEMS = (Subsystem("ecommerce", {"gmv": "+", "returns": "-"}),
           Subsystem("logistics", {"days": "-", "on_time": "+"}))  # fmt: skip
SILOED = {
    "gmv": np.array([100.0, 120.0, 150.0]),
    "returns": np.array([0.09, 0.08, 0.08]),
    "days": np.array([14.0, 13.0, 12.0]),
    "on_time": np.array([0.70, 0.72, 0.75]),
}
# the integrated run is better on every indicator by the same step in every period
INTEGRATED = {"gmv": SILOED["gmv"] + 40, "returns": SILOED["returns"] - 0.02,
              "days": SILOED["days"] - 5, "on_time": SILOED["on_time"] + 0.15}  # fmt: skip


def test_per_run_normalisation_erases_the_difference_fixed_bounds_keep_it() -> None:
    siloed = coupling_coordination(SILOED, SYSTEMS)
    integrated = coupling_coordination(INTEGRATED, SYSTEMS)
    assert integrated.d == pytest.approx(siloed.d)  # each run is its own yardstick: no difference
    frame = Reference(
        bounds={"gmv": (50.0, 250.0), "returns": (0.0, 0.1), "days": (5.0, 20.0),
                "on_time": (0.5, 1.0)},
        weights={"gmv": 0.5, "returns": 0.5, "days": 0.5, "on_time": 0.5},
    )  # fmt: skip
    siloed = coupling_coordination(SILOED, SYSTEMS, reference=frame)
    integrated = coupling_coordination(INTEGRATED, SYSTEMS, reference=frame)
    assert np.all(integrated.d > siloed.d + 0.1)
    # hand check of the first period, siloed: shift 0.0001 on each min-max share
    u1 = 0.5 * ((100 - 50) / 200 + 0.0001) + 0.5 * ((0.1 - 0.09) / 0.1 + 0.0001)
    u2 = 0.5 * ((20 - 14) / 15 + 0.0001) + 0.5 * ((0.70 - 0.5) / 0.5 + 0.0001)
    assert siloed.u[0] == pytest.approx([u1, u2])
    assert siloed.weights["ecommerce"] == {"gmv": 0.5, "returns": 0.5}


def test_a_result_is_its_own_reference() -> None:
    first = coupling_coordination(SILOED, SYSTEMS)
    again = coupling_coordination(SILOED, SYSTEMS, reference=first.reference())
    assert again.d == pytest.approx(first.d)
    with pytest.raises(InvalidValue, match="sum to 1"):
        coupling_coordination(
            SILOED,
            SYSTEMS,
            reference=Reference(weights={"gmv": 0.9, "returns": 0.5, "days": 0.5, "on_time": 0.5}),
        )


def test_a_column_without_information_gets_no_weight() -> None:
    scores = np.array([[0.0, 0.2, 0.5], [0.0, 0.8, 0.5]])
    w = entropy_weights(scores)
    assert w[0] == 0.0
    assert w[2] == pytest.approx(0.0)
    assert w[1] == pytest.approx(1.0)
