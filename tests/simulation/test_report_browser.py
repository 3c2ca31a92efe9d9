"""The report in a real headless Chromium (the Debian package): no console errors, no page
errors, no network request beyond the file itself, every figure drawn, outside text shown as text.

The browser comes from ``tests/browser.py`` (Debian's Chromium, a failure under CI when
missing).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Route

from tests.browser import launch_chromium
from xborder.simulation.report import write_report

SAMPLE = Path(__file__).parent / "data" / "kpis_sample.json"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_chromium()


@dataclass
class Visit:
    """What the page did while it loaded: console errors, uncaught errors, requests, dialogs."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextmanager
def open_report(browser: Browser, kpis: dict[str, Any], out: Path) -> Iterator[Visit]:
    files = write_report(kpis, out)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    visit = Visit(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            visit.console_errors.append(message.text)

    def on_dialog(dialog: Dialog) -> None:
        visit.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_route(route: Route) -> None:
        visit.requests.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    page.on("dialog", on_dialog)
    page.route("**/*", on_route)
    page.goto(files.html.as_uri(), wait_until="load")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".every(gd => gd._fullLayout && gd.querySelector('.main-svg'))",
        timeout=30_000,
    )
    try:
        yield visit
    finally:
        page.close()


def sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return data


def figures(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        """Array.from(document.querySelectorAll('.plotly-graph-div')).map(gd => ({
            id: gd.id, traces: (gd.data || []).length,
            drawn: gd.classList.contains('js-plotly-plot') && !!gd._fullLayout,
            svgs: gd.querySelectorAll('.main-svg').length,
            marks: gd.querySelectorAll('.trace').length}))"""
    )
    return found


def assert_clean(visit: Visit, html: Path) -> None:
    assert visit.console_errors == []
    assert visit.page_errors == []
    assert visit.dialogs == []
    assert visit.requests == [html.as_uri()]  # the page only, nothing fetched


@pytest.fixture(scope="module")
def sample_visit(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Visit]:
    with open_report(browser, sample(), tmp_path_factory.mktemp("sample")) as visit:
        yield visit


def test_sample_report_loads_without_errors_or_network(sample_visit: Visit) -> None:
    html = Path(sample_visit.page.url.removeprefix("file://"))
    assert html.name == "report.html"
    assert_clean(sample_visit, html)


def test_every_figure_is_drawn(sample_visit: Visit) -> None:
    drawn = figures(sample_visit.page)
    assert [f["id"] for f in drawn] == [
        "fig-periods",
        "fig-delivery",
        "fig-cost",
        "fig-clearance",
        "fig-exceptions",
        "fig-synergy",
        "fig-partners",
    ]
    for figure in drawn:
        assert figure["drawn"] and figure["svgs"] >= 1 and figure["traces"] > 0, figure
        assert figure["marks"] > 0, figure  # traces really painted into the SVG
    counts = {f["id"]: f["traces"] for f in drawn}
    assert counts["fig-delivery"] == 4  # a histogram and an ECDF per scenario
    assert counts["fig-synergy"] == 6  # D, U1, U2 per scenario
    assert counts["fig-cost"] == 6  # one per cost part


def test_key_texts_are_shown(sample_visit: Visit) -> None:
    page = sample_visit.page
    body = page.inner_text("body")
    for needle in (
        "Key performance indicators",
        "Integrated against siloed",
        "95% CI",
        "Landed cost per order (CNY)",
        "[0.907, 0.961]",
        "siloed",
        "integrated",
    ):
        assert needle in body, needle
    headers = page.eval_on_selector_all(
        "#kpis table thead th", "ths => ths.map(t => t.textContent)"
    )
    assert headers[:5] == ["KPI", "Better", "Mean", "95% CI", "n"]
    assert page.eval_on_selector_all("#kpis h3", "hs => hs.map(h => h.textContent)") == [
        "siloed",
        "integrated",
    ]
    worse = page.eval_on_selector_all(
        "#comparison tr.worse td:first-child", "tds => tds.map(t => t.textContent)"
    )
    assert worse == ["Damaged parcels (share)"]
    legend = page.eval_on_selector_all(
        "#fig-synergy .legendtext", "ts => ts.map(t => t.textContent)"
    )
    assert "integrated · D" in legend and "siloed · U2" in legend


def test_hostile_names_show_as_text_and_run_nothing(browser: Browser, tmp_path: Path) -> None:
    kpis = copy.deepcopy(sample())
    kpis["title"] = HOSTILE
    kpis["scenarios"][HOSTILE] = kpis["scenarios"].pop("integrated")
    kpis["scenarios"][HOSTILE]["partners"][0]["name"] = HOSTILE
    with open_report(browser, kpis, tmp_path) as visit:
        assert_clean(visit, tmp_path / "report.html")
        page = visit.page
        assert page.title() == HOSTILE
        assert (
            page.eval_on_selector_all("#kpis h3", "hs => hs.map(h => h.textContent)")[1] == HOSTILE
        )
        legend = page.eval_on_selector_all(
            "#fig-partners .legendtext", "ts => ts.map(t => t.textContent)"
        )
        assert HOSTILE in legend
        assert page.evaluate("document.querySelectorAll('script').length") == 2 + 7


def test_a_minimal_run_loads_cleanly(browser: Browser, tmp_path: Path) -> None:
    full = sample()
    scenario = full["scenarios"]["siloed"]
    kpis = {
        **{k: v for k, v in full.items() if k not in ("scenarios", "comparison")},
        "replications": 1,
        "comparison": [],
        "scenarios": {
            "custom": {
                "switches": scenario["switches"],
                "kpis": {k: {"mean": v["mean"], "n": 1} for k, v in scenario["kpis"].items()},
                "delivery_days": [],
                "timeline": scenario["timeline"],
            }
        },
    }
    with open_report(browser, kpis, tmp_path) as visit:
        assert_clean(visit, tmp_path / "report.html")
        assert [f["id"] for f in figures(visit.page)] == ["fig-clearance", "fig-exceptions"]
        assert visit.page.query_selector("#comparison") is None
        assert "95% CI" not in visit.page.inner_text("body")
