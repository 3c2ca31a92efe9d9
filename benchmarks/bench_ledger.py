"""Ledger posting into SQLite against raw inserts of the same rows; exact Shapley for 20 players.

Goals (issue 6): >= 100,000 posted transfers/s into SQLite with all checks, and exact Shapley for
20 players in <= 1 s. The measured path is the whole use case ``post_frame`` in a unit of work:
account resolution, idempotency lookup of every id, pending lookups, balance locks, the columnar
checks (currencies, in-order no-negative running balances), insert of the transfers, the balance
updates, commit. Half the transfers debit flagged escrow accounts that the other half funds, so
the overdraft check has real work. The baseline inserts the same already-resolved rows with
``executemany`` on a plain ``sqlite3`` connection into the same table (same indexes, same
pragmas), with no check at all.

    .venv/bin/python benchmarks/bench_ledger.py                       # 400,000 transfers
    .venv/bin/python benchmarks/bench_ledger.py --transfers 20000     # quick
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
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


def raw(url: str, path: Path) -> tuple[float, float, int]:
    """Copy the resolved rows out of our store, then time plain executemany into a fresh copy."""
    src = sqlite3.connect(path)
    rows = src.execute(
        f"SELECT {', '.join(TRANSFER_COLUMNS)} FROM ledger_transfers ORDER BY seq"
    ).fetchall()
    src.close()
    target = path.with_name("raw.db")
    migrated(target)
    conn = sqlite3.connect(target, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("DROP TRIGGER IF EXISTS ledger_transfers_no_update")
    conn.execute("DROP TRIGGER IF EXISTS ledger_transfers_no_delete")
    accounts = src_accounts(path)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO ledger_accounts VALUES (?, ?, ?, ?, ?, ?)", accounts)
    conn.execute("COMMIT")
    marks = ", ".join("?" * len(TRANSFER_COLUMNS))
    start, cpu = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        f"INSERT INTO ledger_transfers ({', '.join(TRANSFER_COLUMNS)}) VALUES ({marks})", rows
    )
    conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    conn.close()
    return elapsed, cpu, len(rows)


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
    parser.add_argument("--postgres", action="store_true", help="also measure PostgreSQL")
    args = parser.parse_args()
    batches = make_batches(args.transfers, args.batch, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        url = migrated(path)
        ours_s, ours_cpu, posted = ours(url, batches)
        retry_s, reposted = retry(url, batches)
        raw_s, raw_cpu, rows = raw(url, path)
    shapley_s = min(shapley_20(args.seed + i) for i in range(3))
    figures = {
        "transfers": posted,
        "batch": args.batch,
        "ledger_seconds": round(ours_s, 3),
        "ledger_per_s": round(posted / ours_s),
        "retry_seconds": round(retry_s, 3),
        "retry_reposted": reposted,
        "raw_seconds": round(raw_s, 3),
        "raw_per_s": round(rows / raw_s),
        "ledger_vs_raw": round((posted / ours_s) / (rows / raw_s), 3),
        # per CPU-second of this process: less sensitive to other work on a shared machine
        "ledger_per_cpu_s": round(posted / ours_cpu),
        "raw_per_cpu_s": round(rows / raw_cpu),
        "shapley_20_exact_seconds": round(shapley_s, 3),
        "goal_ledger_100k_per_s": posted / ours_s >= 100_000,
        "goal_shapley_1s": shapley_s <= 1.0,
    }
    if args.postgres:
        figures["postgres_ledger_per_s"] = round(postgres(batches))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
