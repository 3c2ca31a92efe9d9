"""Coupling coordination degree of two (or more) subsystems: normalise, weight, couple, grade.

The chain is the one used throughout the coupling-coordination literature, written so each step can
be checked on its own: min-max normalisation of benefit (+) and cost (-) indicators, entropy
weights within each subsystem, subsystem indices U (weighted sums), coupling C, development
T = sum a_i U_i, coordination D = sqrt(C*T), a grade from a configurable scale and the lag type.

Why fixed bounds and weights are first-class arguments: min-max bounds and entropy weights computed
from the data make every run its own yardstick, so two scenarios normalised separately look alike
even when one is better everywhere. Comparisons across scenarios pass a :class:`Reference` (stated
bounds and weights) instead, and then the scores of different runs are on one scale.

Every computation is vectorised over rows (periods, regions) with NumPy; see docs/synergy.md for
the formulas and their sources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from xborder.domain.errors import InvalidValue

Array = NDArray[np.float64]
Direction = Literal["+", "-"]
CouplingForm = Literal["standard", "wang2021", "fan2024"]
COUPLING_FORMS: tuple[CouplingForm, ...] = ("standard", "wang2021", "fan2024")
DIRECTIONS: tuple[Direction, ...] = ("+", "-")


@dataclass(frozen=True, slots=True)
class Normalisation:
    """How min-max scores are placed so that the entropy's logarithm never sees a zero.

    ``shift``: x' = (x - min)/(max - min) + shift (the common +0.0001 shift; scores lie in
    [shift, 1 + shift]). ``interval``: x' = low + (high - low)(x - min)/(max - min), rescaling into
    [low, high] (the R package ``mathmodels`` uses [0.002, 0.998]).
    """

    method: Literal["shift", "interval"] = "shift"
    shift: float = 0.0001
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in ("shift", "interval"):
            raise InvalidValue("normalisation", "must be 'shift' or 'interval'", self.method)
        if self.method == "interval" and not 0.0 <= self.low < self.high <= 1.0:
            raise InvalidValue("normalisation", "interval needs 0 <= low < high <= 1",
                               (self.low, self.high))  # fmt: skip
        if self.method == "shift" and not 0.0 <= self.shift < 1.0:
            raise InvalidValue("normalisation", "shift must be in [0, 1)", self.shift)


def data_bounds(values: Array, names: Sequence[str]) -> tuple[Array, Array]:
    """Column minima and maxima; a constant column is refused (min-max would divide by zero)."""
    lower, upper = values.min(axis=0), values.max(axis=0)
    constant = np.flatnonzero(upper <= lower)
    if constant.size:
        raise InvalidValue(f"column {names[constant[0]]!r}", "is constant: min-max needs a range")
    return lower, upper


def minmax(
    values: Array,
    directions: Sequence[Direction],
    lower: Array,
    upper: Array,
    normalisation: Normalisation = Normalisation(),
) -> Array:
    """Min-max scores of a (rows, indicators) matrix on the given bounds.

    Benefit (+): (x - min)/(max - min); cost (-): (max - x)/(max - min); then shifted or
    rescaled. Values outside stated bounds are clipped to them, so a fixed frame keeps every
    score in range (the bounds should be chosen wide enough that this does not happen).
    """
    span = upper - lower
    if np.any(span <= 0):
        raise InvalidValue("bounds", "each upper bound must exceed its lower bound")
    share = (np.clip(values, lower, upper) - lower) / span
    cost = np.array([d == "-" for d in directions])
    share = np.where(cost, 1.0 - share, share)
    if normalisation.method == "shift":
        return share + normalisation.shift
    return normalisation.low + (normalisation.high - normalisation.low) * share


def entropy_weights(scores: Array) -> Array:
    """Entropy weights of the columns of a (rows, indicators) matrix of non-negative scores.

    p_ij = x_ij / sum_i x_ij, e_j = -sum_i p_ij ln p_ij / ln n (0 ln 0 = 0), d_j = 1 - e_j,
    w_j = d_j / sum d_j. An indicator that varies more carries more information, so more weight.
    Invariant to the order of the rows. An all-zero column carries no information (weight 0);
    if no column carries any, the weights are equal.
    """
    rows = scores.shape[0]
    if rows < 2:
        raise InvalidValue("rows", "entropy weights need at least 2 rows", rows)
    totals = scores.sum(axis=0)
    p = np.divide(scores, totals, out=np.zeros_like(scores), where=totals > 0)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    entropy = np.where(totals > 0, -plogp.sum(axis=0) / np.log(rows), 1.0)  # all-zero: no info
    divergence = np.clip(1.0 - entropy, 0.0, None)
    if divergence.sum() <= 0:
        return np.full(scores.shape[1], 1.0 / scores.shape[1])
    return np.asarray(divergence / divergence.sum(), dtype=np.float64)


def coupling_degree(u: Array, form: CouplingForm = "standard") -> Array:
    """Coupling C of each row of a (rows, k) matrix of subsystem indices, k >= 2, in [0, 1].

    ``standard``: C = k (prod U_i)^(1/k) / sum U_i (geometric over arithmetic mean); for two
    systems C = 2 sqrt(U1 U2)/(U1 + U2) = [U1 U2 / ((U1 + U2)/2)^2]^(1/2).
    ``wang2021`` (Wang, Kong, Ren, Zhi & Dai 2021): C = sqrt([1 - sum_{i<j}|U_i - U_j| /
    (k(k-1)/2)] * (prod U_i / max U)^(1/(k-1))); for two systems sqrt[(1 - |U2 - U1|) Umin/Umax].
    ``fan2024`` (Fan, Ke & Cao 2024, formula as documented by the R package ``coupling``; the
    paper itself was not available to check): C = 1 - 2 sqrt((k sum U_i^2 - (sum U_i)^2)/k^2),
    i.e. 1 - 2 * population standard deviation; for two systems 1 - |U1 - U2|.
    A row whose indices are all zero has C = 0 (no development is not perfect coupling).
    """
    k = u.shape[1]
    if k < 2:
        raise InvalidValue("subsystems", "coupling needs at least 2 subsystems", k)
    total = u.sum(axis=1)
    if form == "standard":
        geometric = np.prod(u, axis=1) ** (1.0 / k)
        c = np.divide(k * geometric, total, out=np.zeros_like(total), where=total > 0)
    elif form == "wang2021":
        i, j = np.triu_indices(k, 1)
        spread = np.abs(u[:, i] - u[:, j]).sum(axis=1) / (k * (k - 1) / 2)
        top = u.max(axis=1, keepdims=True)
        ratio = np.divide(u, top, out=np.zeros_like(u), where=top > 0)
        c = np.sqrt(np.clip(1.0 - spread, 0.0, None) * np.prod(ratio, axis=1) ** (1.0 / (k - 1)))
    elif form == "fan2024":
        variance = np.clip((k * (u**2).sum(axis=1) - total**2) / k**2, 0.0, None)
        c = 1.0 - 2.0 * np.sqrt(variance)
    else:
        raise InvalidValue("form", f"must be one of {', '.join(COUPLING_FORMS)}", form)
    return np.asarray(np.clip(c, 0.0, 1.0), dtype=np.float64)


def development(u: Array, coefficients: Sequence[float]) -> Array:
    """Comprehensive development T = sum a_i U_i (a = b = 0.5 for two systems by default)."""
    a = np.asarray(coefficients, dtype=np.float64)
    if a.shape != (u.shape[1],) or np.any(a < 0) or not np.isclose(a.sum(), 1.0):
        raise InvalidValue("coefficients", "need one non-negative coefficient per subsystem, "
                           "summing to 1", tuple(coefficients))  # fmt: skip
    return np.asarray(u @ a, dtype=np.float64)


def coordination(c: Array, t: Array) -> Array:
    """Coupling coordination degree D = sqrt(C * T)."""
    return np.asarray(np.sqrt(np.clip(c * t, 0.0, None)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Level:
    """One grade: D in (previous upper, upper] gets these names."""

    upper: float
    english: str
    chinese: str


TEN_LEVELS: tuple[Level, ...] = (
    Level(0.1, "extreme disorder", "极度失调"),
    Level(0.2, "serious disorder", "严重失调"),
    Level(0.3, "moderate disorder", "中度失调"),
    Level(0.4, "mild disorder", "轻度失调"),
    Level(0.5, "on the verge of disorder", "濒临失调"),
    Level(0.6, "barely coordinated", "勉强协调"),
    Level(0.7, "primary coordination", "初级协调"),
    Level(0.8, "intermediate coordination", "中级协调"),
    Level(0.9, "good coordination", "良好协调"),
    Level(1.0, "high-quality coordination", "优质协调"),
)


def check_scale(scale: Sequence[Level]) -> None:
    """A scale is a list of levels with strictly increasing upper bounds ending at 1."""
    uppers = np.array([level.upper for level in scale])
    if not len(scale) or np.any(np.diff(uppers) <= 0) or uppers[-1] < 1.0 or uppers[0] <= 0:
        raise InvalidValue("scale", "levels need increasing upper bounds in (0, 1], the last 1")


def grade(d: Array, scale: Sequence[Level] = TEN_LEVELS) -> list[Level]:
    """The level of each D: the first level whose upper bound is >= D (D = 0 gets the first)."""
    check_scale(scale)
    uppers = np.array([level.upper for level in scale])
    index = np.clip(np.searchsorted(uppers, d - 1e-12, side="left"), 0, len(scale) - 1)
    return [scale[i] for i in index.tolist()]


def lag_type(u1: Array, u2: Array, names: tuple[str, str], tolerance: float = 0.1) -> list[str]:
    """Which subsystem lags: U1 > U2 + tolerance means the second lags, U2 > U1 + tolerance the
    first, otherwise ``synchronous``. The default tolerance (0.1) is one grade width on the
    10-level scale; it is our convention, not a cited standard, so it is a parameter."""
    if tolerance < 0:
        raise InvalidValue("tolerance", "must be >= 0", tolerance)
    gap = u1 - u2
    labels = np.where(gap > tolerance, f"{names[1]} lagging",
                      np.where(gap < -tolerance, f"{names[0]} lagging", "synchronous"))  # fmt: skip
    return [str(label) for label in labels]


@dataclass(frozen=True, slots=True)
class Subsystem:
    """A named subsystem and its indicators with their directions (+ benefit, - cost)."""

    name: str
    indicators: Mapping[str, Direction]


@dataclass(frozen=True, slots=True)
class Reference:
    """A fixed frame: stated bounds (indicator -> (lower, upper)) and/or stated weights
    (indicator -> weight, summing to 1 within each subsystem). Either may be None: then that part
    is computed from the data. Scores of runs sharing one Reference are comparable."""

    bounds: Mapping[str, tuple[float, float]] | None = None
    weights: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class CouplingParams:
    """Every choice of the model, with the issue's defaults."""

    normalisation: Normalisation = Normalisation()
    weights: Literal["entropy", "equal"] = "entropy"
    form: CouplingForm = "standard"
    coefficients: tuple[float, ...] = (0.5, 0.5)
    tolerance: float = 0.1
    scale: tuple[Level, ...] = TEN_LEVELS

    def __post_init__(self) -> None:
        """Refuse a bad choice before any data is read, naming the parameter."""
        if self.weights not in ("entropy", "equal"):
            raise InvalidValue("weights", "must be 'entropy' or 'equal'", self.weights)
        if self.form not in COUPLING_FORMS:
            raise InvalidValue("form", f"must be one of {', '.join(COUPLING_FORMS)}", self.form)
        a = np.asarray(self.coefficients, dtype=np.float64)
        if a.size < 2 or np.any(a < 0) or not np.isclose(a.sum(), 1.0):
            raise InvalidValue("coefficients (a, b)", "must be >= 0 and sum to 1",
                               self.coefficients)  # fmt: skip
        if self.tolerance < 0:
            raise InvalidValue("tolerance", "must be >= 0", self.tolerance)
        check_scale(self.scale)


