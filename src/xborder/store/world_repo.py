"""The world in the store: parties, hubs, products, warehouses, inventory, lanes, carriers, FX."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select

from xborder.domain.money import Money
from xborder.domain.world import World
from xborder.store.schema import (
    fx_rates,
    hubs,
    inventory,
    lanes,
    last_mile,
    parties,
    products,
    warehouses,
    worlds,
)
from xborder.store.snapshot import can_snapshot, snapshot_rows


def _minor(amount: Any, currency: str) -> int:
    return Money(amount, currency).minor


def world_rows(world: World) -> dict[Table, list[dict[str, Any]]]:
    """The rows each table receives for a world (money in minor units)."""
    return {
        parties: [
            {"id": p.id, "name": p.name, "roles": ",".join(sorted(p.roles)), "country": p.country,
             "customs_code": p.customs_code, "gln": p.gln}
            for p in world.parties
        ],
        fx_rates: [
            {"valid_from": f.date, "base": f.base, "quote": f.quote, "rate": f.rate,
             "source": f.source}
            for f in world.fx
        ],
        hubs: [h.model_dump() for h in world.hubs],
        products: [
            {**p.model_dump(exclude={"seller", "unit_value"}), "seller_id": p.seller,
             "unit_value_minor": _minor(p.unit_value, p.currency)}
            for p in world.products
        ],
        warehouses: [
            {**w.model_dump(exclude={"operator", "hub", "handling_per_order"}),
             "operator_id": w.operator, "hub_id": w.hub,
             "handling_minor": _minor(w.handling_per_order, w.handling_currency)}
            for w in world.warehouses
        ],
        inventory: [
            {"warehouse_id": i.warehouse, "sku": i.sku, "on_hand": i.on_hand,
             "reserved": i.reserved}
            for i in world.inventory
        ],
        lanes: [
            {**ln.model_dump(exclude={"carrier", "per_kg", "per_parcel", "minimum",
                                      "departure_days"}),
             "carrier_id": ln.carrier, "departure_days": ",".join(ln.departure_days),
             "per_kg_minor": _minor(ln.per_kg, ln.currency),
             "per_parcel_minor": _minor(ln.per_parcel, ln.currency),
             "minimum_minor": _minor(ln.minimum, ln.currency)}
            for ln in world.lanes
        ],
        last_mile: [
            {**m.model_dump(exclude={"carrier", "per_parcel", "per_kg"}),
             "carrier_id": m.carrier,
             "per_parcel_minor": _minor(m.per_parcel, m.currency),
             "per_kg_minor": _minor(m.per_kg, m.currency)}
            for m in world.last_mile
        ],
    }  # fmt: skip


class WorldRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def loaded(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.connection.execute(select(worlds)).mappings()]

    def add(self, world: World, at: datetime) -> dict[str, int]:
        """Store every entity of the world; returns the row count per table."""
        self.connection.execute(
            insert(worlds).values(
                name=world.meta.name, version=world.meta.version, valid_on=world.meta.valid_on,
                description=world.meta.description, loaded_at=at,
            )
        )  # fmt: skip
        counts: dict[str, int] = {}
        for table, rows in world_rows(world).items():
            if rows:
                self.connection.execute(insert(table), rows)
            counts[table.name] = len(rows)
        return counts

    def sellers(self) -> frozenset[str]:
        query = select(parties.c.id).where(parties.c.roles.like("%seller%"))
        return frozenset(str(r[0]) for r in self.connection.execute(query))

    def sellers_snapshot(self) -> frozenset[str]:
        """``sellers``, read without taking SQLite's write lock when no transaction is open
        (every transaction begins IMMEDIATE): on the driver connection in autocommit, a WAL
        snapshot read. Elsewhere (PostgreSQL, or inside a transaction) it is ``sellers``."""
        if not can_snapshot(self.connection):
            return self.sellers()
        rows = snapshot_rows(self.connection, "SELECT id FROM parties WHERE roles LIKE '%seller%'")
        return frozenset(str(r[0]) for r in rows)

    def counts(self) -> dict[str, int]:
        tables = (parties, hubs, products, warehouses, inventory, lanes, last_mile, fx_rates)
        return {
            t.name: int(self.connection.execute(select(func.count()).select_from(t)).scalar_one())
            for t in tables
        }

    def rows(self, table: Table) -> list[dict[str, Any]]:
        return [dict(r) for r in self.connection.execute(select(table)).mappings()]

    def warehouses(self) -> list[dict[str, Any]]:
        return self.rows(warehouses)

    def lanes(self) -> list[dict[str, Any]]:
        return self.rows(lanes)

    def last_mile(self) -> list[dict[str, Any]]:
        return self.rows(last_mile)

    def party_names(self, party_ids: Sequence[str]) -> dict[str, str]:
        query = select(parties.c.id, parties.c.name).where(parties.c.id.in_(list(party_ids)))
        return {str(i): str(n) for i, n in self.connection.execute(query)}

    def party_facts(self, party_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Name, country and China customs code (None when unregistered) of these parties."""
        p = parties.c
        query = select(p.id, p.name, p.country, p.customs_code).where(p.id.in_(list(party_ids)))
        return {
            str(r.id): {"name": r.name, "country": r.country, "customs_code": r.customs_code}
            for r in self.connection.execute(query)
        }

    def hub_offices(self) -> dict[str, str]:
        """Hub id -> the China customs office of the hub, for the hubs that have one."""
        query = select(hubs.c.id, hubs.c.customs_office).where(hubs.c.customs_office.is_not(None))
        return {str(i): str(o) for i, o in self.connection.execute(query)}

    def net_weights(self, skus: Sequence[str]) -> dict[str, Decimal]:
        """Sku -> the product's net weight in kg (exact)."""
        query = select(products.c.sku, products.c.net_weight_kg).where(
            products.c.sku.in_(list(skus))
        )
        return {str(s): Decimal(str(w)) for s, w in self.connection.execute(query)}
