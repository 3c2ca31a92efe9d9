"""The simulation report: ``kpis.json`` and one self-contained HTML page.

The page carries everything it needs: plotly.js is inlined once, there is one ``<style>`` block,
no web fonts, and a Content-Security-Policy that forbids every network load, so it opens the same
on a laptop without a connection years later as on the machine that made it. Every outside text
(scenario, partner and KPI names, the title) is HTML-escaped. Money may arrive as Decimal or a
decimal string; it is formatted as a Decimal and turned into a float only to be drawn.
Sections whose data is absent are left out; the output depends only on the ``kpis`` dict (no
wall clock, fixed element ids), so the same run gives the same file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import plotly.io as pio  # type: ignore[import-untyped, unused-ignore]

from xborder.simulation import report_figures as figs
from xborder.simulation.report_figures import text

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1200px;padding:1rem 1.5rem;color:#1f2933;background:#fff;line-height:1.4}
h1{margin:.2rem 0 .6rem}h2{margin-top:2rem;border-bottom:1px solid #d5dbe1;padding-bottom:.2rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:0}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}
nav a{margin-right:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e4e7eb;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f5f7fa}
tr.better td{background:#e3f4ea}tr.worse td{background:#fbe4e2}
.switches span{display:inline-block;border-radius:.6rem;padding:0 .5rem;margin:0 .2rem .2rem 0;
font-size:.85rem}.on{background:#d7efe1}.off{background:#eceff2;color:#6b7785}
.scenarios{display:flex;flex-wrap:wrap;gap:0 2rem}.figure{margin:1rem 0}
footer{margin-top:2rem;color:#6b7785;font-size:.85rem}
"""
NONE = "\u2013"  # an en dash where a number is missing
SWITCHES = ("shared_data", "warehouses", "consolidation", "full_tracking", "escrow")
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where :func:`write_report` put the run's numbers and its page."""

    directory: Path
    kpis_json: Path
    html: Path


def write_report(kpis: dict[str, Any], out_dir: Path) -> ReportFiles:
    """Write ``out_dir/kpis.json`` (the dict as JSON) and ``out_dir/report.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir, out_dir / "kpis.json", out_dir / "report.html")
    files.kpis_json.write_text(kpis_to_json(kpis), encoding="utf-8")
    files.html.write_text(render_html(kpis), encoding="utf-8")
    return files


def plain(value: Any) -> Any:
    """``value`` as JSON values: Decimals as strings (exact), dates ISO, numpy as Python,
    NaN and infinities as null (JSON has none)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [plain(v) for v in items]
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def kpis_to_json(kpis: Mapping[str, Any]) -> str:
    """The text of ``kpis.json``: key order kept, UTF-8, indented for a reader."""
    return json.dumps(plain(kpis), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render_html(kpis: dict[str, Any]) -> str:
    """The whole report page for ``kpis`` (see the module docstring)."""
    scenarios: dict[str, Any] = kpis.get("scenarios") or {}
    currency = str(kpis.get("currency") or "")
    sections: list[tuple[str, str, str]] = []  # (id, heading, body)
    if scenarios:
        sections.append(("kpis", "Key performance indicators", _kpi_tables(kpis)))
    if kpis.get("comparison"):
        sections.append(("comparison", "Integrated against siloed", _comparison(kpis)))
    built = [
        ("periods", "KPIs per period", figs.periods_figure(kpis)),
        ("delivery", "Delivery time", figs.delivery_figure(scenarios)),
        ("cost", "Cost breakdown", figs.cost_figure(scenarios, currency)),
        (
            "clearance",
            "Clearance timeline",
            figs.timeline_figure(
                scenarios, figs.CLEARANCE, "Customs clearance and delivery per day"
            ),
        ),
        (
            "exceptions",
            "Exceptions timeline",
            figs.timeline_figure(
                scenarios, figs.EXCEPTIONS, "Failed attempts, returns, loss, damage"
            ),
        ),
        ("synergy", "Synergy over time", figs.synergy_figure(scenarios)),
        ("partners", "Partner profit", figs.partners_figure(scenarios, currency)),
    ]
    first = True
    for ident, heading, fig in built:
        if fig is None:
            continue
        body = pio.to_html(
            fig,
            include_plotlyjs=first,
            full_html=False,
            div_id=f"fig-{ident}",
            config=FIGURE_CONFIG,
            default_width="100%",
        )
        sections.append((ident, heading, f'<div class="figure">{body}</div>'))
        first = False
    title = text(kpis.get("title") or "Simulation report")
    nav = " ".join(f'<a href="#{i}">{text(h)}</a>' for i, h, _ in sections)
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        f"<header>\n<h1>{title}</h1>\n{_meta(kpis)}\n</header>",
        f"<nav>{nav}</nav>" if sections else "<p>The run produced no results.</p>",
        *(f'<section id="{i}">\n<h2>{text(h)}</h2>\n{body}\n</section>' for i, h, body in sections),
        f"<footer>Generated {text(kpis.get('generated_at') or '')} by xborder simulate.</footer>",
        "</body>\n</html>\n",
    ]
    return "\n".join(parts)


