"""Use cases: plan the open orders (reserving stock) and consolidate packed parcels into bags.

Each is ``verb(uow, command) -> result`` in one transaction: a plan, its reservations and the
order statuses commit together or not at all; a bag, its members' new state and its EPCIS
AggregationEvent likewise. Parcels are made by packing (``xborder.services.parcels``), not by
planning: a plan may still change until the order is packed.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from xborder.domain.errors import NotFound
from xborder.domain.identifiers import hub_uri
from xborder.domain.lifecycle import InvalidTransition, ParcelStatus, Step
from xborder.domain.money import minor_units
from xborder.domain.orders import OrderStatus
from xborder.domain.timezones import utc_offset
from xborder.planning.consolidation import (
    DEFAULT_LIMITS,
    OVERSIZE_LIMITS,
    awb_number,
    fill_rates,
    first_fit_decreasing,
    sscc,
)
from xborder.planning.problem import unit_reasons
from xborder.planning.solver import solve
from xborder.planning.wave import PLAN_CURRENCY, Wave, compile_wave, cost_of, departure_dates
from xborder.services.trace import ObjectSpec, capture, register_objects
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame, sscc_link

OPEN = (OrderStatus.CAPTURED.value, OrderStatus.PAID.value)
AWB_PREFIX = 999  # placeholder airline prefix for master waybills (no IATA allocation)
BAGGABLE = (ParcelStatus.PACKED.value, ParcelStatus.EXPORT_CLEARED.value)


@dataclass(frozen=True, slots=True)
class PlanFulfilment:
    """Plan the open orders in ``statuses`` (by default captured and paid: B2B orders on credit
    terms ship before payment; the simulator plans paid orders only). ``replan`` first gives
    back the plans of orders that are not packed yet and plans them again."""

    method: str = "auto"
    replan: bool = False
    statuses: tuple[str, ...] = OPEN
    order_ids: tuple[int, ...] | None = None  # only these (each must be open, else refused)


@dataclass(frozen=True, slots=True)
class PlanResult:
    plan_id: int | None
    orders: int
    assigned: int
    released: int
    cost: float
    lower_bound: float
    gap: float
    method: str
    seconds: float
    currency: str = PLAN_CURRENCY
    reasons: dict[str, int] = field(default_factory=dict)
    routes: list[dict[str, Any]] = field(default_factory=list)
    # wall seconds: read (wave + network + stock), compile, solve, store (assignments, reservations,
    # statuses); durations only, measured with perf_counter, never stored
    timings: dict[str, float] = field(default_factory=dict)


def _load_wave(
    uow: UnitOfWork, statuses: Sequence[str], only: Sequence[int] | None
) -> tuple[Wave, list[str]]:
    head = uow.planning.open_orders(statuses, only)
    lines = uow.planning.open_lines(statuses, only)
    ids = np.array([r[0] for r in head], dtype=np.int64)
    pos = np.searchsorted(ids, np.array([r[0] for r in lines], dtype=np.int64))
    wave = Wave(
        ids,
        [r[1] for r in head],
        [r[2] for r in head],
        [r[3] for r in head],
        pos.astype(np.int64),
        [r[1] for r in lines],
        np.array([r[2] for r in lines], dtype=np.int64),
    )
    return wave, [str(r[4]) for r in head]


def plan_fulfilment(uow: UnitOfWork, command: PlanFulfilment | None = None) -> PlanResult:
    """Plan every open order; reserve stock; mark the served ones planned."""
    cmd = command or PlanFulfilment()
    with uow:
        result = _plan(uow, cmd)
        uow.commit()
    return result


def _plan(uow: UnitOfWork, cmd: PlanFulfilment) -> PlanResult:
    repo = uow.planning
    released = repo.release(repo.replannable(OrderStatus.PLANNED.value)) if cmd.replan else 0
    if cmd.order_ids is not None:
        _refuse_closed(uow, cmd)
    repo.drop_unserved(cmd.statuses, cmd.order_ids)
    t_read = time.perf_counter()
    wave, statuses = _load_wave(uow, cmd.statuses, cmd.order_ids)
    if wave.order_ids.size == 0:
        return PlanResult(None, 0, 0, released, 0.0, 0.0, 0.0, cmd.method, 0.0)
    rows = repo.network()
    stock = repo.available_stock()
    t_compile = time.perf_counter()
    currencies = {str(r["currency"]) for t in ("lanes", "last_mile") for r in rows[t]}
    currencies |= {str(r["handling_currency"]) for r in rows["warehouses"]}
    digits = {c: minor_units(c) for c in currencies | {PLAN_CURRENCY}}
    now = uow.clock.now()
    compiled = compile_wave(
        wave, rows["warehouses"], rows["lanes"], rows["last_mile"], rows["products"],
        stock, rows["fx_rates"], digits, now.date(),
    )  # fmt: skip
    problem = compiled.problem
    t_solve = time.perf_counter()
    plan = solve(problem, cmd.method)
    t_store = time.perf_counter()
    choice = plan.choice  # stored orders never split: unit == order
    reasons = unit_reasons(problem, choice)
    deps = departure_dates(compiled, wave.placed_at, problem.unit_order, choice)
    costs = cost_of(problem, choice)
    scale = 10 ** digits[PLAN_CURRENCY]
    run_id = repo.add_run({
        "created_at": now, "method": plan.method, "orders": int(wave.order_ids.size),
        "assigned": int((choice >= 0).sum()), "cost_minor": round(plan.cost * scale),
        "lower_bound_minor": round(plan.lower_bound * scale), "currency": PLAN_CURRENCY,
        "gap": plan.gap, "seconds": plan.seconds,
    })  # fmt: skip
    assign_rows: list[dict[str, Any]] = []
    served_ids: list[int] = []
    for u, opt in enumerate(choice.tolist()):
        oid = int(wave.order_ids[u])
        info = compiled.routes[int(problem.opt_route[opt])] if opt >= 0 else None
        if info is not None:
            served_ids.append(oid)
        assign_rows.append({
            "order_id": oid, "plan_id": run_id,
            "warehouse_id": info.warehouse if info else None,
            "lane_id": info.lane if info else None,
            "last_mile_id": info.last_mile if info else None,
            "customs_mode": info.customs_mode if info else None,
            "departure_date": deps[u] if info else None,
            "cost_minor": round(costs[u] * scale), "currency": PLAN_CURRENCY,
            "reason": None if info else reasons[u], "prior_status": statuses[u],
        })  # fmt: skip
    reserve: dict[tuple[int, str, str], int] = defaultdict(int)
    line_orders = problem.unit_order[problem.line_unit]
    for line in np.flatnonzero(choice[problem.line_unit] >= 0).tolist():
        opt = int(choice[int(problem.line_unit[line])])
        key = (
            int(wave.order_ids[int(line_orders[line])]),
            compiled.warehouses[int(problem.opt_source[opt])],
            compiled.skus[int(problem.line_sku[line])],
        )
        reserve[key] += int(problem.line_qty[line])
    repo.add_assignments(assign_rows)
    repo.reserve([(o, w, s, q) for (o, w, s), q in reserve.items()])
    uow.orders.set_status(served_ids, OrderStatus.PLANNED)
    route_counts = Counter(
        (r["warehouse_id"], r["lane_id"]) for r in assign_rows if r["warehouse_id"]
    )
    timings = {"read_s": t_compile - t_read, "compile_s": t_solve - t_compile,
               "solve_s": t_store - t_solve, "store_s": time.perf_counter() - t_store}  # fmt: skip
    return PlanResult(
        run_id, int(wave.order_ids.size), len(served_ids), released, plan.cost,
        plan.lower_bound, plan.gap, plan.method, plan.seconds, PLAN_CURRENCY,
        dict(Counter(r for r in reasons if r)),
        [{"warehouse": w, "lane": ln or "(in-country)", "orders": n}
         for (w, ln), n in route_counts.most_common()], timings,
    )  # fmt: skip


def _refuse_closed(uow: UnitOfWork, cmd: PlanFulfilment) -> None:
    """Naming an order that is not open (cancelled, already planned or shipped) is refused."""
    statuses = uow.orders.statuses(list(cmd.order_ids or ()))
    for oid in sorted(set(cmd.order_ids or ())):
        if oid not in statuses:
            raise NotFound(f"order {oid} does not exist")
        if statuses[oid] not in cmd.statuses:
            raise InvalidTransition(f"order {oid}", statuses[oid], "planning", cmd.statuses)


# --- consolidation --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Consolidate:
    """Bag every packed parcel that has a lane and no bag, per lane departure; with
    ``departing_by`` only departures on or before that day (the simulator bags a day's
    departures at their cut-off)."""

    departing_by: date | None = None
    # Parcels handed to the carrier loose, one per shipment (no consolidation by the platform):
    # the siloed way, which the simulator compares against.
    one_per_bag: bool = False


@dataclass(frozen=True, slots=True)
class ConsolidationResult:
    consolidations: int
    parcels: int
    mean_fill_rate: float
    events: int
    lanes: list[dict[str, Any]] = field(default_factory=list)
    bag_ids: list[str] = field(default_factory=list)


def consolidate(uow: UnitOfWork, command: Consolidate | None = None) -> ConsolidationResult:
    """Pack parcels of each lane departure into master bags, containers or pallets (ULDs).

    The bag, its members' move to ``consolidated`` and the EPCIS AggregationEvent (ADD, bizStep
    packing, captured and signed by the lane's carrier) are one transaction."""
    cmd = command or Consolidate()
    with uow:
        result = _consolidate(uow, cmd)
        uow.commit()
    return result


