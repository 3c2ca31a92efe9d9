"""Stock positions and inbound stock: what replenishment reads and writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from xborder.store.schema import inventory, warehouses
from xborder.store.schema_planning import inbound_shipments


class InventoryRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def positions(self, kinds: Sequence[str]) -> list[dict[str, Any]]:
        """Per (warehouse, sku) at warehouses of these kinds: kind, on hand, reserved, and the
        quantity announced but not yet received."""
        inbound = (
            select(inbound_shipments.c.warehouse_id, inbound_shipments.c.sku,
                   func.sum(inbound_shipments.c.qty).label("inbound"))
            .where(inbound_shipments.c.received_at.is_(None))
            .group_by(inbound_shipments.c.warehouse_id, inbound_shipments.c.sku)
            .subquery()
        )  # fmt: skip
        query = (
            select(inventory.c.warehouse_id, inventory.c.sku, warehouses.c.kind,
                   inventory.c.on_hand, inventory.c.reserved,
                   func.coalesce(inbound.c.inbound, 0).label("inbound"))
            .join(warehouses, warehouses.c.id == inventory.c.warehouse_id)
            .outerjoin(inbound, and_(inbound.c.warehouse_id == inventory.c.warehouse_id,
                                     inbound.c.sku == inventory.c.sku))
            .where(warehouses.c.kind.in_(list(kinds)))
            .order_by(inventory.c.warehouse_id, inventory.c.sku)
        )  # fmt: skip
        return [dict(r._mapping) for r in self.connection.execute(query)]

    def announce(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert inbound notices; a ref already stored is left as it is. Returns new ones."""
        if not rows:
            return 0
        dialect = self.connection.dialect.name
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(inbound_shipments)
        result = self.connection.execute(
            stmt.on_conflict_do_nothing(index_elements=["ref"]).returning(inbound_shipments.c.ref),
            list(rows),
        )
        return len(result.all())

    def receive_due(self, now: datetime) -> list[dict[str, Any]]:
        """Mark every notice due by ``now`` received and add its quantity to on hand."""
        due = [
            dict(r._mapping)
            for r in self.connection.execute(
                select(inbound_shipments.c.ref, inbound_shipments.c.warehouse_id,
                       inbound_shipments.c.sku, inbound_shipments.c.qty,
                       inbound_shipments.c.expected_at)
                .where(inbound_shipments.c.received_at.is_(None))
                .where(inbound_shipments.c.expected_at <= now)
                .order_by(inbound_shipments.c.ref)
            )
        ]  # fmt: skip
        if not due:
            return []
        self.connection.execute(
            update(inbound_shipments)
            .where(inbound_shipments.c.ref == bindparam("r"))
            .values(received_at=bindparam("at")),
            [{"r": d["ref"], "at": d["expected_at"]} for d in due],
        )
        per_stock: dict[tuple[str, str], int] = {}
        for d in due:
            key = (str(d["warehouse_id"]), str(d["sku"]))
            per_stock[key] = per_stock.get(key, 0) + int(d["qty"])
        self.connection.execute(
            update(inventory)
            .where(and_(inventory.c.warehouse_id == bindparam("w"),
                        inventory.c.sku == bindparam("s")))
            .values(on_hand=inventory.c.on_hand + bindparam("q")),
            [{"w": w, "s": s, "q": q} for (w, s), q in per_stock.items()],
        )  # fmt: skip
        return due
