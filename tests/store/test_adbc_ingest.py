"""Bulk inserts through staged Arrow ingest (ADBC) against the executemany path they replace.

``xborder.store.chunks.bulk_insert`` stages large frames in a scratch SQLite file through the
ADBC driver and copies them into the store inside the unit of work's transaction. These tests
force each path (``STAGE_MIN_ROWS``) and check: identical stored rows (values and SQLite storage
classes) for orders, order lines and ledger transfers, in-memory stores included; idempotent
re-runs; all or nothing (an error, a rollback of the caller's transaction, a SIGKILL between the
ingest and the commit); the ledger guard still holding; nothing left attached or in temp.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from tests.factories import make_import_order, make_order
from xborder.domain.errors import Conflict
from xborder.domain.order_rules import OrderBatch
from xborder.domain.orders import Buyer, OrderLine
from xborder.services.capture import capture_batch, order_frames
from xborder.services.settlement import PostFrame, post_frame
from xborder.services.world import read_world
from xborder.settlement.crashpoints import ENV
from xborder.settlement.ledger import CODED_SCHEMA, TRANSFER_COLUMNS
from xborder.simulation.order_generator import generate_orders
from xborder.store import chunks
from xborder.store.engine import make_engine
from xborder.store.migrate import upgrade
from xborder.store.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
STAGED, EXECUTEMANY = 0, 10**12  # STAGE_MIN_ROWS forcing each path


@pytest.fixture(scope="module")
def batch() -> OrderBatch:
    """Generated orders (optional fields null or not, several currencies, multi-line) plus two
    hand-made ones (a resident identity number, non-ASCII text)."""
    generated = generate_orders(read_world(), 400, seed=3)
    extra = order_frames([make_import_order("ADBC-CN"), make_order("ADBC-DE")])
    offset = generated.orders.height
    orders = pl.concat([generated.orders, extra.orders.with_columns(pl.col("rec") + offset)],
                       how="diagonal_relaxed")  # fmt: skip
    lines = pl.concat([generated.lines, extra.lines.with_columns(pl.col("rec") + offset)],
                      how="diagonal_relaxed")  # fmt: skip
    return OrderBatch(
        orders.select(generated.orders.columns), lines.select(generated.lines.columns)
    )


def transfers(n: int = 600, prefix: str = "t") -> pl.DataFrame:
    """Funds into escrow, then part released to sellers: the overdraft check has work."""
    rows = []
    for i in range(n // 2):
        escrow = f"escrow-{i % 7}:escrow:EUR"
        rows.append((f"{prefix}c{i}", f"buyers-{i % 11}:funds:EUR", escrow, 1000 + i, "EUR",
                     "posted", None, "capture", i, NOW))  # fmt: skip
        rows.append((f"{prefix}r{i}", escrow, f"seller-{i % 5}:proceeds:EUR", 500 + i, "EUR",
                     "posted", None, "release", i, NOW))  # fmt: skip
    return pl.DataFrame(rows, schema=CODED_SCHEMA, orient="row").select(TRANSFER_COLUMNS)


def sqlite_store(tmp_path: Path, template: Path, name: str) -> Engine:
    if name == ":memory:":
        engine = make_engine("sqlite://")
        upgrade(engine)
        return engine
    path = tmp_path / f"{name}.db"
    shutil.copy(template, path)
    return make_engine(f"sqlite:///{path}")


def dump(engine: Engine, table: str, order: str) -> list[tuple[Any, ...]]:
    """Every row as the driver returns it, on SQLite each value with its storage class."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            return [
                tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order}")
            ]
        names = [r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
        typed = ", ".join(f"{n}, typeof({n})" for n in names)
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT {typed} FROM {table} ORDER BY "
                                                       f"{order}")]  # fmt: skip


