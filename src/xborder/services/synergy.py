"""Synergy analytics on indicator tables: the use cases behind ``xborder synergy`` and the
simulator's per-period synergy.

These are pure use cases: they read a CSV and a JSON spec (or take a polars frame) and compute;
nothing is stored and nothing is read from the store, so they take no unit of work (a uow would
only open an empty transaction). They keep the use-case shape otherwise: a frozen command in, a
typed result out, and bad input raised as :class:`InvalidValue` naming the place (file, line,
column) and the reason, which the CLI turns into exit 2.

Rows are periods (or regions) in file order; the synergy series compares each row with the one
before it. The spec names the id column and, in order, the two subsystems (first = U1, second =
U2) with each indicator's direction; optional ``bounds`` and ``weights`` fix the frame so that runs
scored separately stay comparable (see docs/synergy.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from xborder.analytics import coupling as cc
from xborder.analytics import grey, order_degree
from xborder.analytics.coupling import CouplingParams, Level, Reference, Subsystem
from xborder.domain.errors import InvalidValue

__all__ = [
    "TEN_LEVELS", "AnalyseIndicators", "CouplingParams", "IndicatorSpec", "Level", "Normalisation",
    "Reference", "Subsystem", "SynergyOptions", "SynergyResult", "SynergyRow", "SynergyStep",
    "analyse_indicators", "parse_spec", "read_scale", "read_spec", "score_periods",
]  # fmt: skip
Normalisation = cc.Normalisation
TEN_LEVELS = cc.TEN_LEVELS
SPEC_KEYS = {"id", "subsystems", "bounds", "weights"}


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """Which column identifies a row, the two subsystems in order, and an optional fixed frame."""

    id_column: str
    subsystems: tuple[Subsystem, Subsystem]
    reference: Reference | None = None


@dataclass(frozen=True, slots=True)
class SynergyOptions:
    """Model choices: the coupling chain's, plus how order degrees aggregate (geometric mean or
    linear sum), how far data-derived order bounds are widened, and the grey resolution
    coefficient. The grey reference is ``"D"`` or a subsystem name (its index U)."""

    params: CouplingParams = field(default_factory=CouplingParams)
    aggregation: Literal["geometric", "linear"] = "geometric"
    margin: float = 0.1
    rho: float = 0.5
    grey_reference: str = "D"


@dataclass(frozen=True, slots=True)
class AnalyseIndicators:
    file: Path
    spec: Path
    options: SynergyOptions = field(default_factory=SynergyOptions)


@dataclass(frozen=True, slots=True)
class SynergyRow:
    id: str
    u1: float
    u2: float
    c: float
    t: float
    d: float
    grade: Level
    lag: str


@dataclass(frozen=True, slots=True)
class SynergyStep:
    """Synergy degree of period ``id`` against its base period ``base``, in [-1, 1]."""

    id: str
    base: str
    value: float


@dataclass(frozen=True, slots=True)
class SynergyResult:
    rows: tuple[SynergyRow, ...]
    weights: dict[str, dict[str, float]]
    bounds: dict[str, tuple[float, float]]
    synergy: tuple[SynergyStep, ...]
    order_degrees: dict[str, tuple[float, ...]]
    grey: tuple[tuple[str, float], ...]  # indicators, most related to the grey reference first

    def reference(self) -> Reference:
        """The bounds and weights used here, to score another run on the same scale."""
        flat = {name: w for per in self.weights.values() for name, w in per.items()}
        return Reference(bounds=dict(self.bounds), weights=flat)

    def as_json(self, lang: Literal["en", "zh"] = "en") -> dict[str, Any]:
        """The CLI's ``--json`` document: exactly ``rows``, ``weights`` and ``synergy``."""
        return {
            "rows": [
                {"id": r.id, "U1": r.u1, "U2": r.u2, "C": r.c, "T": r.t, "D": r.d,
                 "grade": r.grade.english if lang == "en" else r.grade.chinese, "lag": r.lag}
                for r in self.rows
            ],
            "weights": self.weights,
            "synergy": [{"id": s.id, "base": s.base, "value": s.value} for s in self.synergy],
        }  # fmt: skip


