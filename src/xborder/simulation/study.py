"""A study: scenarios x replications run, summarised with 95% intervals, compared and scored.

Replication r of every scenario uses the same seed (common random numbers: the same buyers
place the same orders in every scenario), so a difference between scenarios is the scenarios'
and not the dice's. Synergy is scored on one fixed frame (``SYNERGY_FRAME``: stated bounds and
equal weights per subsystem) so that integrated and siloed runs land on one scale; normalising
each run on its own bounds would erase exactly the difference a study looks for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np

from xborder.analytics.coupling import (
    CouplingParams,
    Direction,
    Reference,
    Subsystem,
    coupling_coordination,
)
from xborder.analytics.order_degree import order_degree, orderliness, synergy
from xborder.analytics.stats import mean_ci, t_quantile_975
from xborder.services.kpis import KPI_DIRECTION, KPI_KEYS
from xborder.simulation.config import ScenarioConfig
from xborder.simulation.replications import Replication, run_replications

Progress = Callable[[str, int, int], None]
CENT = Decimal("0.01")

# The two subsystems and the fixed frame they are scored on. Bounds are stated ranges a
# cross-border flow plausibly spans (not fitted to any run); weights are equal within each
# subsystem (a stated choice: entropy weights fitted per run would differ between scenarios).
ECOMMERCE: dict[str, Direction] = {
    "paid_rate": "+", "gmv_per_day": "+", "unplanned_rate": "-", "escrow_days_outstanding": "-",
    "compensation_per_order": "+",
}  # fmt: skip
LOGISTICS: dict[str, Direction] = {
    "delivery_days_mean": "-", "on_time_rate": "+", "loss_rate": "-", "hold_rate": "-",
    "trace_completeness": "+", "logistics_cost_per_order": "-",
}  # fmt: skip
BOUNDS: dict[str, tuple[float, float]] = {
        "paid_rate": (0.5, 1.0), "gmv_per_day": (0.0, 500_000.0), "unplanned_rate": (0.0, 0.5),
        "escrow_days_outstanding": (0.0, 40.0), "compensation_per_order": (0.0, 5.0),
        "delivery_days_mean": (2.0, 30.0), "on_time_rate": (0.0, 1.0), "loss_rate": (0.0, 0.05),
        "hold_rate": (0.0, 0.3), "trace_completeness": (0.0, 1.0),
        "logistics_cost_per_order": (0.0, 300.0),
}  # fmt: skip
SYNERGY_FRAME = Reference(
    bounds=BOUNDS,
    weights={**{k: 1 / len(ECOMMERCE) for k in ECOMMERCE},
             **{k: 1 / len(LOGISTICS) for k in LOGISTICS}},
)  # fmt: skip
SUBSYSTEMS = (Subsystem("e-commerce", ECOMMERCE), Subsystem("logistics", LOGISTICS))


KPI_LABELS = {
    "orders": "orders placed", "paid": "orders paid", "parcels": "parcels",
    "delivered": "parcels delivered", "delivery_days_mean": "delivery time, mean (days)",
    "delivery_days_p50": "delivery time, median (days)",
    "delivery_days_p95": "delivery time, p95 (days)", "on_time_rate": "on time (share)",
    "gmv": "GMV", "goods_per_order": "goods per order", "freight_per_order": "freight per order",
    "duty_per_order": "duty per order", "tax_per_order": "tax per order",
    "fees_per_order": "fees per order", "logistics_cost_per_order": "logistics cost per order",
    "landed_cost_per_order": "landed cost per order", "loss_rate": "lost (share)",
    "damage_rate": "damaged (share)", "return_rate": "returned (share)",
    "attempt_rate": "failed first attempt (share)",
    "clearance_hours_mean": "import clearance, mean (hours)",
    "hold_rate": "held or inspected by customs (share)",
    "trace_completeness": "unbroken trace record (share)",
    "escrow_days_outstanding": "escrow outstanding, mean (days)",
    "compensation_per_order": "compensation to buyers per order",
    "unplanned_rate": "paid but not planned (share)",
    "quote_variance_rate": "assessed duty and tax off the quote (share)",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Study:
    scenarios: tuple[ScenarioConfig, ...]
    seed: int
    replications: int
    first_day: date
    days: int
    drain_days: int = 21
    period_days: int = 7
    world_path: str | None = None

    def runs(self) -> list[Replication]:
        return [
            Replication(s, self.seed * 1000 + r, self.first_day, self.days, self.drain_days,
                        self.period_days, self.world_path)
            for s in self.scenarios for r in range(self.replications)
        ]  # fmt: skip


def run_study(study: Study, *, scheduler: str | None = None, workers: int = 2,
              progress: Progress | None = None) -> dict[str, Any]:  # fmt: skip
    results = run_replications(study.runs(), scheduler=scheduler, workers=workers,
                               progress=progress)  # fmt: skip
    return summarise(study, results)


def _number(value: Any) -> float | Decimal | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Decimal(value)
    return float(value)


def _interval(values: Sequence[float | Decimal]) -> dict[str, Any]:
    """Mean and 95% interval; money (Decimal) stays Decimal, to the cent."""
    if values and isinstance(values[0], Decimal):
        money = [Decimal(v) for v in values]
        n = len(money)
        mean = sum(money, Decimal(0)) / n
        if n < 2:
            return {"mean": mean.quantize(CENT), "lo": None, "hi": None, "n": n}
        var = sum(((v - mean) ** 2 for v in money), Decimal(0)) / (n - 1)
        half = Decimal(str(t_quantile_975(n - 1))) * var.sqrt() / Decimal(n).sqrt()
        return {"mean": mean.quantize(CENT), "lo": (mean - half).quantize(CENT, ROUND_HALF_EVEN),
                "hi": (mean + half).quantize(CENT, ROUND_HALF_EVEN), "n": n}  # fmt: skip
    ci = mean_ci([float(v) for v in values])
    return {"mean": ci.mean, "lo": ci.low, "hi": ci.high, "n": ci.n}


def _kpi_table(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in KPI_KEYS:
        values = [v for r in rows if (v := _number(r.get(key))) is not None]
        values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
        if values:
            out[key] = _interval(values)
    return out


def _mean_rows(runs: Sequence[Sequence[dict[str, Any]]], key: str) -> list[dict[str, Any]]:
    """Per ``key`` value (a period or a day), the mean of every numeric field over runs."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for rows in runs:
        for row in rows:
            grouped.setdefault(str(row[key]), []).append(row)
    out = []
    for at in sorted(grouped):
        merged: dict[str, Any] = {key: at}
        for field in grouped[at][0]:
            if field == key:
                continue
            vals = [v for r in grouped[at] if (v := _number(r.get(field))) is not None]
            money = [v for v in vals if isinstance(v, Decimal)]
            if money and len(money) == len(vals):
                merged[field] = (sum(money, Decimal(0)) / len(money)).quantize(CENT)
            elif vals:
                merged[field] = float(np.nanmean(np.array(vals, dtype=np.float64)))
        out.append(merged)
    return out


