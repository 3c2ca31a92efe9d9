"""``xborder plan network``: JSON out, clear errors (exit 2, no traceback) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xborder.cli.main import app

runner = CliRunner()
# vendored OR-Library instances (tests/data/orlib-cwlp/README.md: source, licence)
DATA = Path(__file__).resolve().parents[1] / "data" / "orlib-cwlp"
INSTANCE = {
    "sites": [{"id": "a", "fixed_cost": 10, "capacity": 5},
              {"id": "b", "fixed_cost": 4, "capacity": 5}],
    "regions": [{"id": "r1", "demand": 3}, {"id": "r2", "demand": 4}],
    "assign_cost": [[1, 2], [3, 5]],
}  # fmt: skip


def _write(tmp_path: Path, raw: object) -> str:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(raw))
    return str(path)


def test_json_instance(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "network", _write(tmp_path, INSTANCE)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= {"open", "flows", "cost", "lower_bound", "gap", "seconds"}
    # neither site carries 7 alone: both open (14). a's 5 units go to r2 first (saves 0.75 a
    # unit against b, r1 only 0.67): r2 all at a (2), 1/3 of r1 at a, 2/3 at b: 1/3 + 2.
    assert out["open"] == ["a", "b"]
    assert out["cost"] == pytest.approx(14 + 2 + 1 / 3 + 2)
    assert out["lower_bound"] <= out["cost"] + 1e-9
    assert {f["region"] for f in out["flows"]} == {"r1", "r2"}


def test_orlib_single_source() -> None:
    result = runner.invoke(
        app, ["plan", "network", "--orlib", str(DATA / "cap71.txt"), "--single-source"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["cost"] == pytest.approx(932615.75, rel=1e-6)
    assert all(f["share"] == 1.0 for f in out["flows"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--orlib", str(DATA / "capb.txt")], "--capacity"),  # word `capacity` in the file
        (["--orlib", str(DATA / "cap41.txt"), "--capacity", "-5"], "negative"),
        (["--orlib", str(DATA / "cap41.txt"), "--capacity", "10"], "infeasible"),
        (["--orlib", str(DATA / "nope.txt")], "cannot read"),
        ([], "exactly one"),
        (["--orlib", str(DATA / "cap41.txt"), "--method", "magic"], "--method"),
    ],
)
def test_bad_input_is_a_clear_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["plan", "network", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**INSTANCE, "assign_cost": [[1, 2]]}, "assign_cost"),
        ({**INSTANCE, "regions": [{"id": "r1", "demand": 30}]}, "assign_cost"),
        ({**INSTANCE, "assign_cost": [[1], [2]], "regions": [{"id": "r1", "demand": 30}]},
         "infeasible"),
        ([1, 2], "JSON object"),
    ],
)  # fmt: skip
def test_bad_json_instance(tmp_path: Path, raw: object, message: str) -> None:
    result = runner.invoke(app, ["plan", "network", _write(tmp_path, raw)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_demo_world_network() -> None:
    result = runner.invoke(app, ["plan", "network", "--demo", "--time-limit", "20"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["currency"] == "CNY"
    assert out["cost"] <= out["today_cost"] + 1e-6
    assert out["saving_per_day"] == pytest.approx(out["today_cost"] - out["cost"], abs=0.02)
    assert set(out["to_open"]) <= set(out["open"])
