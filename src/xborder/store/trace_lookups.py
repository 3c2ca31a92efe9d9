"""Read-only looks of the trace area outside the ledger: names for a timeline (hubs, warehouses,
parties, GLNs), a lane's p95 transit for its exceptions, and the packed parcel behind a tracking
number. A mixin of ``TraceRepository``, so the trace services still reach it as ``uow.trace``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from xborder.store.schema import hubs, lanes, parties, warehouses
from xborder.store.schema_planning import parcels


class TraceLookups:
    connection: Connection

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