def synergy_rows(periods: Sequence[dict[str, Any]], period_days: int) -> list[dict[str, Any]]:
    """U1, U2, C, T, D, grade and lag per period, on the fixed frame; and the composite
    system synergy of each period against the one before."""
    if not periods:
        return []
    columns: dict[str, np.ndarray] = {}
    for name in (*ECOMMERCE, *LOGISTICS):
        if name == "paid_rate":
            vals = [float(p.get("paid", 0)) / max(float(p.get("orders", 0)), 1.0) for p in periods]
        elif name == "gmv_per_day":
            vals = [float(p.get("gmv") or 0) / period_days for p in periods]
        else:
            vals = [float(p[name]) if p.get(name) is not None else math.nan for p in periods]
        lo, hi = BOUNDS[name]
        worst = hi if {**ECOMMERCE, **LOGISTICS}[name] == "-" else lo  # nothing measured yet
        columns[name] = np.clip(np.nan_to_num(np.array(vals, dtype=np.float64), nan=worst), lo, hi)
    params = CouplingParams(weights="equal")
    result = coupling_coordination(columns, SUBSYSTEMS, params, SYNERGY_FRAME)
    # linear order degree: with the geometric mean one component at its bound zeroes the whole
    # subsystem (a period with no delivery yet would hide every other movement)
    degrees = np.column_stack([
        order_degree(orderliness(
            np.column_stack([columns[n] for n in system.indicators]),
            list(system.indicators.values()),
            np.array([BOUNDS[n][0] for n in system.indicators]),
            np.array([BOUNDS[n][1] for n in system.indicators]),
        ), aggregation="linear")
        for system in SUBSYSTEMS
    ])  # fmt: skip
    between = synergy(degrees) if len(periods) > 1 else np.array([])
    return [
        {"period": str(p["period"]), "U1": float(result.u[i, 0]), "U2": float(result.u[i, 1]),
         "C": float(result.c[i]), "T": float(result.t[i]), "D": float(result.d[i]),
         "grade": result.grades[i].english, "lag": result.lags[i],
         "synergy": float(between[i - 1]) if i > 0 and len(between) >= i else None}
        for i, p in enumerate(periods)
    ]  # fmt: skip