@dataclass(frozen=True, slots=True)
class CouplingResult:
    """Per row: the subsystem indices ``u`` (rows, k), C, T, D, grade and lag; plus the weights
    and bounds actually used (so a later run can be scored on the same frame)."""

    u: Array
    c: Array
    t: Array
    d: Array
    grades: tuple[Level, ...]
    lags: tuple[str, ...]
    weights: dict[str, dict[str, float]]
    bounds: dict[str, tuple[float, float]]

    def reference(self) -> Reference:
        """This result's bounds and weights as a fixed frame for scoring other runs."""
        flat = {name: w for per in self.weights.values() for name, w in per.items()}
        return Reference(bounds=dict(self.bounds), weights=flat)


def _subsystem_weights(
    system: Subsystem, scores: Array, params: CouplingParams, reference: Reference | None
) -> Array:
    names = list(system.indicators)
    if reference is not None and reference.weights is not None:
        missing = [n for n in names if n not in reference.weights]
        if missing:
            raise InvalidValue(f"weights of {system.name!r}", f"no weight for {missing[0]!r}")
        w = np.array([reference.weights[n] for n in names], dtype=np.float64)
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise InvalidValue(f"weights of {system.name!r}", "must be >= 0 and sum to 1",
                               tuple(w.tolist()))  # fmt: skip
        return w
    if params.weights == "equal":
        return np.full(len(names), 1.0 / len(names))
    return entropy_weights(scores)


