"""A wave of stored orders on the stored network, compiled into the planner's problem.

Pure: it takes plain rows (warehouses, lanes, last-mile carriers, products, available stock, FX)
and order columns; the planning service reads them from the store. Every source with stock in the
buyer's country serves in-country (last mile only); every other source reaches the buyer by the
lanes leaving its hub for that country, then a last-mile carrier there. One route per (warehouse,
lane or none, last-mile carrier). Money is converted to ``PLAN_CURRENCY`` at the wave's FX rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from xborder.domain.errors import InvalidValue, MissingRate
from xborder.domain.network import WEEKDAYS
from xborder.planning.builder import LaneColumns, Network, OrderColumns, Route, build
from xborder.planning.problem import F64, I64, Problem

PLAN_CURRENCY = "CNY"
# Operator policy parameters (not real-world facts): what a day late and an unserved order cost.
LATE_PENALTY_PER_DAY = 20.0  # CNY per expected day late
UNASSIGNED_PENALTY = 2_000.0  # CNY per order left unplanned
MONDAY = date(2024, 1, 1)  # any Monday: ready days count from it so that day % 7 is the weekday


@dataclass(frozen=True, slots=True)
class RouteInfo:
    warehouse: str
    lane: str | None
    last_mile: str
    customs_mode: str | None


@dataclass(frozen=True, slots=True)
class Wave:
    """Open orders as columns; lines sorted by order position."""

    order_ids: I64
    dest: Sequence[str]
    placed_at: Sequence[datetime]
    promised_by: Sequence[date]
    line_order: I64  # position of the line's order in ``order_ids``
    line_sku: Sequence[str]
    line_qty: I64


@dataclass(frozen=True, slots=True)
class CompiledWave:
    problem: Problem
    routes: tuple[RouteInfo, ...]
    warehouses: tuple[str, ...]
    skus: tuple[str, ...]
    wave_day: date


def fx_to_plan(rows: Sequence[Mapping[str, Any]], on: date) -> dict[str, float]:
    """Rate per currency into ``PLAN_CURRENCY`` in force on ``on`` (latest valid_from <= on)."""
    best: dict[str, tuple[date, float]] = {}
    for r in rows:
        newer = r["base"] not in best or best[r["base"]][0] < r["valid_from"]
        if r["quote"] == PLAN_CURRENCY and r["valid_from"] <= on and newer:
            best[r["base"]] = (r["valid_from"], float(r["rate"]))
    rates = {k: v for k, (_, v) in best.items()}
    rates[PLAN_CURRENCY] = 1.0
    return rates


def _money(
    minor: int, currency: str, rates: Mapping[str, float], digits: Mapping[str, int]
) -> float:
    if currency not in rates:
        raise MissingRate(f"no FX rate {currency}->{PLAN_CURRENCY} in force for the wave")
    return float(minor / 10 ** digits.get(currency, 2) * rates[currency])


def compile_wave(
    wave: Wave,
    warehouses: Sequence[Mapping[str, Any]],
    lanes: Sequence[Mapping[str, Any]],
    last_mile: Sequence[Mapping[str, Any]],
    products: Sequence[Mapping[str, Any]],
    available: Mapping[tuple[str, str], int],
    fx: Sequence[Mapping[str, Any]],
    digits: Mapping[str, int],
    wave_day: date,
) -> CompiledWave:
    """The planner's problem for the wave (see the module doc)."""
    rates = fx_to_plan(fx, wave_day)
    skus = tuple(sorted({str(p["sku"]) for p in products}))
    sku_ix = {s: i for i, s in enumerate(skus)}
    stocked = sorted({w for (w, _s), q in available.items() if q > 0})
    wh_by_id = {str(w["id"]): w for w in warehouses}
    sources = tuple(w for w in stocked if w in wh_by_id)
    src_ix = {w: i for i, w in enumerate(sources)}
    inventory = np.zeros((len(sources), len(skus)), dtype=np.int64)
    for (w, s), q in available.items():
        if w in src_ix and s in sku_ix:
            inventory[src_ix[w], sku_ix[s]] = max(int(q), 0)
    unknown = sorted({s for s in wave.line_sku if s not in sku_ix})
    if unknown:
        raise InvalidValue("sku", f"orders reference unknown SKUs {unknown[:5]}")
    line_sku = np.array([sku_ix[s] for s in wave.line_sku], dtype=np.int64)
    prod = {str(p["sku"]): p for p in products}
    kg = np.array([float(prod[s]["gross_weight_kg"]) for s in skus])
    cm3 = np.array(
        [
            float(prod[s]["length_cm"]) * float(prod[s]["width_cm"]) * float(prod[s]["height_cm"])
            for s in skus
        ]
    )
    dests = sorted(set(wave.dest))
    dest_ix = {d: i for i, d in enumerate(dests)}
    n = int(wave.order_ids.size)
    placed_day = np.array([(p.date() - MONDAY).days for p in wave.placed_at], dtype=np.int64)
    promise = np.array(
        [(pb - p.date()).days for pb, p in zip(wave.promised_by, wave.placed_at, strict=True)],
        dtype=np.float64,
    )
    orders = OrderColumns(
        dest=np.array([dest_ix[d] for d in wave.dest], dtype=np.int64),
        promise_days=promise,
        penalty=np.full(n, UNASSIGNED_PENALTY),
        split=np.zeros(n, dtype=bool),
        line_order=wave.line_order,
        line_sku=line_sku,
        line_qty=wave.line_qty,
        line_weight=kg[line_sku] * wave.line_qty,
        line_volume_cm3=cm3[line_sku] * wave.line_qty,
        ready_day=placed_day,
        ready_minute=np.array([p.hour * 60 + p.minute for p in wave.placed_at], dtype=np.int64),
    )

    lane_rows = [ln for ln in lanes if ln["dest_country"] in dest_ix]
    lane_ix = {str(ln["id"]): i for i, ln in enumerate(lane_rows)}
    lane_cols = LaneColumns(
        capacity_kg=np.array([float(ln["daily_capacity_kg"]) for ln in lane_rows]),
        weekdays=np.array(
            [[d in str(ln["departure_days"]).split(",") for d in WEEKDAYS] for ln in lane_rows],
            dtype=bool,
        ).reshape(len(lane_rows), 7),
        cutoff_minute=np.array(
            [int(str(ln["cutoff"])[:2]) * 60 + int(str(ln["cutoff"])[3:5]) for ln in lane_rows],
            dtype=np.int64,
        ),
    )
    routes: list[Route] = []
    infos: list[RouteInfo] = []
    for w_id in sources:
        wh = wh_by_id[w_id]
        handling = _money(int(wh["handling_minor"]), str(wh["handling_currency"]), rates, digits)
        for d in dests:
            carriers = [m for m in last_mile if m["country"] == d]
            legs: list[Mapping[str, Any] | None] = (
                [None]
                if wh["country"] == d
                else [
                    ln
                    for ln in lane_rows
                    if ln["origin_hub"] == wh["hub_id"] and ln["dest_country"] == d
                ]
            )
            for ln in legs:
                for m in carriers:
                    routes.append(
                        _route(
                            wh, ln, m, handling, dest_ix[d], src_ix[w_id], lane_ix, rates, digits
                        )
                    )
                    infos.append(
                        RouteInfo(
                            w_id,
                            None if ln is None else str(ln["id"]),
                            str(m["id"]),
                            _customs_mode(wh, ln),
                        )
                    )
    network = Network(inventory, lane_cols, tuple(routes), LATE_PENALTY_PER_DAY)
    return CompiledWave(build(orders, network), tuple(infos), sources, skus, wave_day)


