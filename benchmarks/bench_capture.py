"""Bulk order capture into SQLite (and PostgreSQL) against raw inserts of the same rows.

Goal (DESIGN.md): >= 200,000 orders/s and >= 50% of raw ``sqlite3.executemany`` of the same rows.
The measured path is the whole use case: validation kernel, idempotency check, id allocation,
insert of orders and lines, commit. The baseline inserts the already-normalised rows of the same
orders with ``executemany`` on a plain ``sqlite3`` connection into the same schema and pragmas.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xborder.domain.order_rules import check_orders
from xborder.services.capture import capture_batch
from xborder.services.world import read_world
from xborder.simulation.order_generator import generate_orders
from xborder.store.engine import make_engine
from xborder.store.migrate import upgrade
from xborder.store.orders_repo import LINE_COLUMNS, ORDER_COLUMNS, _for_sqlite
from xborder.store.uow import UnitOfWork


def migrated_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def ours(url: str, batch: object) -> tuple[float, int]:
    engine = make_engine(url)
    start = time.perf_counter()
    with UnitOfWork(engine) as uow:
        report = capture_batch(uow, batch)  # type: ignore[arg-type]
        uow.commit()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, report.created


def raw_rows(batch: object) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    checked = check_orders(batch)  # type: ignore[arg-type]
    ids = pl.Series("id", range(1, checked.orders.height + 1), dtype=pl.Int64)
    orders = checked.orders.with_columns(ids, pl.lit("captured").alias("status"))
    lines = checked.lines.join(orders.select("rec", pl.col("id").alias("order_id")), on="rec")
    return (_for_sqlite(orders.select(ORDER_COLUMNS)).rows(),
            lines.select(LINE_COLUMNS).rows())  # fmt: skip


def raw_sqlite(path: Path, order_rows: list[tuple[object, ...]],
               line_rows: list[tuple[object, ...]]) -> float:  # fmt: skip
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    o_sql = f"INSERT INTO orders VALUES ({', '.join('?' * len(ORDER_COLUMNS))})"
    l_sql = f"INSERT INTO order_lines VALUES ({', '.join('?' * len(LINE_COLUMNS))})"
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(o_sql, order_rows)
    conn.executemany(l_sql, line_rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def postgres(batch: object) -> None:
    from sqlalchemy import create_engine, text
    from tests.pg_server import PostgresServer

    server = PostgresServer()
    try:
        admin = create_engine(server.start(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench"))
        engine = make_engine(server.url("bench"))
        upgrade(engine)
        start = time.perf_counter()
        with UnitOfWork(engine) as uow:
            report = capture_batch(uow, batch)  # type: ignore[arg-type]
            uow.commit()
        elapsed = time.perf_counter() - start
        print(
            f"postgresql capture: {report.created:,} orders in {elapsed:.2f} s = "
            f"{report.created / elapsed:,.0f} orders/s (COPY; server with fsync off)"
        )
        engine.dispose()
        admin.dispose()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2, help="runs per side; best is reported")
    parser.add_argument("--postgres", action="store_true", help="also measure PostgreSQL")
    args = parser.parse_args()

    world = read_world()
    t0 = time.perf_counter()
    batch = generate_orders(world, args.orders, seed=args.seed)
    lines = batch.lines.height
    print(
        f"generated {args.orders:,} orders with {lines:,} lines in {time.perf_counter() - t0:.1f} s"
    )

    order_rows, line_rows = raw_rows(batch)
    ours_runs: list[float] = []
    raw_runs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):  # alternate, so both see the same machine conditions
            raw_path = Path(tmp) / f"raw{run}.db"
            migrated_sqlite(raw_path)
            raw_runs.append(raw_sqlite(raw_path, order_rows, line_rows))
            ours_s, created = ours(migrated_sqlite(Path(tmp) / f"ours{run}.db"), batch)
            ours_runs.append(ours_s)
            assert created == args.orders, f"only {created} of {args.orders} orders captured"
    ours_s, raw_s = min(ours_runs), min(raw_runs)
    ours_rate, raw_rate = args.orders / ours_s, args.orders / raw_s
    met = ours_rate >= 200_000 and ours_rate >= raw_rate / 2
    print(
        f"xborder bulk capture : {ours_s:6.2f} s {ours_rate:>10,.0f} orders/s"
        "  (validation + idempotency + ids + insert + commit)"
    )
    print(
        f"raw executemany      : {raw_s:6.2f} s {raw_rate:>10,.0f} orders/s"
        "  (pre-built tuples of the same rows)"
    )
    print(
        f"ratio                : {ours_rate / raw_rate:.0%} of raw; goal >= 50% and >= 200,000"
        f" orders/s: {'MET' if met else 'MISSED'}"
    )
    if args.postgres:
        postgres(batch)


if __name__ == "__main__":
    main()
