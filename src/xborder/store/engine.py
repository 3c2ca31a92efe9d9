"""Engines for SQLite (WAL, foreign keys, explicit transactions) and PostgreSQL (psycopg 3).

Durability on SQLite: ``synchronous=FULL`` on every connection. In WAL mode ``NORMAL`` syncs
the log only at checkpoints, so a commit the caller was told about (a posted transfer, a
captured order) can vanish on power loss or an OS crash; ``FULL`` syncs the log at every commit,
so what is acknowledged is on disk. It is per connection and per database file, not per table:
the ledger shares transactions with orders, parcels and the trace (one use case, one
transaction), so the whole store gets the ledger's promise. The cost, measured with
``benchmarks/bench_ledger.py``, is in ``docs/settlement.md`` (one fsync per commit).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SYNCHRONOUS = "FULL"  # an acknowledged commit survives power loss (see the module docstring)
BUSY_TIMEOUT_MS = 10_000  # how long a statement, or BEGIN IMMEDIATE, waits for another writer
BEGIN_POLL_S = (0.0002, 0.002)  # first and longest pause between two tries of BEGIN IMMEDIATE


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy own transaction boundaries (pysqlite's implicit BEGIN breaks SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First: every later pragma (journal_mode=WAL takes a lock on a new file) and every
        # BEGIN IMMEDIATE waits up to this long for another writer instead of failing at once.
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB: bulk inserts keep indexes in memory
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: id allocation and checks cannot race.
        begin_immediate(connection.connection.driver_connection)

    return engine


def begin_immediate(raw: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting for another process's write transaction by polling every
    0.2-2 ms (up to ``BUSY_TIMEOUT_MS``) instead of through SQLite's busy handler.

    Why: the busy handler sleeps in growing steps of up to 100 ms, so with several processes
    writing short transactions (the API's workers) a waiter kept sleeping long after the lock
    was free: two workers captured fewer orders than one, at a p99 of over 400 ms (measured
    with ``benchmarks/bench_api.py``). Statements inside a transaction keep the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause, longest = BEGIN_POLL_S
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, longest)
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