def _route(
    w: Mapping[str, Any],
    ln: Mapping[str, Any] | None,
    m: Mapping[str, Any],
    handling: float,
    dest: int,
    source: int,
    lane_ix: Mapping[str, int],
    rates: Mapping[str, float],
    digits: Mapping[str, int],
) -> Route:
    lm_cur = str(m["currency"])
    name = f"{w['id']}>{'' if ln is None else ln['id']}>{m['id']}"
    lm_parcel = _money(int(m["per_parcel_minor"]), lm_cur, rates, digits)
    lm_kg = _money(int(m["per_kg_minor"]), lm_cur, rates, digits)
    if ln is None:
        return Route(
            name, source, dest, -1, handling=handling, last_mile_per_parcel=lm_parcel,
            last_mile_per_kg=lm_kg, transit_mean=float(m["transit_mean_days"]),
            transit_p95=float(m["transit_p95_days"]),
        )  # fmt: skip
    cur = str(ln["currency"])
    return Route(
        name, source, dest, lane_ix[str(ln["id"])],
        per_kg=_money(int(ln["per_kg_minor"]), cur, rates, digits),
        per_parcel=_money(int(ln["per_parcel_minor"]), cur, rates, digits),
        minimum=_money(int(ln["minimum_minor"]), cur, rates, digits), handling=handling,
        last_mile_per_parcel=lm_parcel, last_mile_per_kg=lm_kg,
        transit_mean=float(ln["transit_mean_days"]) + float(m["transit_mean_days"]),
        # sum of p95s: an upper estimate of the p95 of the sum, so lateness is not understated
        transit_p95=float(ln["transit_p95_days"]) + float(m["transit_p95_days"]),
        volumetric_divisor=float(ln["volumetric_divisor"]),
        max_parcel_kg=None if ln["max_parcel_kg"] is None else float(ln["max_parcel_kg"]),
    )  # fmt: skip


def _customs_mode(w: Mapping[str, Any], ln: Mapping[str, Any] | None) -> str | None:
    """The supervision mode the source implies (GACC codes; see the DESIGN glossary).

    Bonded stock clears as 1210; a parcel crossing a border from China, or into it, goes as 9610
    direct mail; stock already in the buyer's country (overseas warehouse) needs no declaration.
    """
    if w["kind"] == "bonded":
        return "1210"
    if ln is not None and (w["country"] == "CN" or ln["dest_country"] == "CN"):
        return "9610"
    return None


def departure_dates(
    compiled: CompiledWave, placed: Sequence[datetime], unit_order: I64, choice: I64
) -> list[date | None]:
    """The lane departure each served unit makes (None for in-country or unserved)."""
    p = compiled.problem
    wait = p.extra["wait_days"]
    out: list[date | None] = []
    for u, opt in enumerate(choice.tolist()):
        if opt < 0 or p.opt_cap[opt] < 0:
            out.append(None)
        else:
            base = placed[int(unit_order[u])].date()
            out.append(date.fromordinal(base.toordinal() + int(wait[opt])))
    return out


def cost_of(problem: Problem, choice: I64) -> F64:
    """Cost of each unit's chosen option (its penalty when unserved)."""
    served = choice >= 0
    out = problem.unit_penalty.copy()
    out[served] = problem.opt_cost[choice[served]]
    return out
