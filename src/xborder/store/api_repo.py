"""API keys, rate windows and idempotency records in the store.

Everything a second worker must see lives here, not in process memory: a revoked key, the
requests a key spent in the current minute, the response stored under an ``Idempotency-Key``.
The two writes that workers race on are single atomic statements: the rate window is an
``INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count`` and an idempotency
record an ``INSERT ... ON CONFLICT DO NOTHING`` (the first writer wins, the loser reads it back).
Both forms run on SQLite (3.35+) and PostgreSQL.

``auth_key`` is the one read on every request. On SQLite every transaction of the platform
begins ``IMMEDIATE`` (it takes the write lock), so this read runs outside a transaction, on the
driver connection in autocommit: a WAL snapshot read that never waits for a writer nor blocks
one. Batched forms (``hit`` with a count, ``idempotent_many``, ``add_idempotent_many``) serve
the API's group commit of single orders and its per-worker rate counting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from xborder.store.chunks import chunks
from xborder.store.schema import parties
from xborder.store.schema_api import api_keys, api_rate_windows, idempotency_records
from xborder.store.snapshot import can_snapshot, snapshot_rows

KEY_COLUMNS = (
    "key_id",
    "party_id",
    "role",
    "scopes",
    "secret_hash",
    "label",
    "created_at",
    "revoked_at",
)
IDEMPOTENCY_COLUMNS = (
    "key_id",
    "idem_key",
    "request_hash",
    "status_code",
    "response_json",
    "created_at",
)


def _utc(value: Any) -> Any:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _row(row: Any) -> dict[str, Any]:
    return {k: _utc(v) for k, v in row._mapping.items()}


class ApiRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _dialect(self) -> Any:
        return postgresql if self.connection.dialect.name == "postgresql" else sqlite

    # -- keys ------------------------------------------------------------------------------

    def party_roles(self, party_id: str) -> frozenset[str] | None:
        """The world roles of ``party_id`` (``None``: no such party in the stored world)."""
        roles = self.connection.execute(
            select(parties.c.roles).where(parties.c.id == party_id)
        ).scalar_one_or_none()
        if roles is None:
            return None
        return frozenset(r for r in str(roles).split(",") if r)

    def add_key(self, row: dict[str, Any]) -> None:
        self.connection.execute(api_keys.insert().values(**row))

    def key(self, key_id: str) -> dict[str, Any] | None:
        row = self.connection.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return None if row is None else _row(row)

    def auth_key(self, key_id: str) -> dict[str, Any] | None:
        """What authentication needs of a key (party, role, scopes, secret hash, revoked or
        not), read without taking SQLite's write lock when no transaction is open."""
        if can_snapshot(self.connection):
            rows = snapshot_rows(
                self.connection,
                "SELECT key_id, party_id, role, scopes, secret_hash, revoked_at IS NOT NULL "
                "FROM api_keys WHERE key_id = ?",
                (key_id,),
            )
            found = rows[0] if rows else None
        else:
            k = api_keys.c
            found = self.connection.execute(
                select(k.key_id, k.party_id, k.role, k.scopes, k.secret_hash,
                       k.revoked_at.is_not(None)).where(k.key_id == key_id)
            ).first()  # fmt: skip
        if found is None:
            return None
        names = ("key_id", "party_id", "role", "scopes", "secret_hash", "revoked")
        return {**dict(zip(names, found, strict=True)), "revoked": bool(found[5])}

    def keys(self, party_id: str | None = None) -> list[dict[str, Any]]:
        """Every key (optionally one party's), oldest first, hashes included."""
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
        if party_id is not None:
            query = query.where(api_keys.c.party_id == party_id)
        return [_row(r) for r in self.connection.execute(query)]

    def revoke(self, key_id: str, at: datetime) -> None:
        """Set ``revoked_at`` unless already set (revoking again keeps the first time)."""
        self.connection.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    # -- rate windows ----------------------------------------------------------------------

    def hit(self, key_id: str, window_start: int, hits: int = 1) -> int:
        """Count ``hits`` requests of ``key_id`` in the window starting at ``window_start``
        (Unix seconds); the count after them, in one atomic statement."""
        stmt = (
            self._dialect()
            .insert(api_rate_windows)
            .values(key_id=key_id, window_start=window_start, count=hits)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key_id", "window_start"],
            set_={"count": api_rate_windows.c.count + hits},
        ).returning(api_rate_windows.c.count)
        return int(self.connection.execute(stmt).scalar_one())

    def prune_windows(self, key_id: str, before: int) -> int:
        """Delete ``key_id``'s windows that started before ``before``; how many."""
        result = self.connection.execute(
            delete(api_rate_windows).where(
                api_rate_windows.c.key_id == key_id,
                api_rate_windows.c.window_start < before,
            )
        )
        return int(result.rowcount)

    def window_count(self, key_id: str, window_start: int) -> int:
        count = self.connection.execute(
            select(api_rate_windows.c.count).where(
                api_rate_windows.c.key_id == key_id,
                api_rate_windows.c.window_start == window_start,
            )
        ).scalar_one_or_none()
        return int(count or 0)

    # -- idempotency -----------------------------------------------------------------------

    def idempotent(self, key_id: str, idem_key: str) -> dict[str, Any] | None:
        row = self.connection.execute(
            select(idempotency_records).where(
                idempotency_records.c.key_id == key_id,
                idempotency_records.c.idem_key == idem_key,
            )
        ).first()
        return None if row is None else _row(row)

    def idempotent_many(self, key_id: str, idem_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored records of ``key_id`` among ``idem_keys``, by idempotency key."""
        found: dict[str, dict[str, Any]] = {}
        r = idempotency_records.c
        for part in chunks(list(dict.fromkeys(idem_keys)), 500):
            rows = self.connection.execute(
                select(idempotency_records).where(r.key_id == key_id, r.idem_key.in_(part))
            )
            found.update((row.idem_key, _row(row)) for row in rows)
        return found

    def add_idempotent_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store each record unless one exists for its (key_id, idem_key) (first one wins)."""
        if rows:
            stmt = (
                self._dialect()
                .insert(idempotency_records)
                .on_conflict_do_nothing(index_elements=["key_id", "idem_key"])
            )
            self.connection.execute(stmt, list(rows))

    def add_idempotent(self, row: dict[str, Any]) -> bool:
        """Store the record unless one exists for (key_id, idem_key); whether this one was
        stored (``False``: another request got there first)."""
        stmt = (
            self._dialect()
            .insert(idempotency_records)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["key_id", "idem_key"])
            .returning(idempotency_records.c.key_id)
        )
        return self.connection.execute(stmt).first() is not None

    def prune_idempotent(self, before: datetime) -> int:
        """Delete idempotency records created before ``before``; how many."""
        result = self.connection.execute(
            delete(idempotency_records).where(idempotency_records.c.created_at < before)
        )
        return int(result.rowcount)
