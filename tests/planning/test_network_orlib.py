"""OR-Library capacitated warehouse location: the reader and the known optima (Beasley 1988)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from xborder.domain.errors import InvalidValue
from xborder.planning.network import parse_orlib, read_orlib, solve, violations

# the instances these tests read, vendored (tests/data/orlib-cwlp/README.md: source, licence)
DATA = Path(__file__).resolve().parents[1] / "data" / "orlib-cwlp"


def _optima(name: str, column: str) -> dict[str, float]:
    path = DATA / name
    assert path.is_file(), f"vendored benchmark data missing: {path}"
    with path.open() as f:
        return {row["instance"]: float(row[column]) for row in csv.DictReader(f)}


@pytest.mark.parametrize(
    ("name", "single"),
    [("cap41", False), ("cap71", False), ("cap101", False), ("cap134", False),
     ("cap64", True), ("cap71", True), ("cap102", True), ("cap131", True)],
)  # fmt: skip
def test_known_optimum(name: str, single: bool) -> None:
    optimum = _optima("ss_optimal.csv" if single else "ms_optimal.csv",
                      "ss_optimal" if single else "ms_optimal")[name]  # fmt: skip
    inst = read_orlib(DATA / f"{name}.txt", single_source=single)
    plan = solve(inst)
    assert violations(inst, plan.open, plan.share) == []
    assert plan.cost == pytest.approx(optimum, rel=1e-6)
    assert plan.lower_bound <= plan.cost + 1e-6
    assert plan.lower_bound == pytest.approx(optimum, rel=1e-6)  # proven: the exact MIP closes


def test_lagrangian_method_reaches_the_optimum_with_a_valid_bound() -> None:
    optimum = _optima("ms_optimal.csv", "ms_optimal")["cap131"]
    plan = solve(read_orlib(DATA / "cap131.txt"), method="lagrangian", time_limit=30)
    assert plan.cost == pytest.approx(optimum, rel=1e-6)
    assert plan.lower_bound <= optimum * (1 + 1e-9)


def test_reader_shapes_and_capacity_word() -> None:
    inst = read_orlib(DATA / "capb.txt", capacity=5000)
    assert (inst.m, inst.n) == (100, 1000)
    assert (inst.capacity == 5000).all()
    with pytest.raises(InvalidValue, match="capacity"):
        read_orlib(DATA / "capb.txt")


def test_reader_token_stream_and_errors() -> None:
    text = "2 3\n10 5.\ncapacity 7\n4\n1 2\n3\n3 1 5\n2 2\n"
    inst = parse_orlib(text, capacity=6)
    assert inst.capacity.tolist() == [10.0, 6.0]
    assert inst.demand.tolist() == [4.0, 3.0, 5.0]
    assert inst.assign_cost.tolist() == [[1.0, 3.0, 2.0], [2.0, 1.0, 2.0]]
    with pytest.raises(InvalidValue, match="truncated"):
        parse_orlib("2 3\n10 5 6 7\n4 1 2\n")
    with pytest.raises(InvalidValue, match="m n"):
        parse_orlib("x y")
    with pytest.raises(InvalidValue, match="negative"):
        parse_orlib(text, capacity=-1)
    with pytest.raises(InvalidValue, match="infeasible"):
        parse_orlib(text, capacity=0.5)
