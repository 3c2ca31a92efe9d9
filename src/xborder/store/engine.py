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

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SYNCHRONOUS = "FULL"  # an acknowledged commit survives power loss (see the module docstring)


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
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB: bulk inserts keep indexes in memory
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: id allocation and checks cannot race.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
