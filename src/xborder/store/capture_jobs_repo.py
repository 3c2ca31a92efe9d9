"""The store behind the EPCIS 2.0 REST bindings: capture jobs, and the ledger reads they need.

``TraceRepository.query`` serves the CLI's SimpleEventQuery subset. The REST bindings need more
of the ledger than that: keyset pages (``id > after``), the event type, the record time (the
signed batch's ``created_ms``, the moment the ledger recorded the event), and events looked up
by their ``eventID``. That SQL lives here with the jobs, read-only over the trace tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text

from xborder.store.schema_capture import capture_job_epcs, capture_job_events, capture_jobs
from xborder.store.schema_trace import trace_events, trace_memberships
from xborder.store.trace_filters import event_filters

# event columns a page filters with "column IN values" (values canonical, as stored)
EQUALS_COLUMNS = ("event_type", "action", "biz_step", "disposition", "biz_location", "read_point")
JOB_COLUMNS = (
    "seq", "capture_id", "party_id", "key_id", "created_at", "finished_at", "running", "success",
    "error_behaviour", "event_count", "stored", "duplicates", "errors",
)  # fmt: skip


class CaptureJobRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # -- transactions --------------------------------------------------------------------------
    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception rolls back only what ran inside the block, so a
        failed capture leaves nothing in the ledger while its job is still recorded."""
        nested = self.connection.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            raise
        nested.commit()

    # -- jobs ----------------------------------------------------------------------------------
    def insert_job(self, row: Mapping[str, Any]) -> None:
        self.connection.execute(insert(capture_jobs), [dict(row)])

    def job(self, capture_id: str, party_id: str | None) -> dict[str, Any] | None:
        """One job; ``party_id`` (None: any party) confines it to the party that posted it."""
        stmt = select(capture_jobs).where(capture_jobs.c.capture_id == capture_id)
        if party_id is not None:
            stmt = stmt.where(capture_jobs.c.party_id == party_id)
        row = self.connection.execute(stmt).first()
        return dict(row._mapping) if row else None

    def jobs(self, party_id: str | None, after_seq: int | None, limit: int) -> list[dict[str, Any]]:
        """Jobs in the order they were created, after ``after_seq`` (a keyset page)."""
        stmt = select(capture_jobs).order_by(capture_jobs.c.seq).limit(limit)
        if party_id is not None:
            stmt = stmt.where(capture_jobs.c.party_id == party_id)
        if after_seq is not None:
            stmt = stmt.where(capture_jobs.c.seq > after_seq)
        return [dict(r._mapping) for r in self.connection.execute(stmt)]

    def add_job_events(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """(capture id, ledger event id, eventID) of the events a job appended."""
        if rows:
            self.connection.execute(
                insert(capture_job_events),
                [{"capture_id": c, "event_id": e, "epcis_event_id": i} for c, e, i in rows],
            )

    def add_event_epcs(self, rows: Sequence[tuple[str, int]]) -> None:
        """(canonical identifier, ledger event id) of what the appended events name."""
        if rows:
            self.connection.execute(
                insert(capture_job_epcs), [{"epc": c, "event_id": e} for c, e in sorted(set(rows))]
            )

    def ids_naming(self, epcs: Sequence[str]) -> list[int]:
        """Ledger ids of the events captured over HTTP that name any of ``epcs``."""
        stmt = (
            select(capture_job_epcs.c.event_id)
            .where(capture_job_epcs.c.epc.in_(bindparam("epcs", expanding=True)))
            .distinct()
        )
        return sorted(int(x) for (x,) in self.connection.execute(stmt, {"epcs": list(epcs)}))

    # -- what a capture appended ---------------------------------------------------------------
    def last_event_id(self) -> int:
        value = self.connection.execute(select(func.max(trace_events.c.id))).scalar()
        return int(value or 0)

    def events_after(self, event_id: int) -> list[Any]:
        """(id, object_id, hash, document) of the ledger events after ``event_id``, in order."""
        e = trace_events.c
        stmt = select(e.id, e.object_id, e.hash, e.document).where(e.id > event_id).order_by(e.id)
        return list(self.connection.execute(stmt))

    def members_added_after(self, event_id: int) -> set[int]:
        """Objects put into a container by an event after ``event_id``."""
        m = trace_memberships.c
        stmt = select(m.member_id).where(m.added_event_id > event_id).distinct()
        return {int(x) for (x,) in self.connection.execute(stmt)}

    # -- event reads ---------------------------------------------------------------------------
    def ids_by_epcis_id(self, epcis_event_id: str) -> list[int]:
        """Ledger ids of the events captured over HTTP under this eventID (indexed)."""
        j = capture_job_events.c
        stmt = select(j.event_id).where(j.epcis_event_id == epcis_event_id).distinct()
        return sorted(int(x) for (x,) in self.connection.execute(stmt))

    def ids_by_hash(self, digest: bytes) -> list[int]:
        """Ledger ids of the events with this Event Hash ID digest (a scan: the ledger indexes
        only object and seq, to keep capture fast)."""
        stmt = select(trace_events.c.id).where(trace_events.c.hash == digest)
        return sorted(int(x) for (x,) in self.connection.execute(stmt))

    def events_page(
        self,
        columns: Sequence[str],
        *,
        visible_to: str | None = None,
        equals: Mapping[str, Sequence[str]] | None = None,
        since_ms: int | None = None,
        before_ms: int | None = None,
        recorded_since_ms: int | None = None,
        recorded_before_ms: int | None = None,
        object_ids: Sequence[int] | None = None,
        event_ids: Sequence[int] | None = None,
        or_event_ids: Sequence[int] = (),
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """Events in id order (rows with ``columns`` of ``trace_events`` plus ``record_ms``).

        ``visible_to``: only objects that party takes part in and the containers that carried
        them (the ledger's visibility rule, as ``TraceRepository.query``); ``equals``: column
        (``EQUALS_COLUMNS``) -> allowed values; event times ``since_ms`` inclusive and
        ``before_ms`` exclusive, record times likewise; ``object_ids`` / ``event_ids``: only
        those (``or_event_ids`` widens ``object_ids`` by these events); ``after_id``: the keyset
        of the previous page (exclusive).
        """
        where, params = event_filters(visible_to, equals, EQUALS_COLUMNS)
        bounds = (
            ("e.event_time_ms >=", since_ms),
            ("e.event_time_ms <", before_ms),
            ("b.created_ms >=", recorded_since_ms),
            ("b.created_ms <", recorded_before_ms),
            ("e.id >", after_id),
        )
        for i, (condition, value) in enumerate(bounds):
            if value is not None:
                where.append(f"{condition} :bound_{i}")
                params[f"bound_{i}"] = int(value)
        if object_ids is not None:
            clause = "e.object_id IN :object_ids"
            params["object_ids"] = sorted(set(object_ids))
            if or_event_ids:
                clause = f"({clause} OR e.id IN :or_event_ids)"
                params["or_event_ids"] = sorted(set(or_event_ids))
            where.append(clause)
        if event_ids is not None:
            where.append("e.id IN :event_ids")
            params["event_ids"] = sorted(set(event_ids))
        cols = ", ".join(f"e.{c}" for c in columns)
        sql = (
            f"SELECT {cols}, b.created_ms AS record_ms FROM trace_events e"
            f" JOIN trace_batches b ON b.id = e.batch_id WHERE {' AND '.join(where)} ORDER BY e.id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        stmt = text(sql)
        for name, value in params.items():
            if isinstance(value, list):
                stmt = stmt.bindparams(bindparam(name, expanding=True))
        return list(self.connection.execute(stmt, params))
