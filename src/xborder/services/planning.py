"""Use cases: plan the store's open orders (reserving stock) and consolidate planned parcels.

Each runs in one unit of work: the plan, its reservations (``inventory.reserved`` with its CHECK
reserved <= on_hand), the parcels and the order statuses commit together or not at all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from xborder.domain.errors import Conflict
from xborder.domain.money import minor_units
from xborder.domain.orders import OrderStatus
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
from xborder.store.schema import (
    fx_rates,
    inventory,
    lanes,
    last_mile,
    order_lines,
    orders,
    products,
    warehouses,
)
from xborder.store.schema_planning import (
    consolidations,
    inventory_reservations,
    parcels,
    plan_assignments,
    plan_runs,
)
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame, sscc_link
from xborder.trace.lifecycle import Step
from xborder.trace.signing import KeyStore

OPEN = (OrderStatus.CAPTURED.value, OrderStatus.PAID.value)
CHUNK = 400
AWB_PREFIX = 999  # placeholder airline prefix for master waybills (no IATA allocation)


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


def _chunks(items: Sequence[int]) -> list[list[int]]:
    return [list(items[i : i + CHUNK]) for i in range(0, len(items), CHUNK)]


def release(conn: Connection, order_ids: Sequence[int]) -> int:
    """Give planned orders' reserved stock back and drop their plan (not once consolidated)."""
    released = 0
    for chunk in _chunks(order_ids):
        rows = conn.execute(
            select(
                inventory_reservations.c.warehouse_id,
                inventory_reservations.c.sku,
                func.sum(inventory_reservations.c.qty),
            )
            .where(inventory_reservations.c.order_id.in_(chunk))
            .group_by(inventory_reservations.c.warehouse_id, inventory_reservations.c.sku)
        ).all()
        if rows:
            conn.execute(
                update(inventory)
                .where(
                    and_(
                        inventory.c.warehouse_id == bindparam("w"),
                        inventory.c.sku == bindparam("s"),
                    )
                )
                .values(reserved=inventory.c.reserved - bindparam("q")),
                [{"w": w, "s": s, "q": int(q)} for w, s, q in rows],
            )
        prior = conn.execute(
            select(plan_assignments.c.order_id, plan_assignments.c.prior_status).where(
                plan_assignments.c.order_id.in_(chunk)
            )
        ).all()
        conn.execute(
            delete(inventory_reservations).where(inventory_reservations.c.order_id.in_(chunk))
        )
        conn.execute(delete(parcels).where(parcels.c.order_id.in_(chunk)))
        conn.execute(delete(plan_assignments).where(plan_assignments.c.order_id.in_(chunk)))
        if prior:
            conn.execute(
                update(orders)
                .where(orders.c.id == bindparam("oid"))
                .values(status=bindparam("st")),
                [{"oid": int(o), "st": st} for o, st in prior],
            )
        released += len(chunk)
    return released


def _replannable(conn: Connection) -> list[int]:
    """Planned orders whose parcel has not been consolidated yet."""
    consolidated = select(parcels.c.order_id).where(parcels.c.consolidation_id.is_not(None))
    query = (
        select(orders.c.id)
        .where(orders.c.status == OrderStatus.PLANNED.value)
        .where(orders.c.id.not_in(consolidated))
        .order_by(orders.c.id)
    )
    return [int(r[0]) for r in conn.execute(query)]


def _load_wave(conn: Connection) -> tuple[Wave, list[str]]:
    head = conn.execute(
        select(
            orders.c.id,
            orders.c.consignee_country,
            orders.c.placed_at,
            orders.c.promised_by,
            orders.c.status,
        )
        .where(orders.c.status.in_(OPEN))
        .order_by(orders.c.id)
    ).all()
    lines = conn.execute(
        select(order_lines.c.order_id, order_lines.c.sku, order_lines.c.qty)
        .join(orders, orders.c.id == order_lines.c.order_id)
        .where(orders.c.status.in_(OPEN))
        .order_by(order_lines.c.order_id, order_lines.c.line_no)
    ).all()
    ids = np.array([int(r[0]) for r in head], dtype=np.int64)
    pos = np.searchsorted(ids, np.array([int(r[0]) for r in lines], dtype=np.int64))
    placed = [r[2] if r[2].tzinfo else r[2].replace(tzinfo=UTC) for r in head]
    wave = Wave(
        ids,
        [str(r[1]) for r in head],
        [p.astimezone(UTC) for p in placed],
        [r[3] for r in head],
        pos.astype(np.int64),
        [str(r[1]) for r in lines],
        np.array([int(r[2]) for r in lines], dtype=np.int64),
    )
    return wave, [str(r[4]) for r in head]