def _consolidate(uow: UnitOfWork, cmd: Consolidate) -> ConsolidationResult:
    now = uow.clock.now()
    rows = [
        r for r in uow.parcels.unbagged(BAGGABLE)
        if cmd.departing_by is None or r[2] is None or r[2] <= cmd.departing_by
    ]  # fmt: skip
    groups: dict[tuple[str, date], list[Any]] = defaultdict(list)
    for r in rows:
        groups[(str(r[1]), r[2])].append(r)
    seq = uow.parcels.last_bag_serial()
    con_rows: list[dict[str, Any]] = []
    members: dict[str, list[dict[str, Any]]] = {}
    carriers: dict[str, str] = {}
    per_lane: dict[str, list[float]] = defaultdict(list)
    for (lane_id, dep), group in sorted(groups.items(), key=lambda g: (g[0][0], str(g[0][1]))):
        base = DEFAULT_LIMITS.get(str(group[0][6]), DEFAULT_LIMITS["air"])
        gw = np.array([float(i[3]) for i in group])
        gv = np.array([float(i[4]) for i in group])
        small = (gw <= base.max_kg) & (gv <= base.max_cm3)
        # parcels too big for a bag travel on a pallet (ULD) of the same departure
        for limits, pick in ((base, small), (OVERSIZE_LIMITS, ~small)):
            if not pick.any():
                continue
            items = [group[i] for i in np.flatnonzero(pick).tolist()]
            w, v = gw[pick], gv[pick]
            bins = np.arange(w.size) if cmd.one_per_bag else first_fit_decreasing(w, v, limits)
            fills = fill_rates(w, v, bins, limits)
            for b in range(int(bins.max()) + 1):
                seq += 1
                inside = np.flatnonzero(bins == b)
                cid = f"CON{seq:09d}"
                air = limits.kind in ("bag", "uld")
                con_rows.append({
                    "id": cid, "kind": limits.kind, "lane_id": lane_id,
                    "departure_date": dep or now.date(),
                    "master_waybill": awb_number(AWB_PREFIX, seq % 10**7) if air
                    else f"MBL{seq:010d}",
                    "sscc": sscc(seq, extension=1), "max_kg": limits.max_kg,
                    "max_cm3": limits.max_cm3, "gross_kg": round(float(w[inside].sum()), 3),
                    "volume_cm3": round(float(v[inside].sum()), 1), "parcels": int(inside.size),
                    "fill_rate": float(fills[b]), "created_at": now,
                    "status": ParcelStatus.CONSOLIDATED.value, "status_at": now,
                    "opened_at": None,
                })  # fmt: skip
                members[cid] = [
                    {"id": items[i][0], "sscc": items[i][5], "tracking_no": items[i][8],
                     "order_id": int(items[i][9])}
                    for i in inside.tolist()
                ]  # fmt: skip
                carriers[cid] = str(items[0][7])
                per_lane[lane_id].append(float(fills[b]))
    if not con_rows:
        return ConsolidationResult(0, 0, 0.0, 0)
    uow.parcels.add_bags(con_rows, [(p["id"], cid) for cid, ps in members.items() for p in ps])
    uow.parcels.set_states([
        {"id": p["id"], "status": ParcelStatus.CONSOLIDATED.value, "status_at": now}
        for ps in members.values() for p in ps
    ])  # fmt: skip
    events = _aggregations(uow, con_rows, members, carriers)
    fills_all = [c["fill_rate"] for c in con_rows]
    return ConsolidationResult(
        len(con_rows), sum(len(p) for p in members.values()), float(np.mean(fills_all)), events,
        [{"lane": ln, "consolidations": len(f), "mean_fill_rate": round(float(np.mean(f)), 3)}
         for ln, f in sorted(per_lane.items())],
        [c["id"] for c in con_rows],
    )  # fmt: skip


