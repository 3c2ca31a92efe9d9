"""Validation before the write transaction (``precheck``) and SQLite's polled BEGIN IMMEDIATE.

The API validates a batch before it takes SQLite's write lock; the seller set it validated
against may change before the write, so the write re-reads it and validates again. And a
second process waiting for the write lock polls instead of sleeping in the busy handler's
steps, but still gives up after the busy timeout.
"""

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.factories import make_order
from xborder.services.capture import capture_prechecked, order_frames, precheck
from xborder.store import engine as engine_module
from xborder.store.schema import parties
from xborder.store.uow import UnitOfWork


def _add_seller(engine: Engine, party_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            parties.insert().values(id=party_id, name=party_id, roles="seller", country="CN")
        )


def test_a_precheck_against_a_changed_seller_set_is_validated_again(engine: Engine) -> None:
    batch = order_frames([make_order("A"), make_order("B", seller_id="seller-new")])
    early = precheck(UnitOfWork(engine), batch)  # no sellers stored yet: no seller rule
    assert early.sellers is None and early.checked.errors.is_empty()
    _add_seller(engine, "seller-sz-gadgets")  # the set changes before the write
    report = capture_prechecked(UnitOfWork(engine), early)
    assert report.created == 1
    assert report.errors.select("field", "reason").rows() == [("seller_id", "unknown seller")]


def test_a_precheck_against_the_current_sellers_is_written_as_checked(engine: Engine) -> None:
    _add_seller(engine, "seller-sz-gadgets")
    batch = order_frames([make_order("A"), make_order("B", seller_id="seller-gone")])
    checked = precheck(UnitOfWork(engine), batch)
    assert checked.sellers == frozenset({"seller-sz-gadgets"})
    assert checked.checked.errors.get_column("rec").to_list() == [1]
    report = capture_prechecked(UnitOfWork(engine), checked.only([0, 1]))
    assert (report.created, report.rejected) == (1, 1)


def _hold_write_lock(path: Path, seconds: float, started: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    started.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def test_begin_immediate_waits_for_another_writer_then_begins(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    sqlite3.connect(path).close()
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.3, started))
    holder.start()
    started.wait(5)
    waiter = sqlite3.connect(path, isolation_level=None)
    began = time.monotonic()
    engine_module.begin_immediate(waiter)
    waited = time.monotonic() - began
    holder.join()
    assert waiter.in_transaction and waited >= 0.2
    # the connection's busy timeout is back for the statements of the transaction
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == engine_module.BUSY_TIMEOUT_MS
    waiter.execute("COMMIT")
    waiter.close()


def test_begin_immediate_gives_up_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lock.db"
    sqlite3.connect(path).close()
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 100)
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 1.0, started))
    holder.start()
    started.wait(5)
    waiter = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        engine_module.begin_immediate(waiter)
    assert not waiter.in_transaction
    holder.join()
    waiter.close()


def test_placed_at_for_reads_the_stored_times_of_these_keys(engine: Engine) -> None:
    order = make_order("A")
    capture_prechecked(UnitOfWork(engine), precheck(UnitOfWork(engine), order_frames([order])))
    keys = [(order.channel, "A"), (order.channel, "nowhere"), (order.channel, "A")]
    with UnitOfWork(engine) as uow:  # no statement yet: on SQLite the snapshot path
        outside = uow.orders.placed_at_for(keys)
    with UnitOfWork(engine) as uow:
        uow.orders.count()  # a transaction is open: the ordinary read
        inside = uow.orders.placed_at_for(keys)
    assert outside == inside == {(order.channel, "A"): order.placed_at}
