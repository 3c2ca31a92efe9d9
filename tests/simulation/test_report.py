"""The simulation report without a browser: files, JSON, escaping, no network, omitted sections."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xborder.simulation import report_figures as figs
from xborder.simulation.report import ReportFiles, fmt, kpis_to_json, render_html, write_report

SAMPLE = Path(__file__).parent / "data" / "kpis_sample.json"
HOSTILE = "<script>alert(1)</script>"
FIGURES = ("periods", "delivery", "cost", "clearance", "exceptions", "synergy", "partners")


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def sample_html(sample: dict[str, Any]) -> str:
    return render_html(sample)


def minimal(sample: dict[str, Any]) -> dict[str, Any]:
    """One scenario, one replication, only its KPI means: no comparison and no CI to show."""
    scenario = sample["scenarios"]["integrated"]
    return {
        **{
            k: sample[k]
            for k in (
                "title",
                "world",
                "days",
                "seed",
                "currency",
                "generated_at",
                "kpi_keys",
                "kpi_labels",
                "kpi_direction",
            )
        },
        "replications": 1,
        "scenarios": {
            "custom": {
                "switches": scenario["switches"],
                "kpis": {
                    k: {"mean": v["mean"], "lo": None, "hi": None, "n": 1}
                    for k, v in scenario["kpis"].items()
                },
                "periods": [],
                "delivery_days": scenario["delivery_days"],
                "cost_parts": {},
                "timeline": [],
                "synergy": [],
                "partners": [],
            }
        },
        "comparison": [],
    }


def figure_ids(page: str) -> list[str]:
    return re.findall(r'<div id="fig-([a-z]+)" class="plotly-graph-div"', page)


def rows_of(page: str, section: str) -> list[str]:
    body = page.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", body, flags=re.S)


def test_write_report_writes_both_files_and_the_json_round_trips(
    tmp_path: Path, sample: dict[str, Any]
) -> None:
    files = write_report(sample, tmp_path / "run" / "out")
    assert files == ReportFiles(
        tmp_path / "run" / "out",
        tmp_path / "run" / "out" / "kpis.json",
        tmp_path / "run" / "out" / "report.html",
    )
    assert json.loads(files.kpis_json.read_text(encoding="utf-8")) == sample
    page = files.html.read_text(encoding="utf-8")
    assert page == render_html(sample)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_kpis_json_keeps_money_exact_and_dates_iso() -> None:
    kpis = {
        "generated_at": datetime(2025, 3, 31, 6, 30, tzinfo=UTC),
        "scenarios": {
            "integrated": {
                "kpis": {
                    "landed_cost_per_order": {
                        "mean": Decimal("398.640"),
                        "lo": Decimal("0.10"),
                        "hi": Decimal("1E+3"),
                        "n": np.int64(5),
                    }
                },
                "periods": [{"period": date(2025, 3, 3), "on_time_rate": np.float64(0.5)}],
                "delivery_days": np.array([1.5, float("nan"), 3.0]),
            }
        },
    }
    loaded = json.loads(kpis_to_json(kpis))
    assert loaded["generated_at"] == "2025-03-31T06:30:00+00:00"
    cell = loaded["scenarios"]["integrated"]["kpis"]["landed_cost_per_order"]
    assert cell == {"mean": "398.640", "lo": "0.10", "hi": "1E+3", "n": 5}
    assert Decimal(cell["mean"]) == Decimal("398.640")
    assert loaded["scenarios"]["integrated"]["periods"] == [
        {"period": "2025-03-03", "on_time_rate": 0.5}
    ]
    assert loaded["scenarios"]["integrated"]["delivery_days"] == [1.5, None, 3.0]


def test_hostile_names_are_escaped_everywhere(sample: dict[str, Any]) -> None:
    kpis = copy.deepcopy(sample)
    kpis["title"] = kpis["world"] = HOSTILE
    kpis["scenarios"][HOSTILE] = kpis["scenarios"].pop("integrated")
    kpis["scenarios"][HOSTILE]["partners"][0]["name"] = HOSTILE
    kpis["kpi_labels"]["on_time_rate"] = HOSTILE
    kpis["scenarios"]["siloed"]["cost_parts"][HOSTILE] = "1.00"
    page = render_html(kpis)
    assert "<script>alert" not in page
    assert "alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the tables, title and switches
    assert '"name":"&lt;script&gt;alert(1)&lt;\\u002fscript&gt;"' in page  # a figure's trace
    # every <script> is one of ours: the Plotly config, plotly.js, one per figure
    assert page.count("<script") == 2 + len(FIGURES)


def test_no_external_loads(sample_html: str) -> None:
    page = sample_html
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, flags=re.I)
    assert not re.search(r"<(link|img|iframe|object|embed|source)\b", page, flags=re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, flags=re.I)
    assert "cdn.plot.ly" not in page.split("* plotly.js v", 1)[0]  # nothing before the bundle
    assert page.count("* plotly.js v") == 1  # inlined once, for the first figure
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_sample_report_has_every_section(sample_html: str) -> None:
    page = sample_html
    assert figure_ids(page) == list(FIGURES)
    for ident in ("kpis", "comparison", *FIGURES):
        assert f'<section id="{ident}">' in page and f'href="#{ident}"' in page
    assert page.count("<th>95% CI</th>") == 2
    assert "[0.907, 0.961]" in page  # integrated on-time rate: mean 0.934
    assert "<dt>Replications</dt><dd>5</dd>" in page and "<dt>Seed</dt><dd>42</dd>" in page
    assert page.count('<span class="on">') == 5 and page.count('<span class="off">') == 5


def test_comparison_rows_are_coloured_by_the_verdict(
    sample: dict[str, Any], sample_html: str
) -> None:
    rows = rows_of(sample_html, "comparison")[1:]  # after the header
    assert len(rows) == len(sample["comparison"])
    verdicts = {item["kpi"]: item["better"] for item in sample["comparison"]}
    assert verdicts["damage_rate"] is False and verdicts["on_time_rate"] is True
    for row, item in zip(rows, sample["comparison"], strict=True):
        label = sample["kpi_labels"][item["kpi"]]
        assert label in row
        assert row.startswith('<tr class="better">' if item["better"] else '<tr class="worse">')
    cost = next(r for r in rows if "Landed cost" in r)
    assert "<td>431.27</td><td>398.64</td><td>-32.63</td><td>-7.6%</td>" in cost
    damage = next(r for r in rows if "Damaged" in r)
    assert "<td>+0.0011</td><td>+7.8%</td><td>worse</td>" in damage


def test_sections_without_data_are_left_out(sample: dict[str, Any]) -> None:
    page = render_html(minimal(sample))
    assert figure_ids(page) == ["delivery"]  # the only series the minimal run has
    assert '<section id="comparison">' not in page and 'href="#comparison"' not in page
    assert "95% CI" not in page and "<th>Mean</th>" in page
    assert "<h3>custom</h3>" in page
    assert page.count("* plotly.js v") == 1  # the delivery figure, being first, carries it


def test_an_empty_run_gives_a_page_without_plotly() -> None:
    page = render_html({"title": "Nothing ran", "scenarios": {}, "comparison": []})
    assert "<h1>Nothing ran</h1>" in page and "The run produced no results." in page
    assert "<script" not in page and "<section" not in page


def test_ci_needs_more_than_one_replication(sample: dict[str, Any]) -> None:
    kpis = {**sample, "replications": 1}
    assert "95% CI" not in render_html(kpis)


def test_rendering_is_deterministic(sample: dict[str, Any], sample_html: str) -> None:
    assert render_html(copy.deepcopy(sample)) == sample_html


def test_money_and_numbers_are_formatted_for_reading() -> None:
    assert fmt(Decimal("1234.5")) == "1,234.50"
    assert fmt("398.64") == "398.64"
    assert fmt("-32.630") == "-32.63"
    assert fmt(12345) == "12,345"
    assert fmt(52.63) == "52.6"
    assert fmt(0.934) == "0.934"
    assert fmt(0.0092) == "0.0092"
    assert fmt(None) == "\u2013"
    assert fmt(float("nan")) == "\u2013"
    assert fmt("n/a <b>") == "n/a &lt;b&gt;"


def test_large_delivery_samples_are_thinned_keeping_the_extremes() -> None:
    values = [float(i % 997) + 0.25 for i in range(100_003)] + [9999.0]
    fig = figs.delivery_figure({"siloed": {"delivery_days": values}})
    histogram, ecdf = fig.data
    assert len(histogram.x) == len(ecdf.x) == figs.MAX_POINTS
    assert float(ecdf.x[0]) == 0.25 and float(ecdf.x[-1]) == 9999.0
    assert list(ecdf.x) == sorted(ecdf.x)
    assert float(ecdf.y[-1]) == 1.0
    small = figs.delivery_figure({"siloed": {"delivery_days": ["3.5", Decimal("2"), None, 4]}})
    assert list(small.data[1].x) == [2.0, 3.5, 4.0]


def test_money_strings_and_decimals_are_drawn_as_numbers(sample: dict[str, Any]) -> None:
    scenarios = copy.deepcopy(sample["scenarios"])
    scenarios["siloed"]["cost_parts"]["duty"] = Decimal("18.92")
    fig = figs.cost_figure(scenarios, "CNY")
    duty = next(t for t in fig.data if t.name == "duty")
    assert list(duty.x) == ["siloed", "integrated"] and list(duty.y) == [18.92, 17.64]
    assert figs.cost_figure({"siloed": {"cost_parts": {}}}, "CNY") is None


def test_a_comparison_without_a_verdict_is_neutral(sample: dict[str, Any]) -> None:
    kpis = copy.deepcopy(sample)
    kpis["comparison"] = [
        {"kpi": "orders", "siloed": 120, "integrated": 120, "change": 0, "better": None}
    ]
    (row,) = rows_of(render_html(kpis), "comparison")[1:]
    assert row.startswith('<tr class="">') and "<td>120</td><td>120</td><td>0</td>" in row
    assert "<td>+0.0%</td><td>\u2013</td></tr>" in row