def ledger(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Transfers and balances with accounts as codes (account ids follow the opening order)."""
    code = "{0}.party || ':' || {0}.purpose || ':' || {0}.currency"
    kind = "typeof({})" if engine.dialect.name == "sqlite" else "pg_typeof({})::text"
    with engine.connect() as conn:
        moves = conn.exec_driver_sql(
            f"SELECT t.seq, t.id, {code.format('d')}, {code.format('c')}, t.amount, "
            f"{kind.format('t.amount')}, t.currency, t.kind, t.pending_id, t.code, t.order_id, "
            f"{kind.format('t.order_id')}, t.at, {kind.format('t.at')} FROM ledger_transfers t "
            "JOIN ledger_accounts d ON d.id = t.debit JOIN ledger_accounts c ON c.id = t.credit "
            "ORDER BY t.seq"
        ).all()  # fmt: skip
        balances = conn.exec_driver_sql(
            f"SELECT {code.format('a')}, b.flags, b.debits_posted, b.credits_posted, "
            "b.debits_pending, b.credits_pending FROM ledger_balances b "
            "JOIN ledger_accounts a ON a.id = b.account_id ORDER BY 1"
        ).all()  # fmt: skip
    return [tuple(r) for r in moves], [tuple(r) for r in balances]


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def capture(engine: Engine, batch: OrderBatch) -> Any:
    return capture_batch(UnitOfWork(engine), batch)


@pytest.fixture
def staged(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    pytest.importorskip("adbc_driver_sqlite")
    monkeypatch.setattr(chunks, "STAGE_MIN_ROWS", STAGED)
    yield


@pytest.mark.parametrize("other", ["executemany", ":memory:"])
def test_staged_and_executemany_store_identical_orders(
    tmp_path: Path, sqlite_template: Path, batch: OrderBatch, monkeypatch: pytest.MonkeyPatch,
    other: str,
) -> None:  # fmt: skip
    """The staged path (a file store, and an in-memory one) stores byte-for-byte the rows the
    executemany path stores."""
    pytest.importorskip("adbc_driver_sqlite")
    stores = {}
    for name, threshold in (("fallback", EXECUTEMANY), ("staged", STAGED)):
        monkeypatch.setattr(chunks, "STAGE_MIN_ROWS", threshold)
        store = ":memory:" if name == "staged" and other == ":memory:" else name
        stores[name] = sqlite_store(tmp_path, sqlite_template, store)
        report = capture(stores[name], batch)
        assert report.created == batch.orders.height and report.errors.height == 0
    for table, order in (("orders", "id"), ("order_lines", "order_id, line_no")):
        fallback, staged = (
            dump(stores["fallback"], table, order),
            dump(stores["staged"], table, order),
        )
        assert len(fallback) == count(stores["fallback"], table) > 0
        assert staged == fallback
    for engine in stores.values():
        engine.dispose()


def test_bulk_insert_reports_its_path(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small frames take executemany, large ones the staged ingest; after MAX_STAGES
    attachments in one checkout it falls back, and the attachments go with the checkin."""
    pytest.importorskip("adbc_driver_sqlite")
    monkeypatch.setattr(chunks, "STAGE_MIN_ROWS", 3)
    monkeypatch.setattr(chunks, "MAX_STAGES", 2)
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE bulk_t (k INTEGER PRIMARY KEY, s TEXT)")
        conn.commit()
        paths = [
            chunks.bulk_insert(conn, {"bulk_t": pl.DataFrame({"k": [10 * i + j for j in range(n)],
                                                              "s": ["x", None, "é"][:n]})})
            for i, n in enumerate((2, 3, 3, 3))
        ]  # fmt: skip
        attached = [r[1] for r in conn.exec_driver_sql("PRAGMA database_list")]
        conn.commit()
    assert paths == ["executemany", "staged", "staged", "executemany"]
    assert attached == ["main", "xborder_stage_0", "xborder_stage_1"]
    with sqlite_engine.connect() as conn:  # the pool's single connection, back from checkin
        assert [r[1] for r in conn.exec_driver_sql("PRAGMA database_list")] == ["main"]
        rows = conn.exec_driver_sql("SELECT k, s FROM bulk_t ORDER BY k").all()
    assert [tuple(r) for r in rows] == [(0, "x"), (1, None), (10, "x"), (11, None), (12, "é"),
                                        (20, "x"), (21, None), (22, "é"), (30, "x"), (31, None),
                                        (32, "é")]  # fmt: skip


def test_staged_capture_is_idempotent(engine: Engine, batch: OrderBatch, staged: None) -> None:
    """Re-running a batch creates nothing; a changed order is a conflict, the rest existing."""
    first = capture(engine, batch)
    again = capture(engine, batch)
    assert first.created == batch.orders.height == again.existing
    assert again.created == 0 and again.errors.height == 0
    assert again.results["order_id"].to_list() == first.results["order_id"].to_list()
    changed = OrderBatch(
        batch.orders.with_columns(
            pl.when(pl.col("rec") == 0).then(pl.lit("77.00")).otherwise(pl.col("freight"))
            .alias("freight")
        ),
        batch.lines,
    )  # fmt: skip
    third = capture(engine, changed)
    assert third.created == 0 and third.existing == batch.orders.height - 1
    assert third.errors["rec"].to_list() == [0]
    assert count(engine, "orders") == batch.orders.height


@pytest.mark.parametrize("threshold", [STAGED, EXECUTEMANY])
def test_a_reimport_is_judged_the_same_in_sql_and_by_fingerprint(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    """Re-import of stored orders: compared in SQL against the staged batch (SQLite, large
    batches) or read back and fingerprinted; both say the same for every kind of change."""
    pytest.importorskip("adbc_driver_sqlite")
    monkeypatch.setattr(chunks, "STAGE_MIN_ROWS", threshold)

    def case(qty: int) -> OrderLine:
        return OrderLine(sku="CASE-1", description="Phone case", hs_code="392690", qty=qty,
                         unit_price=Decimal("4.50"))  # fmt: skip

    stored = [make_order(f"R-{i}") for i in range(6)] + [make_import_order("R-CN")]
    capture(engine, order_frames(stored))
    again = order_frames([
        make_order("R-0"),                                          # same: existing
        make_order("R-1", freight=Decimal("4.00")),                 # order field changed
        make_order("R-2", lines=[make_order().lines[0]]),           # a line dropped
        make_order("R-3", lines=[*make_order().lines, case(1)]),    # a line added
        make_order("R-4", lines=[make_order().lines[0], case(2)]),  # a line's qty changed
        make_order("R-5", buyer=Buyer(name="Lena Vogel", telephone="+49 30 1234567",
                                      email="l@example.org")),      # null -> value
        make_import_order("R-CN"),                                  # same: existing
        make_order("R-NEW"),                                        # new
    ])  # fmt: skip
    report = capture(engine, again)
    statuses = dict(zip(report.results["rec"].to_list(), report.results["status"].to_list(),
                        strict=True))  # fmt: skip
    assert statuses == {0: "existing", 6: "existing", 7: "created"}
    assert sorted(report.errors["rec"].to_list()) == [1, 2, 3, 4, 5]
    assert set(report.errors["reason"].to_list()) == {
        "order already captured (stored) with different content"
    }
    assert count(engine, "orders") == 8


def test_staged_capture_is_all_or_nothing(
    engine: Engine, batch: OrderBatch, staged: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows ingested and then an error before the commit, or the caller's transaction rolled
    back after a nested capture committed "its" part: nothing stored."""
    import xborder.services.capture as capture_module

    def fail(*_args: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(capture_module, "crash_point", fail)  # called right after the insert
    with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
        capture_batch(uow, batch)
    assert count(engine, "orders") == 0 and count(engine, "order_lines") == 0
    monkeypatch.undo()
    monkeypatch.setattr(chunks, "STAGE_MIN_ROWS", STAGED)
    with UnitOfWork(engine) as outer:
        inner = capture_batch(outer, batch)  # commits only at the outermost level
        assert inner.created == batch.orders.height
        outer.rollback()
    assert count(engine, "orders") == 0 and count(engine, "order_lines") == 0


CAPTURE = """
import sys
from tests.factories import make_order
from xborder.services.capture import capture_batch, order_frames
from xborder.store import chunks
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork
chunks.STAGE_MIN_ROWS = 0
batch = order_frames([make_order(f"KILL-{i}") for i in range(50)])
print(capture_batch(UnitOfWork(make_engine(sys.argv[1])), batch).created)
"""


def test_a_kill_between_ingest_and_commit_leaves_nothing(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """SIGKILL with the staged rows copied into the store, before the commit: nothing stored,
    and no scratch file left in the temp directory; the same run unkilled stores all."""
    pytest.importorskip("adbc_driver_sqlite")
    url = str(sqlite_engine.url)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**subprocess_env(), ENV: "captured", "TMPDIR": str(scratch)}
    killed = subprocess.run([sys.executable, "-c", CAPTURE, url], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert count(sqlite_engine, "orders") == 0 and count(sqlite_engine, "order_lines") == 0
    assert list(scratch.iterdir()) == []
    del env[ENV]
    done = subprocess.run([sys.executable, "-c", CAPTURE, url], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "50" and count(sqlite_engine, "orders") == 50
    assert list(scratch.iterdir()) == []


def subprocess_env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


# --- the ledger ---------------------------------------------------------------------------------
def post(engine: Engine, frame: pl.DataFrame) -> Any:
    return post_frame(UnitOfWork(engine), PostFrame(frame))


def test_staged_and_executemany_post_identical_ledgers(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    frame = transfers()
    stores = {}
    for name, threshold in (("fallback", EXECUTEMANY), ("staged", STAGED)):
        monkeypatch.setattr(chunks, "STAGE_MIN_ROWS", threshold)
        stores[name] = sqlite_store(tmp_path, sqlite_template, name)
        assert post(stores[name], frame).posted == frame.height
    moves, balances = ledger(stores["staged"])
    assert (moves, balances) == ledger(stores["fallback"])
    assert len(moves) == frame.height and any(b[2] for b in balances)
    assert count(stores["staged"], "ledger_transfers") == frame.height
    for engine in stores.values():
        engine.dispose()


def test_staged_posting_is_idempotent_atomic_and_guarded(
    engine: Engine, staged: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = transfers(400, "g")
    assert post(engine, frame).posted == frame.height
    again = post(engine, frame)
    assert again.posted == 0 and len(again.existing) == frame.height
    balances = dump(engine, "ledger_balances", "account_id")

    import xborder.services.settlement_posting as posting

    def fail(*_args: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(posting, "crash_point", fail)  # right after the write, before commit
    with pytest.raises(RuntimeError):
        post(engine, transfers(400, "h"))
    assert count(engine, "ledger_transfers") == frame.height
    assert dump(engine, "ledger_balances", "account_id") == balances
    with UnitOfWork(engine) as uow:  # the guard (0011) still refuses a bare balance update
        if uow.is_sqlite:
            assert count(engine, "ledger_posting") == 0
        with pytest.raises(DBAPIError):
            uow.connection.execute(text("UPDATE ledger_balances SET credits_posted = 0"))


@pytest.mark.parametrize("threshold", [STAGED, EXECUTEMANY])
def test_an_optimistic_posting_that_collides_is_resolved_id_by_id(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    """A batch whose probed ids (first, middle, last) are new but another id is stored: the
    optimistic write collides, rolls back to its savepoint, and the batch is checked again id by
    id: the stored one is ``existing``, the rest posted once; other content is a conflict."""
    pytest.importorskip("adbc_driver_sqlite")
    monkeypatch.setattr(chunks, "STAGE_MIN_ROWS", threshold)
    frame = transfers(40, "o")  # ids oc0, or0, oc1, or1, ...
    assert post(engine, frame.filter(pl.col("id") == "oc7")).posted == 1
    result = post(engine, frame)
    assert result.posted == frame.height - 1 and result.existing == ["oc7"]
    moves, balances = ledger(engine)
    assert sorted(m[1] for m in moves) == sorted(frame["id"].to_list())
    assert sum(b[3] for b in balances) == frame["amount"].sum()  # each credit counted once
    changed = transfers(40, "q").with_columns(
        pl.when(pl.col("id") == "qc3").then(1).otherwise(pl.col("amount")).alias("amount")
    )
    assert post(engine, transfers(40, "q").filter(pl.col("id") == "qc3")).posted == 1
    with pytest.raises(Conflict):
        post(engine, changed)
    assert count(engine, "ledger_transfers") == frame.height + 1


POST = """
import sys
from datetime import UTC, datetime
from decimal import Decimal
import polars as pl
from xborder.services.settlement import PostFrame, post_frame
from xborder.settlement.ledger import CODED_SCHEMA
from xborder.store import chunks
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork
chunks.STAGE_MIN_ROWS = 0
at = datetime(2026, 11, 24, 12, tzinfo=UTC)
rows = [(f"k{i}", "a:funds:EUR", "b:funds:EUR", 5, "EUR", "posted", None, "x", i, at)
        for i in range(50)]
frame = pl.DataFrame(rows, schema=CODED_SCHEMA, orient="row")
print(post_frame(UnitOfWork(make_engine(sys.argv[1])), PostFrame(frame)).posted)
"""


def test_a_kill_after_a_staged_posting_leaves_nothing(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    url = str(sqlite_engine.url)
    env = {**subprocess_env(), ENV: "posted", "TMPDIR": str(tmp_path)}
    killed = subprocess.run([sys.executable, "-c", POST, url], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert count(sqlite_engine, "ledger_transfers") == 0
    del env[ENV]
    done = subprocess.run([sys.executable, "-c", POST, url], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "50" and count(sqlite_engine, "ledger_transfers") == 50
