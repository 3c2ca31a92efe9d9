"""The demo tells one consistent story: every counter of its summary equals the query of what it
names, every record lies in the past, every parcel is findable by its buyer, a second run stores
nothing new, and the same seed gives the same story."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from xborder.bootstrap import Platform, bootstrap
from xborder.domain.lifecycle import ParcelStatus, Step
from xborder.services.settlement import settlement_counts
from xborder.services.trace import ShowParcel, show
from xborder.simulation.demo import DemoSection, demo_clock, run_demo
from xborder.store.engine import make_engine
from xborder.store.schema import orders, payments
from xborder.store.schema_customs import customs_declarations, customs_match_results
from xborder.store.schema_planning import consolidations, parcels
from xborder.store.schema_trace import trace_events
from xborder.trace.lifecycle import LIFECYCLE
from xborder.trace.signing import KeyStore

ORDER_DAY = date(2026, 11, 10)
UNTIL = datetime.combine(ORDER_DAY + timedelta(days=21), time(15, 0), tzinfo=UTC)
ORDERS = 400


def _run(
    path: Path, keys: Path, seed: int = 7, n: int = ORDERS
) -> tuple[Platform, list[DemoSection]]:
    engine = make_engine(f"sqlite:///{path}")
    clock, day = demo_clock(UNTIL, ORDER_DAY)
    platform = bootstrap(engine=engine, clock=clock, keys=KeyStore(keys))
    sections = run_demo(platform, clock, orders=n, seed=seed, order_day=day, until=UNTIL)
    return platform, sections


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("demo")
    platform, sections = _run(folder / "demo.db", folder / "keys")
    yield platform, {s.title: s for s in sections}
    platform.close()


def _count(engine: Engine, query: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _orders_in(engine: Engine, status: str) -> int:
    return _count(engine, select(func.count()).where(orders.c.status == status))


def _parcels_in(engine: Engine, *statuses: str) -> int:
    return _count(engine, select(func.count()).where(parcels.c.status.in_(statuses)))


def test_order_counters_equal_the_store(demo: tuple[Platform, dict[str, Any]]) -> None:
    platform, sections = demo
    e, s = platform.engine, sections["Orders"].summary
    assert s["generated"] == ORDERS and s["captured"] == _count(e, select(func.count(orders.c.id)))
    paid = select(func.count(func.distinct(payments.c.order_id)))
    assert s["paid"] == _count(e, paid) and 0 < s["paid"] < ORDERS
    assert s["expired_unpaid"] == _orders_in(e, "cancelled") == ORDERS - s["paid"]
    assert s["planned"] == _count(e, select(func.count(parcels.c.id)))  # each one was packed
    left = [p.value for p in ParcelStatus if p not in ("packed", "consolidated", "export_held",
                                                       "export_cleared")]  # fmt: skip
    assert s["shipped"] == _parcels_in(e, *left)
    for status in ("delivered", "lost", "returned"):
        assert s[status] == _orders_in(e, status), status
    assert s["delivered"] > 0.8 * s["planned"]
    table = {r["order status now"]: r["orders"] for r in sections["Orders"].table}
    assert sum(table.values()) == ORDERS


def test_customs_and_parcel_counters_equal_the_store(
    demo: tuple[Platform, dict[str, Any]],
) -> None:
    platform, sections = demo
    e = platform.engine
    customs, parcel = sections["Customs"].summary, sections["Parcels"].summary
    assert customs["declared"] == _count(e, select(func.count(customs_declarations.c.id)))
    assert customs["declared"] + customs["not_modelled"] == ORDERS
    with e.connect() as conn:
        matched = dict(conn.execute(select(customs_match_results.c.status, func.count())
                                    .group_by(customs_match_results.c.status)).all())  # fmt: skip
        receipts = conn.execute(
            text("SELECT count(*) FROM customs_declaration_events WHERE code IS NOT NULL "
                 "AND code <> '2'")
        ).scalar_one()  # fmt: skip
    shown = dict(part.rsplit(" ", 1) for part in customs["cn_three_document_match"].split(", "))
    assert {k: int(v) for k, v in shown.items()} == matched
    assert matched.get("matched", 0) > 0  # paid CN orders carry their taxes: the documents agree
    assert customs["receipts_applied"] == receipts > 0
    assert parcel["packed"] == _count(e, select(func.count(parcels.c.id)))
    assert parcel["bags"] == _count(e, select(func.count(consolidations.c.id)))
    assert parcel["departed"] == _count(
        e, select(func.count()).where(parcels.c.departed_at.is_not(None))
    )
    assert parcel["delivered"] == _count(
        e, select(func.count()).where(parcels.c.delivered_at.is_not(None))
    )
    assert parcel["lost"] == _parcels_in(e, "lost")
    assert parcel["returned"] == _parcels_in(e, "returned")
    damaged = LIFECYCLE[Step.DAMAGED]
    with e.connect() as conn:
        hurt = conn.execute(
            select(func.count(func.distinct(trace_events.c.object_id))).where(
                trace_events.c.biz_step == damaged.biz_step,
                trace_events.c.disposition == damaged.disposition,
            )
        ).scalar_one()
    assert parcel["damaged"] == hurt


def test_trace_and_money_counters_equal_the_store(demo: tuple[Platform, dict[str, Any]]) -> None:
    platform, sections = demo
    trace, money = sections["Trace ledger"].summary, sections["Money (settlement ledger)"]
    assert trace["verified"] is True
    assert (
        trace["events_written"]
        == trace["ledger_events"]
        == _count(platform.engine, select(func.count(trace_events.c.id)))
    )
    assert money.summary == settlement_counts(platform.uow())
    assert money.summary["deliveries_released"] == sections["Orders"].summary["delivered"]
    balances = {r["who"]: r["balance (CNY equiv.)"] for r in money.table}
    assert balances["buyers"].startswith("-") and not balances["seller"].startswith("-")


def test_every_record_lies_in_the_past(demo: tuple[Platform, dict[str, Any]]) -> None:
    platform, _ = demo
    until_ms = int(UNTIL.timestamp() * 1000)
    with platform.engine.connect() as conn:
        for table, column in (("orders", "placed_at"), ("payments", "paid_at"),
                              ("parcels", "status_at"), ("parcels", "delivered_at"),
                              ("consolidations", "status_at"), ("plan_runs", "created_at"),
                              ("customs_declaration_events", "at"),
                              ("ledger_transfers", "at")):  # fmt: skip
            latest = conn.execute(text(f"SELECT max({column}) FROM {table}")).scalar()
            assert latest is not None and str(latest)[:19] <= UNTIL.isoformat()[:19], table
        for table, column in (("trace_events", "event_time_ms"), ("trace_batches", "created_ms")):
            latest = conn.execute(text(f"SELECT max({column}) FROM {table}")).scalar()
            assert latest is not None and int(latest) <= until_ms, table


def test_every_parcel_is_found_by_its_buyer(demo: tuple[Platform, dict[str, Any]]) -> None:
    platform, _ = demo
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(parcels.c.tracking_no, parcels.c.destination_postcode, parcels.c.status)
        ).all()
    assert rows and all(r.destination_postcode for r in rows)
    for tracking, postcode, status in rows[:: max(1, len(rows) // 60)]:
        timeline = show(platform.uow(), ShowParcel(tracking, postcode=postcode))
        assert timeline.points[0].status == "Order placed"
        assert timeline.points[-1].party is None  # the buyer's view names no party
        if status == "delivered":
            assert timeline.points[-1].status == "Delivered"


def test_a_second_run_stores_nothing_new(tmp_path: Path) -> None:
    platform, first = _run(tmp_path / "a.db", tmp_path / "keys", seed=3, n=120)
    events = _count(platform.engine, select(func.count(trace_events.c.id)))
    again = run_demo(platform, demo_clock(UNTIL, ORDER_DAY)[0], orders=120, seed=3,
                     order_day=ORDER_DAY, until=UNTIL)  # fmt: skip
    summary = {s.title: s.summary for s in again}
    assert summary["Orders"]["captured"] == 0 and summary["Orders"]["already_stored"] == 120
    assert summary["Trace ledger"]["events_written"] == 0
    assert _count(platform.engine, select(func.count(trace_events.c.id))) == events
    assert all(v == 0 for v in summary["Money (settlement ledger)"].values())
    # the same seed on a fresh store tells the same story
    other, replay = _run(tmp_path / "b.db", tmp_path / "keys", seed=3, n=120)
    assert [s.summary for s in replay][1:] == [s.summary for s in first][1:]
    platform.close()
    other.close()