def _aggregations(
    uow: UnitOfWork, con_rows: list[dict[str, Any]], members: dict[str, list[dict[str, Any]]],
    carriers: dict[str, str],
) -> int:  # fmt: skip
    """Each packing as an EPCIS AggregationEvent (ADD, bizStep packing) on the bag's SSCC."""
    now = uow.clock.now()
    specs = [
        ObjectSpec(key=sscc_link(c["sscc"]), kind="bag", sscc=c["sscc"], lane=c["lane_id"],
                   participants=(carriers[c["id"]],))
        for c in con_rows
    ]  # fmt: skip
    hubs = {lid: lane for lid, lane in uow.parcels.route_parties()["lanes"].items()}
    events = [
        {"object_key": sscc_link(c["sscc"]), "step": Step.CONSOLIDATED.value, "event_time": now,
         "tz_offset": utc_offset(hubs[c["lane_id"]]["origin_country"], now),
         "party_id": carriers[c["id"]],
         "read_point": hub_uri(hubs[c["lane_id"]]["origin_hub"]),
         "children": [sscc_link(p["sscc"]) for p in members[c["id"]]]}
        for c in con_rows
    ]  # fmt: skip
    register_objects(uow, specs)
    return capture(uow, capture_frame(events)).events


def plan_instance(raw: dict[str, Any], method: str = "auto") -> dict[str, Any]:
    """Plan a standalone JSON instance (``docs/planning.md``); pure, no store."""
    from xborder.planning.instance import Instance, compile_instance, plan_report

    inst = Instance.parse(raw)
    problem = compile_instance(inst)
    return plan_report(inst, problem, solve(problem, method))