def plan_fulfilment(
    uow: UnitOfWork, method: str = "auto", replan: bool = False, now: datetime | None = None
) -> PlanResult:
    """Plan every open order (captured or paid); reserve stock; mark the served ones planned.

    ``replan`` first releases planned orders that are not consolidated yet and plans them again.
    """
    conn = uow.connection
    released = release(conn, _replannable(conn)) if replan else 0
    # open orders left unplanned by an earlier run: their old "why not" rows make way
    open_ids = select(orders.c.id).where(orders.c.status.in_(OPEN))
    conn.execute(delete(plan_assignments).where(plan_assignments.c.order_id.in_(open_ids)))
    wave, statuses = _load_wave(conn)
    if wave.order_ids.size == 0:
        return PlanResult(None, 0, 0, released, 0.0, 0.0, 0.0, method, 0.0)
    rows = {
        t.name: [dict(r._mapping) for r in conn.execute(select(t))]
        for t in (warehouses, lanes, last_mile, products, fx_rates)
    }
    available = {
        (str(r[0]), str(r[1])): int(r[2])
        for r in conn.execute(
            select(
                inventory.c.warehouse_id,
                inventory.c.sku,
                inventory.c.on_hand - inventory.c.reserved,
            )
        )
    }
    currencies = {str(r["currency"]) for t in ("lanes", "last_mile") for r in rows[t]}
    currencies |= {str(r["handling_currency"]) for r in rows["warehouses"]}
    digits = {c: minor_units(c) for c in currencies | {PLAN_CURRENCY}}
    wave_day = (now or max(wave.placed_at)).date()
    compiled = compile_wave(
        wave,
        rows["warehouses"],
        rows["lanes"],
        rows["last_mile"],
        rows["products"],
        available,
        rows["fx_rates"],
        digits,
        wave_day,
    )
    problem = compiled.problem
    plan = solve(problem, method)
    choice = plan.choice  # stored orders never split: unit == order
    reasons = unit_reasons(problem, choice)
    deps = departure_dates(compiled, wave.placed_at, problem.unit_order, choice)
    costs = cost_of(problem, choice)
    scale = 10 ** digits[PLAN_CURRENCY]
    run = conn.execute(
        insert(plan_runs).values(
            created_at=now or datetime.now(UTC),
            method=plan.method,
            orders=int(wave.order_ids.size),
            assigned=int((choice >= 0).sum()),
            cost_minor=round(plan.cost * scale),
            lower_bound_minor=round(plan.lower_bound * scale),
            currency=PLAN_CURRENCY,
            gap=plan.gap,
            seconds=plan.seconds,
        )
    ).inserted_primary_key
    if run is None:
        raise RuntimeError("the store returned no id for the plan run")
    run_id = int(run[0])

    assign_rows: list[dict[str, Any]] = []
    parcel_rows: list[dict[str, Any]] = []
    reserve: dict[tuple[int, str, str], int] = defaultdict(int)
    served_ids: list[int] = []
    line_orders = problem.unit_order[problem.line_unit]
    for u, opt in enumerate(choice.tolist()):
        oid = int(wave.order_ids[u])
        if opt < 0:
            assign_rows.append(
                {
                    "order_id": oid,
                    "plan_id": run_id,
                    "warehouse_id": None,
                    "lane_id": None,
                    "last_mile_id": None,
                    "customs_mode": None,
                    "departure_date": None,
                    "cost_minor": round(costs[u] * scale),
                    "currency": PLAN_CURRENCY,
                    "reason": reasons[u],
                    "prior_status": statuses[u],
                }
            )
            continue
        info = compiled.routes[int(problem.opt_route[opt])]
        served_ids.append(oid)
        assign_rows.append(
            {
                "order_id": oid,
                "plan_id": run_id,
                "warehouse_id": info.warehouse,
                "lane_id": info.lane,
                "last_mile_id": info.last_mile,
                "customs_mode": info.customs_mode,
                "departure_date": deps[u],
                "cost_minor": round(costs[u] * scale),
                "currency": PLAN_CURRENCY,
                "reason": None,
                "prior_status": statuses[u],
            }
        )
        parcel_rows.append(
            {
                "id": f"PCL{oid:012d}",
                "order_id": oid,
                "sscc": sscc(oid),
                "tracking_no": f"XB{oid:012d}",
                "gross_kg": round(float(problem.unit_weight[u]), 3),
                "volume_cm3": round(float(problem.extra["unit_volume"][u]), 1),
                "warehouse_id": info.warehouse,
                "lane_id": info.lane,
                "departure_date": deps[u],
                "status": "packed",
                "consolidation_id": None,
            }
        )
    for line in np.flatnonzero(choice[problem.line_unit] >= 0).tolist():
        u = int(problem.line_unit[line])
        opt = int(choice[u])
        key = (
            int(wave.order_ids[int(line_orders[line])]),
            compiled.warehouses[int(problem.opt_source[opt])],
            compiled.skus[int(problem.line_sku[line])],
        )
        reserve[key] += int(problem.line_qty[line])
    conn.execute(insert(plan_assignments), assign_rows)
    if reserve:
        conn.execute(
            insert(inventory_reservations),
            [
                {"order_id": o, "warehouse_id": w, "sku": s, "qty": q}
                for (o, w, s), q in reserve.items()
            ],
        )
        per_stock: dict[tuple[str, str], int] = defaultdict(int)
        for (_o, w, s), q in reserve.items():
            per_stock[(w, s)] += q
        try:
            conn.execute(
                update(inventory)
                .where(
                    and_(
                        inventory.c.warehouse_id == bindparam("w"),
                        inventory.c.sku == bindparam("s"),
                    )
                )
                .values(reserved=inventory.c.reserved + bindparam("q")),
                [{"w": w, "s": s, "q": q} for (w, s), q in per_stock.items()],
            )
        except IntegrityError:
            raise Conflict(
                "stock changed while planning: reservations would exceed on_hand; plan again"
            ) from None
    if parcel_rows:
        conn.execute(insert(parcels), parcel_rows)
    uow.orders.set_status(served_ids, OrderStatus.PLANNED)
    route_counts = Counter(
        (r["warehouse_id"], r["lane_id"]) for r in assign_rows if r["warehouse_id"]
    )
    return PlanResult(
        run_id,
        int(wave.order_ids.size),
        len(served_ids),
        released,
        plan.cost,
        plan.lower_bound,
        plan.gap,
        plan.method,
        plan.seconds,
        PLAN_CURRENCY,
        dict(Counter(r for r in reasons if r)),
        [
            {"warehouse": w, "lane": ln or "(in-country)", "orders": n}
            for (w, ln), n in route_counts.most_common()
        ],
    )


