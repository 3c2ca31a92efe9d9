"""The input area's store-facing guarantees: one source for text lengths, set-wise re-imports."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, String, event

from xborder.services.capture import capture_batch
from xborder.services.world import read_world
from xborder.simulation.order_generator import generate_orders
from xborder.store.schema import order_lines, orders
from xborder.store.uow import UnitOfWork


def test_the_kernel_limits_are_the_stored_column_lengths() -> None:
    """Every text column of orders and order lines is bounded by the domain's limit, so what the
    kernel accepts both stores accept (PostgreSQL's varchar(n) would refuse a longer value)."""
    from xborder.domain.orders import LINE_TEXT_LIMITS, ORDER_TEXT_LIMITS

    for table, limits in ((orders, ORDER_TEXT_LIMITS), (order_lines, LINE_TEXT_LIMITS)):
        lengths = {c.name: c.type.length for c in table.columns if isinstance(c.type, String)}
        lengths.pop("status", None)  # set by the platform, not from input
        assert lengths == limits, table.name


def test_a_reimport_is_resolved_set_wise(sqlite_engine: Engine) -> None:
    """Re-capturing stored orders costs about what capturing them did (before: 4.7x, one query
    per 400 keys and a load of every stored order by id)."""
    batch = generate_orders(read_world(), 20_000, seed=5)
    start = time.perf_counter()
    first = capture_batch(UnitOfWork(sqlite_engine), batch)
    fresh = time.perf_counter() - start
    start = time.perf_counter()
    again = capture_batch(UnitOfWork(sqlite_engine), batch)
    repeat = time.perf_counter() - start
    assert first.created == 20_000 and again.existing == 20_000 and again.created == 0
    assert repeat < 2.0 * fresh, (fresh, repeat)


def test_a_reimport_reads_the_stored_orders_in_a_few_statements(sqlite_engine: Engine) -> None:
    """One read per table for a whole chunk: before, one query per 400 keys to find them and two
    more per 400 ids to load them (30 for these 4,000 orders)."""
    batch = generate_orders(read_world(), 4_000, seed=6)
    capture_batch(UnitOfWork(sqlite_engine), batch)
    selects: list[str] = []

    def trace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(
            lambda sql: selects.append(sql) if sql.lstrip().upper().startswith("SELECT") else None
        )

    event.listen(sqlite_engine, "checkout", trace)
    again = capture_batch(UnitOfWork(sqlite_engine), batch)
    event.remove(sqlite_engine, "checkout", trace)
    assert again.existing == 4_000
    assert len(selects) <= 8, selects


def test_a_key_committed_by_another_writer_mid_capture_is_existing(
    engine: Engine, monkeypatch: Any
) -> None:
    """PostgreSQL: another import commits an order between this capture's read of the stored keys
    and its insert. Before: ``DuplicateOrderKey`` escaped (a traceback, exit 1, the whole chunk
    lost). Now the insert rolls back to its savepoint, the keys are read again, and the order is
    ``existing``. (SQLite's writers never interleave: BEGIN IMMEDIATE.)"""
    if engine.dialect.name != "postgresql":
        return
    from tests.factories import make_order
    from xborder.services.capture import order_frames
    from xborder.store.orders_repo import OrderRepository

    capture_batch(UnitOfWork(engine), order_frames([make_order("A")]))
    other = UnitOfWork(engine)
    real_insert = OrderRepository.insert
    raced: list[bool] = []

    def insert_after_a_rival(self: OrderRepository, order_rows: Any, line_rows: Any) -> None:
        keys = order_rows.get_column("external_id").to_list()
        if not raced and keys == ["B"]:  # after the stored keys were read: A stored, B new
            raced.append(True)  # the rival commits B first, from its own connection
            capture_batch(other, order_frames([make_order("B")]))
        real_insert(self, order_rows, line_rows)

    monkeypatch.setattr(OrderRepository, "insert", insert_after_a_rival)
    report = capture_batch(UnitOfWork(engine), order_frames([make_order("A"), make_order("B")]))
    assert raced and report.errors.height == 0
    assert report.existing == 2 and report.created == 0
    with engine.connect() as conn:
        from sqlalchemy import text

        assert conn.execute(text("SELECT count(*) FROM orders")).scalar_one() == 2
        assert conn.execute(text("SELECT count(*) FROM order_lines")).scalar_one() == 4