def summarise(study: Study, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The study as the report's data (``kpis.json``)."""
    scenarios: dict[str, Any] = {}
    currency = results[0]["currency"] if results else "CNY"
    for config in study.scenarios:
        runs = [r for r in results if r["scenario"] == config.name]
        overall = _kpi_table([r["overall"] for r in runs])
        periods = _mean_rows([r["periods"] for r in runs], "period")
        parts = {
            name: overall.get(f"{name}_per_order", {}).get("mean")
            for name in ("goods", "freight", "duty", "tax", "fees", "logistics_cost")
        }
        scenarios[config.name] = {
            "switches": config.switches.model_dump(),
            "kpis": overall,
            "periods": periods,
            "delivery_days": [d for r in runs for d in r["delivery_days"]],
            "cost_parts": {k.replace("_cost", ""): v for k, v in parts.items() if v is not None},
            "timeline": _mean_rows([r["timeline"] for r in runs], "day"),
            "synergy": synergy_rows(periods, study.period_days),
            "partners": _partners(runs),
            "counts": _mean_rows([[{"k": "all", **r["counts"]}] for r in runs], "k")[0]
            if runs else {},
        }  # fmt: skip
    return {
        "title": "xborder simulation", "world": study.world_path or "demo world",
        "days": study.days, "seed": study.seed,
        "replications": study.replications, "currency": currency,
        "first_day": study.first_day.isoformat(), "drain_days": study.drain_days,
        "kpi_keys": list(KPI_KEYS), "kpi_direction": dict(KPI_DIRECTION),
        "kpi_labels": {k: KPI_LABELS.get(k, k) for k in KPI_KEYS},
        "scenarios": scenarios, "comparison": comparison(scenarios),
    }  # fmt: skip


def _partners(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    per: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        for p in r["partners"]:
            per.setdefault(str(p["party"]), []).append(p)
    out = []
    for party, rows in sorted(per.items()):
        profits = [Decimal(str(p["profit"])) for p in rows]
        out.append({"party": party, "name": rows[0].get("name", party),
                    "role": rows[0].get("role", ""),
                    "profit": (sum(profits, Decimal(0)) / len(runs)).quantize(CENT)})  # fmt: skip
    return out


def comparison(scenarios: dict[str, Any], base: str = "siloed", other: str = "integrated"
               ) -> list[dict[str, Any]]:  # fmt: skip
    """Integrated against siloed, KPI by KPI, with whether the change is an improvement."""
    if base not in scenarios or other not in scenarios:
        return []
    rows = []
    for key in KPI_KEYS:
        a = scenarios[base]["kpis"].get(key)
        b = scenarios[other]["kpis"].get(key)
        if a is None or b is None:
            continue
        change = b["mean"] - a["mean"]
        direction = KPI_DIRECTION.get(key)
        better = None if direction is None or change == 0 else (
            (change > 0) == (direction == "+"))  # fmt: skip
        rows.append({"kpi": key, "siloed": a["mean"], "integrated": b["mean"],
                     "change": change, "better": better})  # fmt: skip
    return rows
