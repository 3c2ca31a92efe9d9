"""Reads that must not take SQLite's write lock.

On SQLite every transaction of the platform begins ``IMMEDIATE`` (``store.engine``), so even a
read inside one takes the one write lock. A read that serves work done before a write (the API
key on every request, the seller set and stored order times for validation before the write
transaction) runs instead on the driver connection in autocommit: a WAL snapshot read that never
waits for a writer nor blocks one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


def can_snapshot(connection: Connection) -> bool:
    """Whether ``snapshot_rows`` applies: SQLite, with no transaction open on the connection."""
    return connection.dialect.name == "sqlite" and not connection.in_transaction()


def snapshot_rows(connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """The rows of ``sql`` (qmark parameters) read on the driver connection in autocommit;
    only where ``can_snapshot`` holds."""
    raw = connection.connection.driver_connection
    assert raw is not None
    cursor = raw.execute(sql, params)
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()
