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

    def stream_objects(self, size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
        """Every object row (``OBJECT_ROW`` columns) in id order, in chunks (verification)."""
        cursor = self._raw()
        try:
            cursor.execute(f"SELECT {', '.join(OBJECT_ROW)} FROM trace_objects ORDER BY id")
            while True:
                chunk = cursor.fetchmany(size)
                if not chunk:
                    return
                yield [tuple(r) for r in chunk]
        finally:
            cursor.close()

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
