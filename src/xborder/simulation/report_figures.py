"""The report's Plotly figures, built from the plain ``kpis`` dict the simulator writes.

Each builder returns ``None`` when its data is absent, so the report simply leaves the section
out instead of drawing an empty chart. Numbers arrive as int, float, Decimal or decimal strings
(money); they become floats here only to be drawn. Every text handed to Plotly is HTML-escaped
first: Plotly renders a subset of HTML in names and labels, and a scenario or partner name is
outside input. Only SVG traces are used (no WebGL), so the report draws the same in a headless
browser without a GPU.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped, unused-ignore]
from plotly.subplots import make_subplots  # type: ignore[import-untyped, unused-ignore]

MAX_POINTS = 20_000  # per scenario in the delivery-time plots; the HTML stays a few MB at most
COST_PARTS = ("goods", "freight", "duty", "tax", "fees", "logistics")
CLEARANCE = ("cleared", "held", "inspected", "delivered")
EXCEPTIONS = ("attempted", "returned", "lost", "damaged")
SCENARIO_COLOURS = {"siloed": "#d95f02", "integrated": "#1b9e77"}
PALETTE = ("#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4")
METRIC_COLOURS = {
    "cleared": "#1b9e77",
    "held": "#d95f02",
    "inspected": "#7570b3",
    "delivered": "#1f78b4",
    "attempted": "#e6ab02",
    "returned": "#a6761d",
    "lost": "#e7298a",
    "damaged": "#666666",
}
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
TEMPLATE = "plotly_white"


def as_float(value: Any) -> float | None:
    """A number for drawing, or None when ``value`` is missing, not a number or not finite."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            return None
    if isinstance(value, int | float | Decimal | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def text(value: Any) -> str:
    """Outside text made safe for Plotly's HTML-like labels (and for the page)."""
    return html.escape(str(value))


def colours(names: Iterable[str]) -> dict[str, str]:
    """A fixed colour per scenario: siloed and integrated always the same, others in order."""
    out: dict[str, str] = {}
    spare = iter(PALETTE * 4)
    for name in names:
        out[name] = SCENARIO_COLOURS.get(name) or next(spare, "#333333")
    return out


def downsample(values: Iterable[Any], limit: int = MAX_POINTS) -> Any:
    """The sorted finite values, thinned to at most ``limit`` evenly spaced order statistics.

    Taking evenly spaced quantiles keeps the shape of the distribution (and is deterministic),
    which a random subsample would not guarantee for the tails."""
    floats = [f for f in (as_float(v) for v in values) if f is not None]
    data = np.sort(np.asarray(floats, dtype=float))
    if data.size > limit:
        data = data[np.round(np.linspace(0, data.size - 1, limit)).astype(np.int64)]
    return data


def _layout(fig: Any, title: str, height: int, **extra: Any) -> Any:
    fig.update_layout(
        title={"text": text(title), "x": 0.01},
        template=TEMPLATE,
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "y": -0.18},
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
        **extra,
    )
    return fig


def delivery_figure(scenarios: Mapping[str, Any]) -> Any:
    """Order-to-delivery days per scenario: overlaid histograms and the empirical CDF."""
    samples = {n: downsample(s.get("delivery_days") or ()) for n, s in scenarios.items()}
    samples = {n: d for n, d in samples.items() if d.size}
    if not samples:
        return None
    palette = colours(scenarios)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Share of parcels", "Cumulative share"))
    for name, data in samples.items():
        label, colour = text(name), palette[name]
        fig.add_trace(
            go.Histogram(
                x=data,
                name=label,
                legendgroup=label,
                histnorm="probability",
                bingroup=1,
                opacity=0.55,
                marker_color=colour,
            ),
            row=1,
            col=1,
        )
        share = np.arange(1, data.size + 1, dtype=float) / data.size
        fig.add_trace(
            go.Scatter(
                x=data,
                y=share,
                name=label,
                legendgroup=label,
                showlegend=False,
                mode="lines",
                line={"shape": "hv", "color": colour},
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="days from order to delivery")
    return _layout(fig, "Delivery time", 420, barmode="overlay")


def cost_figure(scenarios: Mapping[str, Any], currency: str) -> Any:
    """Landed cost per order by part, one stacked bar per scenario."""
    with_parts = {n: s["cost_parts"] for n, s in scenarios.items() if s.get("cost_parts")}
    if not with_parts:
        return None
    parts = list(COST_PARTS)
    for values in with_parts.values():
        parts += [p for p in values if p not in parts]
    fig = go.Figure()
    names = [text(n) for n in with_parts]
    for part in parts:
        ys = [as_float(v.get(part)) for v in with_parts.values()]
        if all(y is None for y in ys):
            continue
        fig.add_trace(
            go.Bar(
                x=names, y=ys, name=text(part), hovertemplate="%{x}: %{y:,.2f} " + text(currency)
            )
        )
    fig.update_yaxes(title_text=text(f"{currency} per order"))
    return _layout(fig, "Landed cost per order", 420, barmode="stack")


def timeline_figure(scenarios: Mapping[str, Any], fields: Sequence[str], title: str) -> Any:
    """Daily counts of ``fields`` (a colour each), one line style per scenario."""
    fig = go.Figure()
    for index, (name, scenario) in enumerate(scenarios.items()):
        days = scenario.get("timeline") or []
        x = [str(d.get("day")) for d in days]
        for field in fields:
            ys = [as_float(d.get(field)) for d in days]
            if all(y is None for y in ys):
                continue
            label = text(f"{name} · {field}")
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=ys,
                    name=label,
                    mode="lines",
                    line={
                        "color": METRIC_COLOURS.get(field, "#333333"),
                        "dash": DASHES[index % len(DASHES)],
                    },
                )
            )
    if not fig.data:
        return None
    fig.update_yaxes(title_text="parcels per day", rangemode="tozero")
    return _layout(fig, title, 420)