# --- formatting ----------------------------------------------------------------------------------
def _decimal(value: Any) -> Decimal | None:
    """An exact number for money and other decimals; None when there is none."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def fmt(value: Any) -> str:
    """A number for a table cell: decimals (money) with two places, counts with separators,
    measures with as many places as their size needs; missing as an en dash."""
    exact = _decimal(value)
    if exact is not None:
        return f"{exact:,.2f}"
    number = figs.as_float(value)
    if number is None:
        return NONE if value is None or not isinstance(value, str) else text(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    size = abs(number)
    if size >= 1:
        places = 0 if size >= 1000 else 1 if size >= 10 else 2
    else:  # shares and rates: at least two significant digits (0.0092, not 0.009)
        places = 3 if size == 0 else max(3, 1 - math.floor(math.log10(size)))
    return f"{number:,.{places}f}"


def _meta(kpis: Mapping[str, Any]) -> str:
    items = [
        ("World", kpis.get("world")),
        ("Days", kpis.get("days")),
        ("Seed", kpis.get("seed")),
        ("Replications", kpis.get("replications")),
        ("Currency", kpis.get("currency")),
        ("Scenarios", ", ".join(map(str, kpis.get("scenarios") or {})) or None),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{text(v)}</dd>" for k, v in items if v is not None)
    return f'<dl class="meta">{rows}</dl>'


def _has_ci(kpis: Mapping[str, Any]) -> bool:
    """Confidence intervals only from more than one replication, and only if the run gave any."""
    if (figs.as_float(kpis.get("replications")) or 0) < 2:
        return False
    return any(
        cell.get("lo") is not None and cell.get("hi") is not None
        for s in (kpis.get("scenarios") or {}).values()
        for cell in (s.get("kpis") or {}).values()
    )


def _kpi_tables(kpis: Mapping[str, Any]) -> str:
    """One table per scenario: its switches, then each KPI's mean and 95% interval."""
    labels: Mapping[str, str] = kpis.get("kpi_labels") or {}
    direction: Mapping[str, str] = kpis.get("kpi_direction") or {}
    ci = _has_ci(kpis)
    head = (
        "<tr><th>KPI</th><th>Better</th><th>Mean</th>"
        + ("<th>95% CI</th><th>n</th>" if ci else "")
        + "</tr>"
    )
    out = []
    for name, scenario in (kpis.get("scenarios") or {}).items():
        cells: Mapping[str, Any] = scenario.get("kpis") or {}
        keys = [k for k in kpis.get("kpi_keys") or [] if k in cells]
        keys += [k for k in cells if k not in keys]
        rows = []
        for key in keys:
            cell = cells[key] if isinstance(cells[key], Mapping) else {"mean": cells[key]}
            arrow = {"+": "↑ higher", "-": "↓ lower"}.get(direction.get(key, ""), "")
            row = (
                f"<td>{text(labels.get(key, key))}</td><td>{arrow}</td>"
                f"<td>{fmt(cell.get('mean'))}</td>"
            )
            if ci:
                interval = (
                    NONE
                    if cell.get("lo") is None or cell.get("hi") is None
                    else f"[{fmt(cell.get('lo'))}, {fmt(cell.get('hi'))}]"
                )
                row += f"<td>{interval}</td><td>{fmt(cell.get('n'))}</td>"
            rows.append(f"<tr>{row}</tr>")
        switches = scenario.get("switches") or {}
        names = [*SWITCHES, *(s for s in switches if s not in SWITCHES)]
        badges = "".join(
            f'<span class="{"on" if switches.get(s) else "off"}">{text(s.replace("_", " "))}'
            f"{' on' if switches.get(s) else ' off'}</span>"
            for s in names
            if s in switches
        )
        out.append(
            f'<div class="scenario"><h3>{text(name)}</h3>'
            f'<p class="switches">{badges}</p>'
            f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    return f'<div class="scenarios">{"".join(out)}</div>'


def _exact(value: Any) -> Decimal | None:
    """Any number as a Decimal (floats through their shortest repr), for exact differences."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        value = str(value)
    return _decimal(value)


def _relative(siloed: Any, integrated: Any) -> str:
    """The change as a share of the siloed value, computed exactly (Decimal), for display."""
    before, after = _exact(siloed), _exact(integrated)
    if before is None or after is None or before == 0:
        return NONE
    return f"{(after - before) / abs(before) * 100:+.1f}%"


def _comparison(kpis: Mapping[str, Any]) -> str:
    """Each KPI in both presets, the change (integrated minus siloed) and whether it is better."""
    labels: Mapping[str, str] = kpis.get("kpi_labels") or {}
    rows = []
    for item in kpis.get("comparison") or []:
        key = str(item.get("kpi"))
        better = item.get("better")
        css = "better" if better is True else "worse" if better is False else ""
        verdict = "better" if better is True else "worse" if better is False else NONE
        change = fmt(item.get("change"))
        if (figs.as_float(item.get("change")) or 0) > 0:
            change = "+" + change
        rows.append(
            f'<tr class="{css}"><td>{text(labels.get(key, key))}</td>'
            f"<td>{fmt(item.get('siloed'))}</td><td>{fmt(item.get('integrated'))}</td>"
            f"<td>{change}</td><td>{_relative(item.get('siloed'), item.get('integrated'))}</td>"
            f"<td>{verdict}</td></tr>"
        )
    head = (
        "<tr><th>KPI</th><th>Siloed</th><th>Integrated</th><th>Change</th>"
        "<th>Relative</th><th>Verdict</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