def _bounds(names: list[str], values: Array, reference: Reference | None) -> tuple[Array, Array]:
    if reference is None or reference.bounds is None:
        return data_bounds(values, names)
    missing = [n for n in names if n not in reference.bounds]
    if missing:
        raise InvalidValue("bounds", f"no bounds for {missing[0]!r}")
    pairs = np.array([reference.bounds[n] for n in names], dtype=np.float64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def coupling_coordination(
    columns: Mapping[str, Array],
    subsystems: Sequence[Subsystem],
    params: CouplingParams = CouplingParams(),
    reference: Reference | None = None,
) -> CouplingResult:
    """The whole chain on raw indicator columns (name -> values per row).

    Without ``reference`` the bounds are each column's min and max and the weights are computed
    (entropy by default) from this data; with it, the stated bounds/weights are used as given.
    The lag type compares the first two subsystems (U1 against U2).
    """
    if len(subsystems) != len(params.coefficients):
        raise InvalidValue("coefficients", "need one per subsystem", params.coefficients)
    indices, weights, bounds = [], {}, {}
    for system in subsystems:
        names = list(system.indicators)
        if not names:
            raise InvalidValue(f"subsystem {system.name!r}", "has no indicators")
        values = np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in names])
        lower, upper = _bounds(names, values, reference)
        directions = [system.indicators[n] for n in names]
        scores = minmax(values, directions, lower, upper, params.normalisation)
        w = _subsystem_weights(system, scores, params, reference)
        indices.append(scores @ w)
        weights[system.name] = dict(zip(names, w.tolist(), strict=True))
        bounds.update({n: (float(lo), float(hi)) for n, lo, hi in zip(names, lower, upper,
                                                                       strict=True)})  # fmt: skip
    u = np.column_stack(indices)
    c = coupling_degree(u, params.form)
    t = development(u, params.coefficients)
    d = coordination(c, t)
    names2 = (subsystems[0].name, subsystems[1].name)
    return CouplingResult(
        u=u, c=c, t=t, d=d, grades=tuple(grade(d, params.scale)),
        lags=tuple(lag_type(u[:, 0], u[:, 1], names2, params.tolerance)),
        weights=weights, bounds=bounds,
    )  # fmt: skip
