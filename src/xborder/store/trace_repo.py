"""The traceability ledger in the store: set-based appends and the reads the trace service needs.

Bulk writes go through the driver (``executemany`` on SQLite, ``COPY`` on PostgreSQL). The ledger
is append-only: no method here updates or deletes an event or a batch. All of the trace area's
SQL lives here (the services build no SQL), including the few read-only looks at the world
(hub and party names, a lane's p95 transit) and at the parcels table a timeline needs.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import groupby
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, func, select, text

from xborder.store.chunks import chunks
from xborder.store.engine import make_engine
from xborder.store.schema_trace import (
    trace_batches,
    trace_events,
    trace_memberships,
    trace_objects,
    trace_participants,
    trace_party_keys,
)
from xborder.store.trace_filters import event_filters
from xborder.store.trace_lookups import OBJECT_FACTS, OBJECT_ROW, TraceLookups

EVENT_COLUMNS = (
    "id", "object_id", "seq", "batch_id", "party_id", "event_type", "action", "biz_step",
    "disposition", "read_point", "biz_location", "event_time_ms", "hash", "prev", "chain",
    "document",
)  # fmt: skip
_CHUNK = 20_000
# EPCIS query parameters that compare one stored column with a list of values
EQUALS_COLUMNS = ("biz_step", "disposition", "biz_location", "read_point")
__all__ = ["EQUALS_COLUMNS", "EVENT_COLUMNS", "OBJECT_FACTS", "OBJECT_ROW", "TraceRepository"]
_TABLES = {"objects": trace_objects, "events": trace_events, "batches": trace_batches}


@contextmanager
def reader(url: str) -> Iterator[TraceRepository]:
    """A read-only ``TraceRepository`` on its own connection to the database at ``url`` (one
    read transaction; a parallel verifier's process opens one)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            yield TraceRepository(connection)
            connection.rollback()
    finally:
        engine.dispose()


@lru_cache(maxsize=16)
def _row_type(columns: tuple[str, ...]) -> Any:
    return namedtuple("TraceRow", columns)


class TraceRepository(TraceLookups):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.mark = "%s" if self.postgres else "?"

    def shared_url(self) -> str | None:
        """The URL another process can open to read this very database, or None when it
        cannot (an in-memory SQLite database)."""
        url = self.connection.engine.url
        if not self.postgres and url.database in (None, "", ":memory:"):
            return None
        if not self.postgres and str(url.database).startswith("file:"):
            return None
        return url.render_as_string(hide_password=False)

    def _raw(self) -> Any:
        # the driver's own cursor: bulk paths skip SQLAlchemy's per-parameter compilation
        return self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def _select_in(
        self, sql: str, values: Sequence[Any], before: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """Run ``sql`` whose ``{in_}`` stands for "column IN values", chunked, via the driver;
        ``before`` are the parameters of placeholders that come before it."""
        out: list[tuple[Any, ...]] = []
        cursor = self._raw()
        try:
            for part in chunks(list(values), _CHUNK):
                if self.postgres:
                    cursor.execute(sql.replace("{in_}", "= ANY(%s)"), (*before, list(part)))
                else:
                    marks = ",".join("?" * len(part))
                    cursor.execute(sql.replace("{in_}", f"IN ({marks})"), (*before, *part))
                out.extend(cursor.fetchall())
        finally:
            cursor.close()
        return out

    def _executemany(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cursor = self._raw()
        try:
            cursor.executemany(sql.replace("?", self.mark), rows)
        finally:
            cursor.close()

    # -- concurrency ---------------------------------------------------------------------------
    def lock(self) -> None:
        """Serialise ledger writers: chain heads and ids must not race (SQLite: BEGIN IMMEDIATE)."""
        if self.postgres:
            self.connection.execute(text("SELECT pg_advisory_xact_lock(7355608)"))
        else:
            self.connection.execute(text("SELECT 1"))  # opens the IMMEDIATE transaction
            self.connection.exec_driver_sql("PRAGMA cache_size=-262144")

    def next_id(self, table: Literal["objects", "events", "batches"]) -> int:
        """The next free id of ``trace_<table>`` (ids are assigned under ``lock``)."""
        column = _TABLES[table].c.id
        value = self.connection.execute(select(func.max(column))).scalar()
        return int(value or 0) + 1

    # -- objects -------------------------------------------------------------------------------
    def object_ids(self, keys: Sequence[str]) -> dict[str, int]:
        rows = self._select_in("SELECT key, id FROM trace_objects WHERE key {in_}", keys)
        return {k: int(i) for k, i in rows}

    def insert_objects(self, rows: Sequence[dict[str, Any]]) -> None:
        cols = ("id", "key", "kind", *OBJECT_FACTS, "created_ms")
        marks = ", ".join("?" for _ in cols)
        self._executemany(
            f"INSERT INTO trace_objects ({', '.join(cols)}) VALUES ({marks})",
            [tuple(r[c] for c in cols) for r in rows],
        )

    def object_facts(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Key -> the whole row (``OBJECT_ROW``) of the registered objects among ``keys``."""
        rows = self._select_in(
            f"SELECT {', '.join(OBJECT_ROW)} FROM trace_objects WHERE key {{in_}}", keys
        )
        return {r[1]: dict(zip(OBJECT_ROW, r, strict=True)) for r in rows}

    def count_objects(self) -> int:
        return int(
            self.connection.execute(select(func.count()).select_from(trace_objects)).scalar() or 0
        )

    def fill_objects(self, updates: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Set facts an object was registered without (the caller passes only empty ones)."""
        for object_id, values in updates:
            if values:
                self.connection.execute(
                    trace_objects.update().where(trace_objects.c.id == object_id).values(**values)
                )

    def object_key(self, object_id: int) -> str | None:
        return self.connection.execute(
            select(trace_objects.c.key).where(trace_objects.c.id == object_id)
        ).scalar()

    def object_by_tracking(self, tracking_no: str) -> dict[str, Any] | None:
        row = self.connection.execute(
            select(trace_objects).where(trace_objects.c.tracking_no == tracking_no)
        ).first()
        return dict(row._mapping) if row else None

    def object_by_key(self, key: str) -> dict[str, Any] | None:
        row = self.connection.execute(
            select(trace_objects).where(trace_objects.c.key == key)
        ).first()
        return dict(row._mapping) if row else None

    def objects(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        stmt = select(trace_objects).where(trace_objects.c.id.in_(bindparam("ids", expanding=True)))
        for part in chunks(list(ids), _CHUNK):
            for row in self.connection.execute(stmt, {"ids": list(part)}):
                out[int(row.id)] = dict(row._mapping)
        return out

    def add_participants(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Record (object, party) participation; pairs already recorded are skipped (one
        set-wise ``ON CONFLICT DO NOTHING`` insert on both stores, no read first)."""
        self._executemany(
            "INSERT INTO trace_participants (object_id, party_id) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            list(dict.fromkeys(pairs)),
        )

    def visible_keys(self, party_id: str, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` whose objects ``party_id`` takes part in (declared participants)."""
        sql = (
            "SELECT o.key FROM trace_objects o JOIN trace_participants p ON p.object_id = o.id "
            f"WHERE p.party_id = {self.mark} AND o.key {{in_}}"
        )
        return {str(k) for (k,) in self._select_in(sql, sorted(set(keys)), (party_id,))}

    def participants(self, object_id: int) -> set[str]:
        declared = self.connection.execute(
            select(trace_participants.c.party_id).where(trace_participants.c.object_id == object_id)
        ).scalars()
        captured = self.connection.execute(
            select(trace_events.c.party_id).where(trace_events.c.object_id == object_id).distinct()
        ).scalars()
        return set(declared) | set(captured)

    def containers_of(self, member_id: int) -> list[tuple[int, int, int | None]]:
        rows = self.connection.execute(
            select(
                trace_memberships.c.container_id,
                trace_memberships.c.added_event_id,
                trace_memberships.c.removed_event_id,
            ).where(trace_memberships.c.member_id == member_id)
        )
        return [(int(c), int(a), None if r is None else int(r)) for c, a, r in rows]

    def first_contained(self, member_ids: Sequence[int]) -> dict[int, int]:
        """For objects ever put into a container: the time (epoch ms) it first happened."""
        rows = self._select_in(
            "SELECT m.member_id, MIN(e.event_time_ms) FROM trace_memberships m "
            "JOIN trace_events e ON e.id = m.added_event_id "
            "WHERE m.member_id {in_} GROUP BY m.member_id",
            sorted(set(member_ids)),
        )
        return {int(m): int(t) for m, t in rows}

    def members_of(self, container_id: int) -> list[int]:
        rows = self.connection.execute(
            select(trace_memberships.c.member_id).where(
                trace_memberships.c.container_id == container_id,
                trace_memberships.c.removed_event_id.is_(None),
            )
        )
        return [int(m) for (m,) in rows]

    def add_memberships(self, rows: Sequence[tuple[int, int, int]]) -> None:
        """(container, member, added event) rows."""
        self._executemany(
            "INSERT INTO trace_memberships (container_id, member_id, "
            "added_event_id) VALUES (?, ?, ?)",
            rows,
        )

    def close_memberships(
        self, container_id: int, event_id: int, members: Sequence[int] | None
    ) -> None:
        """Mark members as taken out of a container (not a ledger row: derived bookkeeping)."""
        self.close_memberships_many([(container_id, event_id, members)])

    def close_memberships_many(
        self, closes: Sequence[tuple[int, int, Sequence[int] | None]]
    ) -> None:
        """``close_memberships`` for many (container, event, members or None = all) at once,
        applied in the given order: two ``executemany`` statements per run of the same kind."""
        base = (
            "UPDATE trace_memberships SET removed_event_id = ? WHERE container_id = ? "
            "AND removed_event_id IS NULL"
        )
        for every, group in groupby(closes, key=lambda c: c[2] is None):
            if every:
                self._executemany(base, [(event, container) for container, event, _ in group])
            else:
                self._executemany(
                    base + " AND member_id = ?",
                    [(e, c, m) for c, e, members in group for m in members or ()],
                )

    # -- chain heads ---------------------------------------------------------------------------
    def heads(self, object_ids: Sequence[int]) -> dict[int, tuple[int, bytes]]:
        """The last (seq, chain) of each object that already has events."""
        rows = self._select_in(
            "SELECT e.object_id, e.seq, e.chain FROM trace_events e JOIN ("
            " SELECT object_id, MAX(seq) AS seq FROM trace_events"
            " WHERE object_id {in_} GROUP BY object_id) m"
            " ON e.object_id = m.object_id AND e.seq = m.seq",
            sorted(set(object_ids)),
        )
        return {int(o): (int(s), bytes(c)) for o, s, c in rows}

    def ids_and_heads(self, keys: Sequence[str]) -> dict[str, tuple[int, int, bytes | None]]:
        """Key -> (object id, last seq, last chain value) of the registered objects among
        ``keys`` (seq 0 and no chain for an object without events): capture's lookups before
        an append in one set-wise statement per chunk of keys."""
        rows = self._select_in(
            "SELECT o.key, o.id, e.seq, e.chain FROM trace_objects o "
            "LEFT JOIN trace_events e ON e.object_id = o.id AND e.seq = "
            "(SELECT MAX(m.seq) FROM trace_events m WHERE m.object_id = o.id) "
            "WHERE o.key {in_}",
            keys,
        )
        return {
            str(k): (int(i), int(q or 0), None if c is None else bytes(c)) for k, i, q, c in rows
        }

    def last_batch(self, party_id: str) -> dict[str, Any] | None:
        row = self.connection.execute(
            select(trace_batches)
            .where(trace_batches.c.party_id == party_id)
            .order_by(trace_batches.c.id.desc())
            .limit(1)
        ).first()
        return dict(row._mapping) if row else None

    def last_root(self, party_id: str) -> bytes | None:
        row = self.connection.execute(
            select(trace_batches.c.root)
            .where(trace_batches.c.party_id == party_id)
            .order_by(trace_batches.c.id.desc())
            .limit(1)
        ).first()
        return bytes(row[0]) if row else None

    # -- appends -------------------------------------------------------------------------------
    def insert_events(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append event rows (tuples in ``EVENT_COLUMNS`` order) with the driver's bulk path."""
        if not rows:
            return
        raw = self.connection.connection.driver_connection
        cursor = raw.cursor()  # type: ignore[union-attr]
        try:
            if self.postgres:
                cols = ", ".join(EVENT_COLUMNS)
                with cursor.copy(f"COPY trace_events ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in EVENT_COLUMNS)
                cursor.executemany(
                    f"INSERT INTO trace_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})", rows
                )
        finally:
            cursor.close()

    def insert_batch(self, row: dict[str, Any]) -> None:
        self.connection.execute(trace_batches.insert(), [row])

    def add_key(self, party_id: str, key_id: str, public: bytes, now_ms: int) -> None:
        k = trace_party_keys.c
        exists = self.connection.execute(
            select(k.key_id).where(k.party_id == party_id, k.key_id == key_id)
        ).first()
        if exists is None:
            row = {"party_id": party_id, "key_id": key_id, "public_key": public}
            self.connection.execute(trace_party_keys.insert(), [row | {"created_ms": now_ms}])

    def public_keys(self) -> dict[tuple[str, str], bytes]:
        k = trace_party_keys.c
        rows = self.connection.execute(select(k.party_id, k.key_id, k.public_key))
        return {(p, i): bytes(pub) for p, i, pub in rows}

    # -- reads ---------------------------------------------------------------------------------
    def batches(self) -> list[dict[str, Any]]:
        rows = self.connection.execute(select(trace_batches).order_by(trace_batches.c.id))
        return [dict(r._mapping) for r in rows]

    def events_of(self, object_ids: Sequence[int], columns: Sequence[str]) -> list[Any]:
        cols = ", ".join(f"e.{c}" for c in columns)
        sql = text(f"SELECT {cols} FROM trace_events e WHERE e.object_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        return list(self.connection.execute(sql, {"ids": list(object_ids)}))

    def history(self, object_id: int, columns: Sequence[str]) -> list[Any]:
        """An object's own events plus those of containers while it was inside (named tuples,
        unordered). The hot read path: one indexed statement on the driver's cursor."""
        cols = ", ".join(f"e.{c}" for c in columns)
        m = self.mark
        sql = (
            f"SELECT {cols} FROM trace_events e WHERE e.object_id = {m} "
            f"UNION ALL SELECT {cols} FROM trace_memberships ms "
            "JOIN trace_events e ON e.object_id = ms.container_id "
            f"WHERE ms.member_id = {m} AND e.id >= ms.added_event_id "
            "AND (ms.removed_event_id IS NULL OR e.id <= ms.removed_event_id)"
        )
        row = _row_type(tuple(columns))
        cursor = self._raw()
        try:
            cursor.execute(sql, (object_id, object_id))
            return [row._make(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    def query(
        self,
        columns: Sequence[str],
        *,
        visible_to: str | None = None,
        equals: Mapping[str, Sequence[str]] | None = None,
        since_ms: int | None = None,
        before_ms: int | None = None,
        object_ids: Sequence[int] | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """Events in id order. ``visible_to``: only objects that party takes part in and the
        containers that carried them; ``equals``: column (``EQUALS_COLUMNS``) -> allowed values;
        ``since_ms`` inclusive, ``before_ms`` exclusive; ``object_ids``: only those objects."""
        where, params = event_filters(visible_to, equals, EQUALS_COLUMNS)
        if since_ms is not None:
            where.append("e.event_time_ms >= :since")
            params["since"] = since_ms
        if before_ms is not None:
            where.append("e.event_time_ms < :before")
            params["before"] = before_ms
        if object_ids is not None:
            where.append("e.object_id IN :object_ids")
            params["object_ids"] = sorted(set(object_ids))
        cols = ", ".join(f"e.{c}" for c in columns)
        sql = f"SELECT {cols} FROM trace_events e WHERE {' AND '.join(where)} ORDER BY e.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        stmt = text(sql)
        for name, value in params.items():
            if isinstance(value, list):
                stmt = stmt.bindparams(bindparam(name, expanding=True))
        return list(self.connection.execute(stmt, params))