@dataclass(frozen=True, slots=True)
class ConsolidationResult:
    consolidations: int
    parcels: int
    mean_fill_rate: float
    events: int
    lanes: list[dict[str, Any]] = field(default_factory=list)


def consolidate(
    uow: UnitOfWork, now: datetime | None = None, keys: KeyStore | None = None, trace: bool = True
) -> ConsolidationResult:
    """Pack every unconsolidated parcel of each lane departure into master bags or containers.

    With ``trace`` the packing goes to the trace ledger as aggregation events (same transaction).
    """
    conn = uow.connection
    now = now or datetime.now(UTC)
    rows = conn.execute(
        select(
            parcels.c.id,
            parcels.c.lane_id,
            parcels.c.departure_date,
            parcels.c.gross_kg,
            parcels.c.volume_cm3,
            parcels.c.sscc,
            lanes.c.mode,
            lanes.c.carrier_id,
            parcels.c.tracking_no,
            parcels.c.order_id,
        )
        .join(lanes, lanes.c.id == parcels.c.lane_id)
        .where(parcels.c.consolidation_id.is_(None), parcels.c.lane_id.is_not(None))
        .order_by(parcels.c.lane_id, parcels.c.departure_date, parcels.c.id)
    ).all()
    groups: dict[tuple[str, date], list[Any]] = defaultdict(list)
    for r in rows:
        groups[(str(r[1]), r[2])].append(r)
    seq = int(conn.execute(select(func.count()).select_from(consolidations)).scalar_one())
    con_rows: list[dict[str, Any]] = []
    members: dict[str, list[dict[str, Any]]] = {}
    carriers: dict[str, str] = {}
    per_lane: dict[str, list[float]] = defaultdict(list)
    for (lane_id, dep), group in sorted(groups.items()):
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
            bins = first_fit_decreasing(w, v, limits)
            fills = fill_rates(w, v, bins, limits)
            for b in range(int(bins.max()) + 1):
                seq += 1
                inside = np.flatnonzero(bins == b)
                cid = f"CON{seq:09d}"
                air = limits.kind in ("bag", "uld")
                mwb = awb_number(AWB_PREFIX, seq % 10**7) if air else f"MBL{seq:010d}"
                con_rows.append(
                    {
                        "id": cid,
                        "kind": limits.kind,
                        "lane_id": lane_id,
                        "departure_date": dep,
                        "master_waybill": mwb,
                        "sscc": sscc(seq, extension=1),
                        "max_kg": limits.max_kg,
                        "max_cm3": limits.max_cm3,
                        "gross_kg": round(float(w[inside].sum()), 3),
                        "volume_cm3": round(float(v[inside].sum()), 1),
                        "parcels": int(inside.size),
                        "fill_rate": float(fills[b]),
                        "created_at": now,
                    }
                )
                members[cid] = [
                    {
                        "id": items[i][0],
                        "sscc": items[i][5],
                        "tracking_no": items[i][8],
                        "order_id": int(items[i][9]),
                    }
                    for i in inside.tolist()
                ]
                carriers[cid] = str(items[0][7])
                per_lane[lane_id].append(float(fills[b]))
    if con_rows:
        conn.execute(insert(consolidations), con_rows)
        conn.execute(
            update(parcels)
            .where(parcels.c.id == bindparam("pid"))
            .values(consolidation_id=bindparam("cid"), status="consolidated"),
            [{"pid": p["id"], "cid": cid} for cid, ps in members.items() for p in ps],
        )
    events = 0
    if trace and con_rows:
        events = emit_aggregations(
            uow, [{**c, "carrier": carriers[c["id"]]} for c in con_rows], members, keys, now
        )
    fills_all = [c["fill_rate"] for c in con_rows]
    return ConsolidationResult(
        len(con_rows),
        sum(len(p) for p in members.values()),
        float(np.mean(fills_all)) if fills_all else 0.0,
        events,
        [
            {"lane": ln, "consolidations": len(f), "mean_fill_rate": round(float(np.mean(f)), 3)}
            for ln, f in sorted(per_lane.items())
        ],
    )