def synergy_figure(scenarios: Mapping[str, Any]) -> Any:
    """Coordination degree D per period and scenario, with the subsystem indices U1 and U2."""
    palette = colours(scenarios)
    fig = go.Figure()
    for name, scenario in scenarios.items():
        rows = scenario.get("synergy") or []
        if not rows:
            continue
        x = [str(r.get("period")) for r in rows]
        colour, label = palette[name], text(name)
        extra = [
            [
                text(r.get("grade", "")),
                text(r.get("lag", "")),
                as_float(r.get("C")),
                as_float(r.get("T")),
            ]
            for r in rows
        ]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[as_float(r.get("D")) for r in rows],
                name=f"{label} · D",
                mode="lines+markers",
                line={"color": colour, "width": 3},
                customdata=extra,
                hovertemplate="D %{y:.3f}<br>%{customdata[0]}, %{customdata[1]}"
                "<br>C %{customdata[2]:.3f}, T %{customdata[3]:.3f}<extra></extra>",
            )
        )
        for key, dash in (("U1", "dash"), ("U2", "dot")):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[as_float(r.get(key)) for r in rows],
                    name=f"{label} · {key}",
                    mode="lines",
                    line={"color": colour, "dash": dash},
                )
            )
    if not fig.data:
        return None
    fig.update_yaxes(title_text="index (0 to 1)", range=[0, 1.02])
    return _layout(fig, "Synergy: coordination D, e-commerce U1, logistics U2", 420)


def partners_figure(scenarios: Mapping[str, Any], currency: str) -> Any:
    """Each partner's profit, one bar per scenario."""
    labels: dict[str, str] = {}
    for scenario in scenarios.values():
        for p in scenario.get("partners") or []:
            party = str(p.get("party"))
            labels.setdefault(party, f"{p.get('name', party)} ({p.get('role', '')})")
    if not labels:
        return None
    palette = colours(scenarios)
    fig = go.Figure()
    for name, scenario in scenarios.items():
        profit = {
            str(p.get("party")): as_float(p.get("profit")) for p in scenario.get("partners") or []
        }
        if profit:
            fig.add_trace(
                go.Bar(
                    x=[text(v) for v in labels.values()],
                    y=[profit.get(k) for k in labels],
                    name=text(name),
                    marker_color=palette[name],
                    hovertemplate="%{x}: %{y:,.2f} " + text(currency),
                )
            )
    fig.update_yaxes(title_text=text(currency))
    return _layout(fig, "Profit per partner", 420, barmode="group")


def periods_figure(kpis: Mapping[str, Any]) -> Any:
    """Each KPI per period (replication means), a small chart per KPI, a line per scenario."""
    scenarios: Mapping[str, Any] = kpis.get("scenarios") or {}
    labels: Mapping[str, str] = kpis.get("kpi_labels") or {}
    keys = [
        k
        for k in kpis.get("kpi_keys") or []
        if any(
            as_float(r.get(k)) is not None
            for s in scenarios.values()
            for r in s.get("periods") or []
        )
    ]
    if not keys:
        return None
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[text(labels.get(k, k)) for k in keys],
        vertical_spacing=min(0.12, 0.9 / max(rows - 1, 1)),
        horizontal_spacing=0.08,
    )
    palette = colours(scenarios)
    for name, scenario in scenarios.items():
        periods = scenario.get("periods") or []
        x = [str(r.get("period")) for r in periods]
        for i, key in enumerate(keys):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[as_float(r.get(key)) for r in periods],
                    name=text(name),
                    legendgroup=text(name),
                    showlegend=i == 0,
                    mode="lines+markers",
                    line={"color": palette[name]},
                ),
                row=i // cols + 1,
                col=i % cols + 1,
            )
    fig.update_annotations(font_size=12)
    return _layout(fig, "KPIs per period", 120 + 230 * rows)