def parse_spec(raw: Any, where: str = "spec") -> IndicatorSpec:
    """Validate a spec document (already parsed JSON); errors name ``where`` and the key."""
    if not isinstance(raw, dict):
        raise InvalidValue(where, "must be a JSON object")
    unknown = sorted(set(raw) - SPEC_KEYS)
    if unknown:
        raise InvalidValue(f"{where}: {unknown[0]}", f"unknown key (known: {sorted(SPEC_KEYS)})")
    id_column = raw.get("id")
    if not isinstance(id_column, str) or not id_column:
        raise InvalidValue(f"{where}: id", "must name the id column", id_column)
    systems = raw.get("subsystems")
    if not isinstance(systems, dict) or len(systems) != 2:
        raise InvalidValue(f"{where}: subsystems", "must be an object with exactly 2 subsystems "
                           "(first = U1, second = U2)")  # fmt: skip
    parsed, seen = [], {id_column}
    for name, indicators in systems.items():
        place = f"{where}: subsystems.{name}"
        if not isinstance(indicators, dict) or not indicators:
            raise InvalidValue(place, 'must map indicator columns to "+" or "-"')
        for column, direction in indicators.items():
            if direction not in cc.DIRECTIONS:
                raise InvalidValue(f"{place}.{column}", 'direction must be "+" or "-"', direction)
            if column in seen:
                raise InvalidValue(f"{place}.{column}", "column used twice in the spec")
            seen.add(column)
        parsed.append(Subsystem(str(name), dict(indicators)))
    reference = _parse_reference(raw, where, seen - {id_column})
    return IndicatorSpec(id_column, (parsed[0], parsed[1]), reference)


