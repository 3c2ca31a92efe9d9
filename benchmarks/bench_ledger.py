"""Ledger posting into SQLite against raw inserts of the same rows; exact Shapley for 20 players.

Goals (issues 6 and 13): >= 100,000 posted transfers/s into SQLite with all checks, at least the
raw ``executemany`` of the same rows with the same transaction semantics, and exact Shapley for
20 players in <= 1 s. The measured path is the whole use case ``post_frame`` in a unit of work:
account resolution, idempotency lookup of every id, pending lookups, balance locks, the columnar
checks (currencies, in-order no-negative running balances), insert of the transfers (staged Arrow
ingest through ADBC, ``xborder.store.chunks``), the guarded balance updates, commit. Half the
transfers debit flagged escrow accounts that the other half funds, so the overdraft check has real
work. Two baselines insert the same already-resolved rows into the same table (same indexes, the
store's pragmas: WAL, synchronous=FULL, foreign keys, 128 MiB cache), one transaction per batch as
ours, with no check at all: plain ``sqlite3`` ``executemany`` of pre-built tuples, and ADBC
``adbc_ingest`` of a pre-built Arrow table straight into the store file. Everything is written in
a temporary directory removed at the end; the driver import is paid before timing.

    .venv/bin/python benchmarks/bench_ledger.py                       # 400,000 transfers
    .venv/bin/python benchmarks/bench_ledger.py --quick               # 40,000, < 60 s
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xborder.services.settlement import PostFrame, post_frame
from xborder.settlement.game import Game
from xborder.settlement.ledger import CODED_SCHEMA, TRANSFER_COLUMNS
from xborder.settlement.shapley import shapley_exact
from xborder.store.engine import make_engine
from xborder.store.migrate import upgrade
from xborder.store.uow import UnitOfWork


def make_batches(n: int, batch: int, seed: int) -> list[pl.DataFrame]:
    """Pairs of transfers: buyers -> escrow (order k), then escrow -> seller for part of it."""
    rng = np.random.default_rng(seed)
    half = n // 2
    k = np.arange(half)
    escrow = rng.integers(0, 50, half)
    seller = rng.integers(0, 200, half)
    paid = rng.integers(1_000, 100_000, half)
    release = (paid * rng.uniform(0.5, 1.0, half)).astype(np.int64)
    at = datetime(2026, 11, 24, 12, tzinfo=UTC)
    capture = pl.DataFrame({
        "id": [f"c{i}" for i in k], "debit": [f"buyers-{i % 1000}:funds:EUR" for i in k],
        "credit": [f"escrow-{e}:escrow:EUR" for e in escrow], "amount": paid,
    })  # fmt: skip
    out = pl.DataFrame({
        "id": [f"r{i}" for i in k], "debit": [f"escrow-{e}:escrow:EUR" for e in escrow],
        "credit": [f"seller-{s}:proceeds:EUR" for s in seller], "amount": release,
    })  # fmt: skip
    # interleave: each capture immediately followed by its release
    frame = pl.concat([capture.with_row_index("k"), out.with_row_index("k")]).sort(
        "k", maintain_order=True
    )
    frame = frame.with_columns(
        pl.lit("EUR").alias("currency"), pl.lit("posted").alias("kind"),
        pl.lit(None, pl.String).alias("pending_id"), pl.lit("bench").alias("code"),
        pl.col("k").cast(pl.Int64).alias("order_id"), pl.lit(at).alias("at"),
    ).select(TRANSFER_COLUMNS).cast(CODED_SCHEMA)  # type: ignore[arg-type]  # fmt: skip
    return [frame.slice(s, batch) for s in range(0, frame.height, batch)]


def migrated(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def ours(url: str, batches: list[pl.DataFrame]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of this process, transfers posted."""
    engine = make_engine(url)
    posted = 0
    start, cpu = time.perf_counter(), time.process_time()
    for frame in batches:
        with UnitOfWork(engine) as uow:
            posted += post_frame(uow, PostFrame(frame)).posted
            uow.commit()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    return elapsed, cpu, posted


def retry(url: str, batches: list[pl.DataFrame]) -> tuple[float, int]:
    """The same batches again: every id exists with the same content, nothing is written."""
    engine = make_engine(url)
    start = time.perf_counter()
    posted = 0
    for frame in batches:
        with UnitOfWork(engine) as uow:
            posted += post_frame(uow, PostFrame(frame)).posted
            uow.commit()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, posted


PRAGMAS = ("busy_timeout=10000", "journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
           "cache_size=-131072")  # fmt: skip  # the store's (xborder.store.engine)


def resolved_rows(path: Path) -> list[tuple[object, ...]]:
    """The transfers as our store holds them (accounts resolved, times as text), in order."""
    with closing(sqlite3.connect(path)) as src:
        return src.execute(
            f"SELECT {', '.join(TRANSFER_COLUMNS)} FROM ledger_transfers ORDER BY seq"
        ).fetchall()


def fresh_copy(path: Path, name: str) -> Path:
    """A migrated store holding our store's accounts (and zero balances), no transfers."""
    target = path.with_name(name)
    migrated(target)
    with closing(sqlite3.connect(target, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO ledger_accounts VALUES (?, ?, ?, ?, ?, ?)", src_accounts(path)
        )
        conn.execute("COMMIT")
    return target


def raw(path: Path, rows: list[tuple[object, ...]], batch: int) -> tuple[float, float]:
    """Plain executemany of the rows, one transaction per batch: wall and CPU seconds."""
    target = fresh_copy(path, "raw.db")
    with closing(sqlite3.connect(target, isolation_level=None)) as conn:
        for pragma in PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        marks = ", ".join("?" * len(TRANSFER_COLUMNS))
        sql = f"INSERT INTO ledger_transfers ({', '.join(TRANSFER_COLUMNS)}) VALUES ({marks})"
        start, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows[first : first + batch])
            conn.execute("COMMIT")
        return time.perf_counter() - start, time.process_time() - cpu


