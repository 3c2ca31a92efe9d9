"""Planning against the store (SQLite and PostgreSQL): reservations, statuses, re-planning."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from xborder.domain.clock import SettableClock
from xborder.domain.errors import Conflict
from xborder.domain.lifecycle import InvalidTransition
from xborder.planning.consolidation import DEFAULT_LIMITS, sscc_valid
from xborder.services.parcels import PackOrders, pack_orders
from xborder.services.planning import PlanFulfilment, consolidate, plan_fulfilment
from xborder.store.schema import (
    hubs,
    inventory,
    lanes,
    last_mile,
    order_lines,
    orders,
    parties,
    products,
    warehouses,
)
from xborder.store.schema_planning import (
    consolidations,
    inventory_reservations,
    parcels,
    plan_assignments,
)
from xborder.store.schema_trace import trace_events
from xborder.store.uow import UnitOfWork
from xborder.trace.signing import KeyStore

PLACED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # a Tuesday, before the 18:00 cut-off
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _uow(engine: Engine, keys: Path | None = None) -> UnitOfWork:
    return UnitOfWork(engine, SettableClock(NOW), KeyStore(keys) if keys else None)


def _world(conn: Any, stock: dict[tuple[str, str], int]) -> None:
    conn.execute(
        insert(parties),
        [
            {"id": "seller", "name": "S", "roles": "seller", "country": "CN"},
            {"id": "op", "name": "O", "roles": "warehouse_operator", "country": "CN"},
            {"id": "air", "name": "A", "roles": "logistics_provider", "country": "CN"},
            {"id": "post", "name": "P", "roles": "last_mile_carrier", "country": "DE"},
        ],
    )
    conn.execute(
        insert(hubs),
        [
            {"id": "h-cn", "name": "SZX", "country": "CN"},
            {"id": "h-de", "name": "LEJ", "country": "DE"},
        ],
    )
    conn.execute(
        insert(products),
        [
            {
                "sku": sku,
                "name": sku,
                "category": "x",
                "hs_code": "851713",
                "origin": "CN",
                "seller_id": "seller",
                "unit_value_minor": 10000,
                "currency": "CNY",
                "net_weight_kg": 0.9,
                "gross_weight_kg": 1.0,
                # B is bulky: 100 x 50 x 51 cm = 0.255 m3, more than a 0.25 m3 master bag
                "length_cm": 20 if sku == "A" else 100,
                "width_cm": 10 if sku == "A" else 50,
                "height_cm": 5 if sku == "A" else 51,
                "consumption_tax": False,
            }
            for sku in ("A", "B")
        ],
    )
    conn.execute(
        insert(warehouses),
        [
            {
                "id": wid,
                "name": wid,
                "kind": kind,
                "country": c,
                "operator_id": "op",
                "hub_id": hub,
                "capacity_units": 10_000,
                "handling_minor": 300,
                "handling_currency": "CNY",
            }
            for wid, kind, c, hub in (
                ("wh-cn", "domestic", "CN", "h-cn"),
                ("wh-de", "overseas", "DE", "h-de"),
            )
        ],
    )
    conn.execute(
        insert(inventory),
        [{"warehouse_id": w, "sku": s, "on_hand": q, "reserved": 0} for (w, s), q in stock.items()],
    )
    conn.execute(
        insert(lanes),
        [
            {
                "id": "ln-air",
                "name": "air",
                "mode": "air",
                "carrier_id": "air",
                "origin_hub": "h-cn",
                "dest_country": "DE",
                "dest_hub": "h-de",
                "per_kg_minor": 4000,
                "per_parcel_minor": 1000,
                "minimum_minor": 0,
                "currency": "CNY",
                "volumetric_divisor": 6000,
                "transit_mean_days": 5.0,
                "transit_p95_days": 8.0,
                "daily_capacity_kg": 6,
                "departure_days": "Mon,Tue,Thu",
                "cutoff": "18:00",
                "loss_rate": 0.001,
                "damage_rate": 0.001,
                "max_parcel_kg": 30,
                "source": "test",
            }
        ],
    )
    conn.execute(
        insert(last_mile),
        [
            {
                "id": "lm-de",
                "name": "post",
                "carrier_id": "post",
                "country": "DE",
                "per_parcel_minor": 2000,
                "per_kg_minor": 100,
                "currency": "CNY",
                "transit_mean_days": 1.5,
                "transit_p95_days": 3.0,
                "on_time_rate": 0.9,
                "first_attempt_rate": 0.9,
                "damage_rate": 0.001,
                "loss_rate": 0.001,
                "source": "test",
            }
        ],
    )


def _orders(conn: Any, n: int, status: str = "paid", sku: str = "A") -> None:
    base = {
        "channel": "shop",
        "seller_id": "seller",
        "trade_mode": "B2C",
        "direction": "export",
        "incoterm": "DDP",
        "currency": "EUR",
        "origin_country": "CN",
        "buyer_name": "B",
        "buyer_telephone": "1",
        "consignee_name": "B",
        "consignee_telephone": "1",
        "consignee_line1": "x",
        "consignee_city": "Berlin",
        "consignee_postcode": "10115",
        "consignee_country": "DE",
        "freight_minor": 0,
        "insurance_minor": 0,
        "discount_minor": 0,
        "goods_minor": 1000,
        "line_count": 1,
        "placed_at": PLACED,
        "promised_by": date(2026, 12, 2),
        "status": status,
    }
    conn.execute(
        insert(orders), [{**base, "id": i, "external_id": f"e{i}"} for i in range(1, n + 1)]
    )
    conn.execute(
        insert(order_lines),
        [
            {
                "order_id": i,
                "line_no": 1,
                "sku": sku,
                "description": "a",
                "hs_code": "851713",
                "qty": 1,
                "unit_price_minor": 1000,
                "origin_country": "CN",
            }
            for i in range(1, n + 1)
        ],
    )


def _reserved(conn: Any) -> dict[tuple[str, str], tuple[int, int]]:
    rows = conn.execute(
        select(inventory.c.warehouse_id, inventory.c.sku, inventory.c.on_hand, inventory.c.reserved)
    )
    return {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}


def test_plan_reserves_stock_and_replanning_releases_it(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _world(uow.connection, {("wh-cn", "A"): 10, ("wh-de", "A"): 2})
        _orders(uow.connection, 8)
        uow.commit()
    result = plan_fulfilment(_uow(engine), PlanFulfilment(method="mip"))
    assert result.orders == 8
    # in-country stock serves 2; the air lane takes at most 6 kg (1 kg parcels) -> 6; total 8
    assert result.assigned == 8 and result.lower_bound <= result.cost + 1e-6
    # the benchmark reports reading the wave and storing the plan apart from the solve
    assert set(result.timings) == {"read_s", "compile_s", "solve_s", "store_s"}
    assert all(v >= 0 for v in result.timings.values())
    with UnitOfWork(engine) as uow:
        c = uow.connection
        stock = _reserved(c)
        assert stock[("wh-de", "A")] == (2, 2) and stock[("wh-cn", "A")] == (10, 6)
        res = c.execute(select(inventory_reservations)).all()
        assert sum(int(r.qty) for r in res) == 8
        statuses = {r[0] for r in c.execute(select(orders.c.status))}
        assert statuses == {"planned"}
        deps = {
            r[0]
            for r in c.execute(
                select(plan_assignments.c.departure_date).where(
                    plan_assignments.c.lane_id == "ln-air"
                )
            )
        }
        assert deps == {date(2026, 11, 24)}  # Tuesday, before the cut-off
        assert c.execute(select(parcels)).first() is None  # parcels are made by packing

    # re-planning releases every unconsolidated reservation and books it again, never twice
    again = plan_fulfilment(_uow(engine), PlanFulfilment(method="mip", replan=True))
    assert again.released == 8 and again.assigned == 8
    with UnitOfWork(engine) as uow:
        assert _reserved(uow.connection)[("wh-cn", "A")] == (10, 6)

    # the lane shrinks: a re-plan serves fewer, gives their stock back and says why
    with UnitOfWork(engine) as uow:
        uow.connection.execute(update(lanes).values(daily_capacity_kg=3))
        uow.commit()
    third = plan_fulfilment(_uow(engine), PlanFulfilment(method="mip", replan=True))
    assert third.assigned == 5 and sum(third.reasons.values()) == 3
    with UnitOfWork(engine) as uow:
        stock = _reserved(uow.connection)
        assert stock[("wh-cn", "A")] == (10, 3) and stock[("wh-de", "A")] == (2, 2)
        open_ = [r[0] for r in uow.connection.execute(select(orders.c.status))]
        assert open_.count("paid") == 3


def test_the_store_refuses_reservations_beyond_on_hand(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _world(uow.connection, {("wh-cn", "A"): 1})
        uow.commit()
    with UnitOfWork(engine) as uow, pytest.raises(IntegrityError):
        uow.connection.execute(update(inventory).values(reserved=2))


def test_consolidation_packs_each_departure_within_limits(engine: Engine, tmp_path: Path) -> None:
    with UnitOfWork(engine) as uow:
        _world(uow.connection, {("wh-cn", "A"): 10})
        _orders(uow.connection, 6)
        uow.commit()
    plan_fulfilment(_uow(engine))
    packed = pack_orders(_uow(engine, tmp_path))
    assert packed.parcels == 6 and packed.events == 12  # order placed + packed, per parcel
    with UnitOfWork(engine) as uow:  # packing took the units off the shelf
        assert _reserved(uow.connection)[("wh-cn", "A")] == (4, 0)
        assert all(sscc_valid(r[0]) for r in uow.connection.execute(select(parcels.c.sscc)))
    result = consolidate(_uow(engine, tmp_path))
    assert result.parcels == 6 and result.consolidations == 1
    assert result.events == 1  # one AggregationEvent in the trace ledger
    with UnitOfWork(engine) as uow:
        c = uow.connection
        bag = c.execute(select(consolidations)).one()
        assert float(bag.gross_kg) <= DEFAULT_LIMITS["air"].max_kg
        assert sscc_valid(bag.sscc) and bag.departure_date == date(2026, 11, 24)
        assert bag.fill_rate == pytest.approx(6.0 / 30.0)
        inside = c.execute(
            select(parcels.c.status, parcels.c.departure_date).where(
                parcels.c.consolidation_id == bag.id
            )
        ).all()
        assert len(inside) == 6 and {r[0] for r in inside} == {"consolidated"}
        assert {r[1] for r in inside} == {bag.departure_date}
        kinds = [r.event_type for r in c.execute(select(trace_events))]
        assert kinds.count("AggregationEvent") == 1 and len(kinds) == 13
    assert consolidate(_uow(engine, tmp_path)).consolidations == 0  # nothing left
    with pytest.raises(Conflict, match="packing refused"):  # packed already: refused
        pack_orders(_uow(engine, tmp_path), PackOrders((1,)))


def test_parcels_too_big_for_a_bag_go_on_a_pallet(engine: Engine, tmp_path: Path) -> None:
    with UnitOfWork(engine) as uow:
        _world(uow.connection, {("wh-cn", "B"): 5})
        _orders(uow.connection, 2, sku="B")
        uow.commit()
    plan = plan_fulfilment(_uow(engine))
    pack_orders(_uow(engine, tmp_path))
    result = consolidate(_uow(engine, tmp_path))
    assert plan.assigned == 2 and result.parcels == 2
    with UnitOfWork(engine) as uow:
        rows = uow.connection.execute(select(consolidations.c.kind, consolidations.c.parcels)).all()
    assert [(r[0], r[1]) for r in rows] == [("uld", 2)]


def test_planning_named_orders_refuses_one_that_is_not_open(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _world(uow.connection, {("wh-cn", "A"): 10})
        _orders(uow.connection, 3)
        uow.connection.execute(update(orders).where(orders.c.id == 2).values(status="cancelled"))
        uow.commit()
    with pytest.raises(InvalidTransition, match="order 2: planning is not allowed when cancelled"):
        plan_fulfilment(_uow(engine), PlanFulfilment(order_ids=(1, 2)))
    with UnitOfWork(engine) as uow:  # refused whole: nothing was planned or reserved
        assert {r[0] for r in uow.connection.execute(select(orders.c.status))} == {
            "paid",
            "cancelled",
        }
        assert _reserved(uow.connection)[("wh-cn", "A")] == (10, 0)
    only = plan_fulfilment(_uow(engine), PlanFulfilment(order_ids=(3,)))
    assert only.orders == 1 and only.assigned == 1
