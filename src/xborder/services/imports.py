"""Import an order file: parse, capture in chunks (one transaction each), report per record.

Two imports may run at once (the same file, or overlapping ones). On PostgreSQL the capture use
case resolves keys another import stored first as ``existing``. On SQLite a writer holds the
store's write lock for a whole chunk; the other waits for it (the engine's busy timeout), and when
the wait runs out, the chunk is retried after a pause, up to ``MAX_BUSY_WAIT_S`` in all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl

from xborder.domain.order_rules import ERROR_SCHEMA, OrderBatch
from xborder.formats.csv_cells import write_people_csv
from xborder.formats.order_files import MAX_JSON_DEPTH, chunked, read_order_file
from xborder.formats.text_source import MAX_LINE_CHARS
from xborder.services.capture import RESULT_SCHEMA, CaptureReport, capture_batch
from xborder.store.orders_repo import StoreBusy, is_store_busy
from xborder.store.uow import UnitOfWork

T = TypeVar("T")
CHUNK_ORDERS = 100_000
MAX_BUSY_WAIT_S = 300.0  # beyond the engine's own busy timeout, per chunk
__all__ = [
    "MAX_JSON_DEPTH", "MAX_LINE_CHARS", "ImportOrders", "ImportReport", "StoreBusy",
    "import_orders", "is_store_busy", "retry_while_busy", "write_errors_csv",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportReport:
    records: int
    created: int
    existing: int
    errors: pl.DataFrame  # rec, line, field, reason, value (one row per problem)
    results: pl.DataFrame

    @property
    def rejected(self) -> int:
        return self.errors.get_column("rec").n_unique()


@dataclass(frozen=True, slots=True)
class ImportOrders:
    path: Path


def import_orders(
    uow: UnitOfWork, command: ImportOrders, progress: Callable[[int, int], None] | None = None
) -> ImportReport:
    """Good records are stored, bad ones reported; every chunk of orders commits atomically
    (the unit of work is entered once per chunk). An order with any problem, in any of its rows,
    is rejected whole. Raises ``ValueError`` when the file itself cannot be read (encoding, header)
    and ``StoreBusy`` when another writer keeps the store locked beyond ``MAX_BUSY_WAIT_S``."""
    parsed = read_order_file(command.path)
    bad = parsed.errors.select("rec").unique()
    clean = OrderBatch(
        parsed.batch.orders.join(bad, on="rec", how="anti"),
        parsed.batch.lines.join(bad, on="rec", how="anti"),
    )
    total = clean.orders.height
    errors = [parsed.errors]
    results = [pl.DataFrame(schema=RESULT_SCHEMA)]
    done = 0
    for batch in chunked(type(parsed)(clean, parsed.errors, total), CHUNK_ORDERS):
        report = _capture_waiting(uow, batch)
        errors.append(report.errors)
        results.append(report.results)
        done += batch.orders.height
        if progress:
            progress(done, total)
    all_results = pl.concat(results)
    return ImportReport(
        records=parsed.records,
        created=all_results.filter(pl.col("status") == "created").height,
        existing=all_results.filter(pl.col("status") == "existing").height,
        errors=pl.concat(errors).sort("rec", "line"),
        results=all_results,
    )


def _is_open(uow: UnitOfWork) -> bool:
    try:
        uow.connection  # noqa: B018 - raises when the unit of work is not open
    except RuntimeError:
        return False
    return True


def _capture_waiting(uow: UnitOfWork, batch: OrderBatch) -> CaptureReport:
    """One chunk, retried while another writer holds SQLite's write lock (bounded). Inside a
    caller's open transaction there is nothing to retry: the error goes to the caller."""
    if _is_open(uow):
        return capture_batch(uow, batch)
    return retry_while_busy(lambda: capture_batch(uow, batch))


def retry_while_busy(action: Callable[[], T]) -> T:
    """``action()``, run again after a growing pause while the store is locked by another writer
    (SQLite), for up to ``MAX_BUSY_WAIT_S``; then ``StoreBusy``. ``action`` must be safe to
    repeat: it opens and commits (or rolls back) its own transaction. The CLI opens the platform
    through it too (its migration check takes the write lock)."""
    started = time.monotonic()
    pause = 0.05
    while True:
        try:
            return action()
        except Exception as exc:
            if not is_store_busy(exc):
                raise
            if time.monotonic() - started > MAX_BUSY_WAIT_S:
                raise StoreBusy(
                    f"the store stayed locked by another writer for {MAX_BUSY_WAIT_S:.0f} s"
                ) from exc
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def write_errors_csv(errors: pl.DataFrame, path: Path) -> None:
    """The ``--errors-out`` report: a CSV for people, so formula-like cells are neutralised."""
    write_people_csv(errors.select(*ERROR_SCHEMA.names()), path)