def raw_adbc(path: Path, rows: list[tuple[object, ...]], batch: int) -> tuple[float, float]:
    """ADBC ingest of the same rows from Arrow, one transaction per batch: wall and CPU seconds."""
    import adbc_driver_sqlite.dbapi as adbc

    target = fresh_copy(path, "adbc.db")
    schema = {c: (pl.String if c in {"id", "currency", "kind", "pending_id", "code", "at"}
                  else pl.Int64) for c in TRANSFER_COLUMNS}  # fmt: skip
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    tables = [frame.slice(first, batch).to_arrow() for first in range(0, frame.height, batch)]
    with closing(adbc.connect(str(target), autocommit=True)) as conn, closing(conn.cursor()) as cur:
        for pragma in PRAGMAS:
            cur.execute(f"PRAGMA {pragma}")
            cur.fetchall()
        start, cpu = time.perf_counter(), time.process_time()
        for table in tables:
            cur.execute("BEGIN IMMEDIATE")
            cur.adbc_ingest("ledger_transfers", table, mode="append")
            cur.execute("COMMIT")
        return time.perf_counter() - start, time.process_time() - cpu


def src_accounts(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM ledger_accounts").fetchall()
    conn.close()
    return rows


def postgres(batches: list[pl.DataFrame]) -> float:
    """The same use case on a throwaway PostgreSQL server (COPY path); returns transfers/s."""
    from sqlalchemy import create_engine, text
    from tests.pg_server import PostgresServer

    server = PostgresServer()
    try:
        admin = create_engine(server.start(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench_ledger"))
        url = server.url("bench_ledger")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        elapsed, _cpu, posted = ours(url, batches)
        admin.dispose()
        return posted / elapsed
    finally:
        server.stop()


def shapley_20(seed: int) -> float:
    rng = np.random.default_rng(seed)
    values = rng.random(1 << 20)
    values[0] = 0.0
    game = Game(tuple(f"p{i}" for i in range(20)), values)
    start = time.perf_counter()
    result = shapley_exact(game)
    elapsed = time.perf_counter() - start
    assert abs(result.value.sum() - game.grand) < 1e-6  # efficiency: a sanity check of the run
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="40,000 transfers in 20,000 batches")
    parser.add_argument("--postgres", action="store_true", help="also measure PostgreSQL")
    args = parser.parse_args()
    if args.quick:
        args.transfers, args.batch = min(args.transfers, 40_000), min(args.batch, 20_000)
    import adbc_driver_sqlite.dbapi  # noqa: F401  # the import is paid once per process

    load_start = os.getloadavg()[0]
    batches = make_batches(args.transfers, args.batch, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        path = Path(tmp) / "ledger.db"
        url = migrated(path)
        os.sync()  # each side starts without another's writeback pending
        ours_s, ours_cpu, posted = ours(url, batches)
        retry_s, reposted = retry(url, batches)
        rows = resolved_rows(path)
        os.sync()
        raw_s, raw_cpu = raw(path, rows, args.batch)
        os.sync()
        adbc_s, adbc_cpu = raw_adbc(path, rows, args.batch)
    shapley_s = min(shapley_20(args.seed + i) for i in range(3))
    rate, raw_rate, adbc_rate = posted / ours_s, len(rows) / raw_s, len(rows) / adbc_s
    figures = {
        "transfers": posted,
        "batch": args.batch,
        "ledger_seconds": round(ours_s, 3),
        "ledger_per_s": round(rate),
        "retry_seconds": round(retry_s, 3),
        "retry_reposted": reposted,
        "raw_executemany_seconds": round(raw_s, 3),
        "raw_executemany_per_s": round(raw_rate),
        "raw_adbc_seconds": round(adbc_s, 3),
        "raw_adbc_per_s": round(adbc_rate),
        "ledger_vs_raw_executemany": round(rate / raw_rate, 3),
        "ledger_vs_raw_adbc": round(rate / adbc_rate, 3),
        # per CPU-second of this process: less sensitive to other work on a shared machine
        "ledger_per_cpu_s": round(posted / ours_cpu),
        "raw_executemany_per_cpu_s": round(len(rows) / raw_cpu),
        "raw_adbc_per_cpu_s": round(len(rows) / adbc_cpu),
        "shapley_20_exact_seconds": round(shapley_s, 3),
        "goal_ledger_100k_per_s": rate >= 100_000,
        "goal_ledger_at_least_raw_executemany": rate >= raw_rate,
        "goal_shapley_1s": shapley_s <= 1.0,
        "load_average_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    if args.postgres:
        figures["postgres_ledger_per_s"] = round(postgres(batches))
    print(json.dumps(figures, indent=2))
    print(f"ledger posting: {rate:,.0f} transfers/s = {rate / raw_rate:.2f}x raw executemany "
          f"({raw_rate:,.0f}/s), {rate / adbc_rate:.2f}x raw ADBC ingest ({adbc_rate:,.0f}/s); "
          f"load average {load_start:.2f} -> {os.getloadavg()[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