def emit_aggregations(
    uow: UnitOfWork,
    con_rows: list[dict[str, Any]],
    members: dict[str, list[dict[str, Any]]],
    keys: KeyStore | None = None,
    now: datetime | None = None,
) -> int:
    """Record each packing as an EPCIS AggregationEvent (ADD, bizStep packing) in the trace ledger.

    Registers the bags and parcels by their SSCC Digital Links first (idempotent); the lane's
    carrier captures and signs the events. Returns the number of events written.
    """
    if not con_rows:
        return 0
    specs: list[ObjectSpec] = []
    events: list[dict[str, Any]] = []
    at = now or datetime.now(UTC)
    for c in con_rows:
        carrier = str(c["carrier"])
        specs.append(
            ObjectSpec(
                key=sscc_link(c["sscc"]),
                kind="bag",
                sscc=c["sscc"],
                lane=c["lane_id"],
                participants=(carrier,),
            )
        )
        kids = members[c["id"]]
        specs.extend(
            ObjectSpec(
                key=sscc_link(p["sscc"]),
                kind="parcel",
                sscc=p["sscc"],
                tracking_no=p["tracking_no"],
                order_id=p["order_id"],
                lane=c["lane_id"],
                participants=(carrier,),
            )
            for p in kids
        )
        events.append(
            {
                "object_key": sscc_link(c["sscc"]),
                "step": Step.CONSOLIDATED.value,
                "event_time": at,
                "tz_offset": "+00:00",
                "party_id": carrier,
                "children": [sscc_link(p["sscc"]) for p in kids],
            }
        )
    register_objects(uow, specs)
    return capture(uow, capture_frame(events), keys).events
