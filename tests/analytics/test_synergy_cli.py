"""``xborder synergy``: the default view at 80 columns, the exact JSON, fixed frames, bad input.

The lead registers the command in ``xborder.cli.main`` as ``app.command("synergy")(synergy)``;
these tests register it the same way on a small Typer app.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from xborder.cli.synergy import synergy
from xborder.domain.errors import InvalidValue
from xborder.services.synergy import (
    AnalyseIndicators,
    Reference,
    analyse_indicators,
    parse_spec,
    read_spec,
    score_periods,
)

DATA = Path(__file__).parent / "data"
CSV, SPEC = DATA / "indicators.csv", DATA / "spec.json"
app = typer.Typer()
app.command("synergy")(synergy)
app.command("other")(lambda: None)  # two commands, so "synergy" is a sub-command as in main
runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, ["synergy", *map(str, args)])
    if result.exit_code not in (0, 2):
        raise AssertionError(result.output) from result.exception
    return result.exit_code, result.output


def test_default_view_fits_80_columns() -> None:
    code, out = run(CSV, "--spec", SPEC)
    assert code == 0, out
    assert max(len(line) for line in out.splitlines()) <= 80
    for text in (
        "Coupling coordination",
        "Weights",
        "Synergy degree",
        "2019",
        "2024",
        "delivery_days",
        "extreme",
        "ecommerce",
        "lagging",
        "Grey relational",
    ):
        assert text in out
    assert "0.0001" not in out.split("Weights")[0]  # 3 decimals in the main table


def test_json_has_exactly_the_documented_shape() -> None:
    code, out = run(CSV, "--spec", SPEC, "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert set(doc) == {"rows", "weights", "synergy"}
    assert [r["id"] for r in doc["rows"]] == ["2019", "2020", "2021", "2022", "2023", "2024"]
    for row in doc["rows"]:
        assert set(row) == {"id", "U1", "U2", "C", "T", "D", "grade", "lag"}
        assert row["T"] == pytest.approx(0.5 * row["U1"] + 0.5 * row["U2"])
        assert row["D"] == pytest.approx(math.sqrt(row["C"] * row["T"]))
        assert row["C"] == pytest.approx(
            2 * math.sqrt(row["U1"] * row["U2"]) / (row["U1"] + row["U2"])
        )
    assert doc["rows"][2]["lag"] == "ecommerce lagging"  # U1 0.311 < U2 0.445 - 0.1
    assert set(doc["weights"]) == {"ecommerce", "logistics"}
    for per in doc["weights"].values():
        assert sum(per.values()) == pytest.approx(1.0)
    assert (doc["synergy"][0]["base"], doc["synergy"][0]["id"]) == ("2019", "2020")
    assert len(doc["synergy"]) == 5
    assert all(-1 <= s["value"] <= 1 for s in doc["synergy"])
    assert all(s["value"] > 0 for s in doc["synergy"])  # both subsystems improve every year


def test_chinese_grades_and_the_corrected_forms() -> None:
    _, out = run(CSV, "--spec", SPEC, "--json", "--lang", "zh")
    grades = [r["grade"] for r in json.loads(out)["rows"]]
    assert grades[0] == "极度失调"
    assert grades[-1] == "优质协调"
    _, standard = run(CSV, "--spec", SPEC, "--json")
    _, wang = run(CSV, "--spec", SPEC, "--json", "--form", "wang2021")
    c_std = [r["C"] for r in json.loads(standard)["rows"]]
    c_wang = [r["C"] for r in json.loads(wang)["rows"]]
    assert all(w <= s + 1e-12 for w, s in zip(c_wang, c_std, strict=True))
    code, out = run(CSV, "--spec", SPEC, "--form", "fan2024")
    assert code == 0
    assert "not checked against the paper" in " ".join(out.split())


def test_mathmodels_weights_through_the_cli() -> None:
    # R package mathmodels, docs/reference/entropy_weight.md: w = 0.5452618, 0.4547382 for
    # x1 = (3, 5, 2, 7) "+" and x2 = (10, 20, 15, 25) "-", rescaled into [0.002, 0.998]
    _, out = run(DATA / "mathmodels.csv", "--spec", DATA / "mathmodels_spec.json", "--json",
                 "--interval", "0.002,0.998")  # fmt: skip
    weights = json.loads(out)["weights"]["ecommerce"]
    assert weights["x1"] == pytest.approx(0.5452618, abs=1e-7)
    assert weights["x2"] == pytest.approx(0.4547382, abs=1e-7)


def test_a_fixed_frame_in_the_spec_keeps_scenarios_apart() -> None:
    spec = json.loads((DATA / "spec_fixed.json").read_text())
    d = {}
    for run_name in ("siloed", "integrated"):
        _, out = run(DATA / f"{run_name}.csv", "--spec", DATA / "spec_fixed.json", "--json")
        d[run_name] = [r["D"] for r in json.loads(out)["rows"]]
    assert all(i > s + 0.1 for i, s in zip(d["integrated"], d["siloed"], strict=True))
    # without the frame each run normalises on itself and the difference vanishes
    frame = {k: spec[k] for k in ("id", "subsystems")}
    siloed = score_periods(pl.read_csv(DATA / "siloed.csv"), parse_spec(frame))
    integrated = score_periods(pl.read_csv(DATA / "integrated.csv"), parse_spec(frame))
    assert [r.d for r in integrated.rows] == pytest.approx([r.d for r in siloed.rows])
    # ...scoring the integrated run on the siloed run's own frame brings part of it back, but
    # values beyond the frame are clipped to its bounds: state bounds wide enough for every run
    again = score_periods(pl.read_csv(DATA / "integrated.csv"), parse_spec(frame),
                          reference=siloed.reference())  # fmt: skip
    assert again.rows[0].d > siloed.rows[0].d + 0.1
    assert again.rows[-1].d == pytest.approx(siloed.rows[-1].d)  # both at the frame's top


def test_service_reads_file_and_spec_directly() -> None:
    result = analyse_indicators(AnalyseIndicators(CSV, SPEC))
    assert len(result.rows) == 6
    assert result.grey[0][0] in result.bounds
    assert set(result.order_degrees) == {"ecommerce", "logistics"}
    assert read_spec(SPEC).subsystems[0].name == "ecommerce"
    assert isinstance(result.reference(), Reference)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD_SPEC = {"id": "p", "subsystems": {"e": {"a": "+"}, "l": {"b": "-"}}}


@pytest.mark.parametrize(("csv", "spec", "expected"), [
    (None, GOOD_SPEC, ["missing.csv", "no such file"]),
    ("p,a\n1,2\n2,3\n", GOOD_SPEC, ["no column 'b'", "'l'"]),
    ("p,a,b\n1,2,3\n2,x,4\n", GOOD_SPEC, ["line 3", "column 'a'", "not a finite number", "'x'"]),
    ("p,a,b\n1,2,3\n2,,4\n", GOOD_SPEC, ["line 3", "column 'a'"]),
    ("p,a,b\n1,2,3\n2,5,3\n", GOOD_SPEC, ["column 'b'", "constant"]),
    ("p,a,b\n1,2,3\n", GOOD_SPEC, ["at least 2 data rows"]),
    ("p,a,b\n1,2,3\n2,5,4\n", {"id": "p", "subsystems": {"e": {"a": "*"}, "l": {"b": "-"}}},
     ["subsystems.e.a", 'direction must be "+" or "-"']),
    ("p,a,b\n1,2,3\n2,5,4\n", {"id": "p", "subsystems": {"e": {"a": "+"}}},
     ["subsystems", "exactly 2"]),
    ("p,a,b\n1,2,3\n2,5,4\n", {**GOOD_SPEC, "colour": 1}, ["colour", "unknown key"]),
    ("p,a,b\n1,2,3\n2,5,4\n", {**GOOD_SPEC, "id": "period"}, ["no id column 'period'"]),
    ("p,a,b\n1,2,3\n2,5,4\n", {**GOOD_SPEC, "bounds": {"a": [0, 1]}}, ["bounds", "every"]),
])  # fmt: skip
def test_bad_input_exits_2_naming_place_and_reason(
    tmp_path: Path, csv: str | None, spec: dict[str, object], expected: list[str]
) -> None:
    csv_path = tmp_path / "missing.csv" if csv is None else _write(tmp_path, "in.csv", csv)
    spec_path = _write(tmp_path, "spec.json", json.dumps(spec))
    result = runner.invoke(app, ["synergy", str(csv_path), "--spec", str(spec_path)])
    message = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for text in expected:
        assert text in message


@pytest.mark.parametrize(("args", "expected"), [
    (["--form", "other"], "--form: must be one of standard, wang2021, fan2024"),
    (["--interval", "0.1"], "--interval: expected LOW,HIGH"),
    (["--interval", "0.9,0.1"], "interval needs 0 <= low < high <= 1"),
    (["-a", "0.7"], "coefficients (a, b): must be >= 0 and sum to 1"),
    (["--weights", "ahp"], "--weights: must be one of entropy, equal"),
    (["--lang", "fr"], "--lang"),
])  # fmt: skip
def test_bad_options_exit_2(args: list[str], expected: str) -> None:
    code, out = run(CSV, "--spec", SPEC, *args)
    assert code == 2
    assert expected in " ".join(out.split())


def test_a_custom_grading_scale(tmp_path: Path) -> None:
    scale = _write(
        tmp_path,
        "scale.json",
        json.dumps(
            [{"upper": 0.5, "en": "weak", "zh": "弱"}, {"upper": 1.0, "en": "strong", "zh": "强"}]
        ),
    )
    _, out = run(CSV, "--spec", SPEC, "--json", "--scale", scale)
    assert {r["grade"] for r in json.loads(out)["rows"]} == {"weak", "strong"}
    bad = _write(tmp_path, "bad.json", json.dumps([{"upper": 0.5, "en": "half"}]))
    code, out = run(CSV, "--spec", SPEC, "--scale", bad)
    assert code == 2
    assert "bad.json" in out


def test_spec_errors_from_the_service(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="not valid JSON"):
        read_spec(_write(tmp_path, "s.json", "{"))