def _number(value: Any, place: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InvalidValue(place, "must be a finite number", value)
    return float(value)


def _parse_reference(raw: dict[str, Any], where: str, columns: set[str]) -> Reference | None:
    bounds_raw, weights_raw = raw.get("bounds"), raw.get("weights")
    if bounds_raw is None and weights_raw is None:
        return None
    bounds: dict[str, tuple[float, float]] | None = None
    weights: dict[str, float] | None = None
    if bounds_raw is not None:
        if not isinstance(bounds_raw, dict) or set(bounds_raw) != columns:
            raise InvalidValue(f"{where}: bounds", "must give [lower, upper] for every indicator")
        bounds = {}
        for column, pair in bounds_raw.items():
            place = f"{where}: bounds.{column}"
            if not isinstance(pair, list) or len(pair) != 2:
                raise InvalidValue(place, "must be [lower, upper]", pair)
            lower, upper = _number(pair[0], place), _number(pair[1], place)
            if upper <= lower:
                raise InvalidValue(place, "upper must exceed lower", pair)
            bounds[column] = (lower, upper)
    if weights_raw is not None:
        if not isinstance(weights_raw, dict) or set(weights_raw) != columns:
            raise InvalidValue(f"{where}: weights", "must give a weight for every indicator")
        weights = {c: _number(w, f"{where}: weights.{c}") for c, w in weights_raw.items()}
    return Reference(bounds=bounds, weights=weights)


def read_spec(path: Path) -> IndicatorSpec:
    """Read and validate a spec file."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValue(str(path), f"cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValue(str(path), f"not valid JSON: {exc}") from None
    return parse_spec(raw, str(path))


def read_scale(path: Path) -> tuple[Level, ...]:
    """A grading scale from JSON: ``[{"upper": 0.2, "en": "...", "zh": "..."}, ...]``."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValue(str(path), f"cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValue(str(path), f"not valid JSON: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise InvalidValue(str(path), "must be a non-empty list of levels")
    levels = []
    for i, item in enumerate(raw):
        place = f"{path}: level {i + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("en"), str):
            raise InvalidValue(place, 'needs "upper" and "en" (and optionally "zh")')
        levels.append(Level(_number(item.get("upper"), place), item["en"],
                            str(item.get("zh", item["en"]))))  # fmt: skip
    try:
        cc.check_scale(levels)
    except InvalidValue as exc:
        raise InvalidValue(str(path), exc.reason) from None
    return tuple(levels)


def _read_csv(path: Path) -> pl.DataFrame:
    if not Path(path).is_file():
        raise InvalidValue(str(path), "no such file")
    try:
        return pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise InvalidValue(str(path), f"not a readable CSV: {exc}") from None


def _columns(frame: pl.DataFrame, spec: IndicatorSpec, where: str) -> dict[str, np.ndarray]:
    """The indicator columns as float arrays; the first bad cell is reported with its line."""
    if frame.height < 2:
        raise InvalidValue(where, "needs at least 2 data rows", frame.height)
    if spec.id_column not in frame.columns:
        raise InvalidValue(where, f"no id column {spec.id_column!r}")
    columns = {}
    for system in spec.subsystems:
        for name in system.indicators:
            if name not in frame.columns:
                raise InvalidValue(where, f"no column {name!r} (an indicator of {system.name!r})")
            series = frame[name]
            numbers = series.cast(pl.Float64, strict=False)  # unparsable text becomes null
            values = numbers.to_numpy()
            bad = np.flatnonzero(numbers.is_null().to_numpy() | ~np.isfinite(values))
            if bad.size:
                row = int(bad[0])
                raise InvalidValue(f"{where}: line {row + 2}, column {name!r}",
                                   "not a finite number", series[row])  # fmt: skip
            columns[name] = np.asarray(values, dtype=np.float64)
    return columns


def score_periods(
    frame: pl.DataFrame,
    spec: IndicatorSpec,
    options: SynergyOptions = SynergyOptions(),
    reference: Reference | None = None,
    where: str = "indicators",
) -> SynergyResult:
    """Coupling coordination per row, synergy between consecutive rows, and the grey ranking of
    the indicators, on a frame with the spec's columns. ``reference`` (else the spec's) fixes the
    bounds and weights: what the simulator passes to put scenarios on one scale."""
    columns = _columns(frame, spec, where)
    fixed = reference if reference is not None else spec.reference
    try:
        result = cc.coupling_coordination(columns, spec.subsystems, options.params, fixed)
    except InvalidValue as exc:
        raise InvalidValue(f"{where}: {exc.field}", exc.reason, exc.value) from None
    ids = [str(v) for v in frame[spec.id_column].to_list()]
    degrees: dict[str, np.ndarray] = {}
    scores: dict[str, np.ndarray] = {}
    for system in spec.subsystems:
        names = list(system.indicators)
        values = np.column_stack([columns[n] for n in names])
        directions = [system.indicators[n] for n in names]
        lower = np.array([result.bounds[n][0] for n in names])
        upper = np.array([result.bounds[n][1] for n in names])
        scores.update(zip(names, order_degree.orderliness(values, directions, lower, upper).T,
                          strict=True))  # fmt: skip
        if fixed is None or fixed.bounds is None:  # widened data bounds: no component pinned at 0
            lower, upper = order_degree.order_bounds(values, options.margin)
        ordered = order_degree.orderliness(values, directions, lower, upper)
        weights = list(result.weights[system.name].values())
        degrees[system.name] = order_degree.order_degree(
            ordered, options.aggregation, weights if options.aggregation == "linear" else None
        )
    steps = order_degree.synergy(np.column_stack(list(degrees.values())))
    names = list(scores)
    target = _grey_reference(options.grey_reference, result, spec)
    grades = grey.relational_grades(target, np.column_stack([scores[n] for n in names]),
                                    options.rho)  # fmt: skip
    rows = tuple(
        SynergyRow(ids[i], float(result.u[i, 0]), float(result.u[i, 1]), float(result.c[i]),
                   float(result.t[i]), float(result.d[i]), result.grades[i], result.lags[i])
        for i in range(len(ids))
    )  # fmt: skip
    return SynergyResult(
        rows=rows, weights=result.weights, bounds=result.bounds,
        synergy=tuple(SynergyStep(ids[i + 1], ids[i], float(v)) for i, v in enumerate(steps)),
        order_degrees={k: tuple(v.tolist()) for k, v in degrees.items()},
        grey=tuple(grey.rank(names, grades)),
    )  # fmt: skip


def _grey_reference(name: str, result: cc.CouplingResult, spec: IndicatorSpec) -> np.ndarray:
    if name == "D":
        return result.d
    systems: Mapping[str, int] = {s.name: i for i, s in enumerate(spec.subsystems)}
    if name not in systems:
        raise InvalidValue("grey reference", f'must be "D" or one of {list(systems)}', name)
    return np.asarray(result.u[:, systems[name]], dtype=np.float64)


def analyse_indicators(command: AnalyseIndicators) -> SynergyResult:
    """Read the CSV and the spec, then :func:`score_periods`."""
    spec = read_spec(command.spec)
    frame = _read_csv(command.file)
    return score_periods(frame, spec, command.options, where=str(command.file))
