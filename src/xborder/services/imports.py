"""Import an order file: parse, capture in chunks (one transaction each), report per record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from xborder.domain.order_rules import OrderBatch
from xborder.formats.order_files import chunked, read_order_file
from xborder.services.capture import RESULT_SCHEMA, capture_batch
from xborder.store.uow import UnitOfWork

CHUNK_ORDERS = 100_000


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
    (the unit of work is entered once per chunk)."""
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
        report = capture_batch(uow, batch)
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
