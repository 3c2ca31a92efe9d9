"""Read-only looks of the trace area: names for a timeline (hubs, warehouses, parties, GLNs), a
lane's p95 transit for its exceptions, the packed parcel behind a tracking number, and the bulk
reads of verification (events, objects and memberships, streamed). A mixin of
``TraceRepository``, so the trace services still reach it as ``uow.trace``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, select

from xborder.store.schema import hubs, lanes, parties, warehouses
from xborder.store.schema_planning import parcels

# the columns a registration may fill in on an object registered earlier without them
OBJECT_FACTS = ("tracking_no", "sscc", "destination_postcode", "order_id", "lane")
# a whole object row, in the order the signed registry state hashes it (``chain.object_record``)
OBJECT_ROW = ("id", "key", "kind", *OBJECT_FACTS, "created_ms")


class TraceLookups:
    connection: Connection
    postgres: bool

    def _raw(self) -> Any:
        raise NotImplementedError

    def stream_events(self, columns: Sequence[str], size: int = 50_000) -> Iterator[list[Any]]:
        """All events in id order, in chunks, straight from the driver (verification streams).

        ``document`` comes back as UTF-8 bytes (what the chain hashes), not decoded text. On
        PostgreSQL a server-side cursor keeps memory flat however large the ledger is.
        """
        raw = self.connection.connection.driver_connection
        as_bytes = "convert_to(document, 'UTF8')" if self.postgres else "CAST(document AS BLOB)"
        cols = ", ".join(as_bytes if c == "document" else c for c in columns)
        cursor = raw.cursor(name="trace_stream") if self.postgres else raw.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT {cols} FROM trace_events ORDER BY id")
            while True:
                chunk = cursor.fetchmany(size)
                if not chunk:
                    return
                yield chunk
        finally:
            cursor.close()

    def stream_events_range(
        self, columns: Sequence[str], first: int, last: int, size: int = 50_000
    ) -> Iterator[list[Any]]:
        """Events with ``first <= id <= last`` in id order, in chunks, as ``stream_events``,
        each row followed by its object's key (null for an object id the registry lacks): a
        parallel verifier's share, read on its own connection."""
        as_bytes = "convert_to(e.document, 'UTF8')" if self.postgres else "CAST(e.document AS BLOB)"
        cols = ", ".join(as_bytes if c == "document" else f"e.{c}" for c in columns)
        raw = self.connection.connection.driver_connection
        cursor = raw.cursor(name="trace_range") if self.postgres else raw.cursor()  # type: ignore[union-attr]
        m = "%s" if self.postgres else "?"
        try:
            cursor.execute(
                f"SELECT {cols}, o.key FROM trace_events e "
                "LEFT JOIN trace_objects o ON o.id = e.object_id "
                f"WHERE e.id >= {m} AND e.id <= {m} ORDER BY e.id",
                (first, last),
            )
            while chunk := cursor.fetchmany(size):
                yield chunk
        finally:
            cursor.close()

    def stream_objects(
        self, size: int = 50_000, first: int = 0, last: int = 2**62
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Object rows (``OBJECT_ROW`` columns) with ``first <= id <= last`` (default: every
        one) in id order, in chunks (verification)."""
        m = "%s" if self.postgres else "?"
        cursor = self._raw()
        try:
            cursor.execute(
                f"SELECT {', '.join(OBJECT_ROW)} FROM trace_objects "
                f"WHERE id >= {m} AND id <= {m} ORDER BY id",
                (first, last),
            )
            while True:
                chunk = cursor.fetchmany(size)
                if not chunk:
                    return
                yield [tuple(r) for r in chunk]
        finally:
            cursor.close()

    def object_id_bounds(self) -> tuple[int, int]:
        """(smallest, largest) object id; (0, -1) for an empty registry."""
        cursor = self._raw()
        try:
            cursor.execute("SELECT MIN(id), MAX(id) FROM trace_objects")
            low, high = cursor.fetchone()
        finally:
            cursor.close()
        return (0, -1) if low is None else (int(low), int(high))

    def event_places(self, event_ids: Sequence[int]) -> dict[int, tuple[int, bytes, str | None]]:
        """Event id -> (batch id, Event Hash digest, object key) (to describe a break)."""
        if not event_ids:
            return {}
        cursor = self._raw()
        m = "%s" if self.postgres else "?"
        out: dict[int, tuple[int, bytes, str | None]] = {}
        try:
            for eid in sorted(set(event_ids)):
                cursor.execute(
                    "SELECT e.batch_id, e.hash, o.key FROM trace_events e "
                    f"LEFT JOIN trace_objects o ON o.id = e.object_id WHERE e.id = {m}",
                    (eid,),
                )
                row = cursor.fetchone()
                if row is not None:
                    out[eid] = (int(row[0]), bytes(row[1]), row[2])
        finally:
            cursor.close()
        return out

    def all_memberships(self) -> list[tuple[int, int, int, int | None]]:
        """Every (container, member, added event, removed event) row (verification)."""
        cursor = self._raw()
        try:
            cursor.execute(
                "SELECT container_id, member_id, added_event_id, removed_event_id "
                "FROM trace_memberships"
            )
            return [
                (int(c), int(m), int(a), None if r is None else int(r))
                for c, m, a, r in cursor.fetchall()
            ]
        finally:
            cursor.close()

    def lane_p95(self, lane_id: str | None) -> float | None:
        """The lane's p95 transit in days (``lanes``), None for no or an unknown lane."""
        if lane_id is None:
            return None
        value = self.connection.execute(
            select(lanes.c.transit_p95_days).where(lanes.c.id == lane_id)
        ).scalar()
        return None if value is None else float(value)

    def hub_names(self, hub_ids: Sequence[str]) -> dict[str, str]:
        return self._names(select(hubs.c.id, hubs.c.name).where(hubs.c.id.in_(list(hub_ids))))

    def warehouse_names(self, warehouse_ids: Sequence[str]) -> dict[str, str]:
        stmt = select(warehouses.c.id, warehouses.c.name)
        return self._names(stmt.where(warehouses.c.id.in_(list(warehouse_ids))))

    def party_names(self, party_ids: Sequence[str]) -> dict[str, str]:
        stmt = select(parties.c.id, parties.c.name).where(parties.c.id.in_(list(party_ids)))
        return self._names(stmt)

    def party_names_by_gln(self, glns: Sequence[str]) -> dict[str, str]:
        """GLN -> name of the party that holds it."""
        return self._names(
            select(parties.c.gln, parties.c.name).where(parties.c.gln.in_(list(glns)))
        )

    def _names(self, stmt: Any) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.connection.execute(stmt)}

    def parcel(
        self, *, tracking_no: str | None = None, sscc: str | None = None
    ) -> dict[str, Any] | None:
        """The packed parcel (``parcels``) with this tracking number or SSCC: its SSCC, lane and
        destination postcode, for parcels the trace registry knows less about."""
        if tracking_no is None and sscc is None:
            return None
        column = parcels.c.tracking_no if tracking_no is not None else parcels.c.sscc
        row = self.connection.execute(
            select(
                parcels.c.sscc,
                parcels.c.tracking_no,
                parcels.c.lane_id,
                parcels.c.destination_postcode,
            ).where(column == (tracking_no if tracking_no is not None else sscc))
        ).first()
        return dict(row._mapping) if row else None
