"""Parcels and bags in the store: the one parcel that planning, trace, customs and settlement all
refer to (by id, SSCC or tracking number), and the bags (consolidations) it travels in.

Reads by many ids go in chunks; writes are one ``executemany`` per statement. The lifecycle use
cases (``xborder.services.parcels``) are the only writers of a parcel's status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, bindparam, func, insert, or_, select, type_coerce, update
from sqlalchemy.types import NullType

from xborder.store.chunks import chunks
from xborder.store.schema import (
    hubs,
    lanes,
    last_mile,
    order_lines,
    orders,
    products,
    warehouses,
)
from xborder.store.schema_planning import consolidations, parcels, plan_assignments

CHUNK = 500

PARCEL_COLUMNS = (
    "id", "order_id", "sscc", "tracking_no", "status", "status_at", "consolidation_id",
    "lane_id", "last_mile_id", "warehouse_id", "packed_at", "departed_at", "delivered_at",
    "declared", "destination_country", "promised_by",
)  # fmt: skip
PARCEL_SCHEMA: dict[str, Any] = {
    "id": pl.String, "order_id": pl.Int64, "sscc": pl.String, "tracking_no": pl.String,
    "status": pl.String, "status_at": pl.Datetime("us", "UTC"), "consolidation_id": pl.String,
    "lane_id": pl.String, "last_mile_id": pl.String, "warehouse_id": pl.String,
    "packed_at": pl.Datetime("us", "UTC"), "departed_at": pl.Datetime("us", "UTC"),
    "delivered_at": pl.Datetime("us", "UTC"), "declared": pl.Boolean,
    "destination_country": pl.String, "promised_by": pl.Date,
}  # fmt: skip


def _utc(value: Any) -> Any:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


_TIMES = tuple(i for i, name in enumerate(PARCEL_COLUMNS) if name.endswith("_at"))
# the columns SQLite hands back as text or 0/1: the times, the promise date and the flag
_UNTYPED = frozenset(
    i for i, name in enumerate(PARCEL_COLUMNS)
    if name.endswith("_at") or name in ("promised_by", "declared")
)  # fmt: skip


def _typed(i: int, values: Sequence[Any]) -> Sequence[Any]:
    """A column read untyped (``ParcelRepository._select``) as SQLAlchemy would have
    typed it: SQLite hands back text and 0/1, the same ``fromisoformat`` and truth test."""
    if i not in _UNTYPED or not any(isinstance(v, str | int) for v in values):
        return values
    name = PARCEL_COLUMNS[i]
    if name == "declared":
        return [None if v is None else bool(v) for v in values]
    kind = date if name == "promised_by" else datetime
    return [kind.fromisoformat(v) if isinstance(v, str) else v for v in values]


def _times(values: Sequence[Any]) -> pl.Series:
    """A stored time column as UTC. SQLite's naive values are UTC already and polars reads
    naive values into a UTC column as UTC: no Python call per value (the in-transit parcels are
    read several times a cycle)."""
    if all(v is None or (isinstance(v, datetime) and v.tzinfo is None) for v in values):
        return pl.Series(values, dtype=pl.Datetime("us", "UTC"))
    return pl.Series([_utc(v) for v in values], dtype=pl.Datetime("us", "UTC"))


def _frame(rows: Sequence[Any]) -> pl.DataFrame:
    """Parcel rows (PARCEL_COLUMNS) as a frame, built column by column."""
    if not rows:
        return pl.DataFrame(schema=PARCEL_SCHEMA)
    columns = [_typed(i, values) for i, values in enumerate(zip(*rows, strict=True))]
    return pl.DataFrame([
        _times(columns[i]).alias(name) if i in _TIMES
        else pl.Series(name, columns[i], dtype=PARCEL_SCHEMA[name])
        for i, name in enumerate(PARCEL_COLUMNS)
    ])  # fmt: skip


class ParcelRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- packing ------------------------------------------------------------------------------
    def to_pack(self, planned: str, order_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Planned orders with a source and no parcel yet, with what packing needs to know:
        where it goes, who takes part, and the parcel's weight and volume from its lines."""
        line, prod = order_lines.c, products.c
        size = (
            select(
                line.order_id,
                func.sum(line.qty * prod.gross_weight_kg).label("gross_kg"),
                func.sum(line.qty * prod.length_cm * prod.width_cm * prod.height_cm).label("cm3"),
            )
            .join(products, prod.sku == line.sku)
            .group_by(line.order_id)
            .subquery()
        )
        o, a = orders.c, plan_assignments.c
        query = (
            select(
                o.id.label("order_id"), a.warehouse_id, a.lane_id, a.last_mile_id,
                a.departure_date, o.consignee_country, o.consignee_postcode, o.promised_by,
                o.seller_id, o.platform_id, o.placed_at, o.origin_country,
                warehouses.c.operator_id, warehouses.c.country.label("warehouse_country"),
                lanes.c.carrier_id.label("lane_carrier"),
                last_mile.c.carrier_id.label("last_mile_carrier"),
                size.c.gross_kg, size.c.cm3,
            )
            .join(plan_assignments, a.order_id == o.id)
            .join(warehouses, warehouses.c.id == a.warehouse_id)
            .join(size, size.c.order_id == o.id)
            .outerjoin(lanes, lanes.c.id == a.lane_id)
            .outerjoin(last_mile, last_mile.c.id == a.last_mile_id)
            .where(o.status == planned, a.warehouse_id.is_not(None))
            .where(o.id.not_in(select(parcels.c.order_id)))
            .order_by(o.id)
        )  # fmt: skip
        if order_ids is None:
            return [dict(r._mapping) for r in self.connection.execute(query)]
        out: list[dict[str, Any]] = []
        for chunk in chunks(sorted({int(i) for i in order_ids}), CHUNK):
            found = self.connection.execute(query.where(o.id.in_(chunk)))
            out.extend(dict(r._mapping) for r in found)
        return out

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(parcels), list(rows))

    # --- finding parcels and bags -------------------------------------------------------------
    def _select(self) -> Any:
        """PARCEL_COLUMNS, with the times, the date and the flag left to ``_frame`` to convert:
        the in-transit parcels are read several times a simulated cycle, and SQLAlchemy's
        per-value conversion was most of that read's time."""
        return select(*(
            type_coerce(parcels.c[name], NullType()).label(name) if i in _UNTYPED
            else parcels.c[name]
            for i, name in enumerate(PARCEL_COLUMNS)
        ))  # fmt: skip

    def find(self, subjects: Sequence[str]) -> pl.DataFrame:
        """Parcels whose tracking number or SSCC is among ``subjects`` (with a ``subject``
        column saying which of the two matched)."""
        rows: list[Any] = []
        for chunk in chunks(sorted(set(subjects)), CHUNK):
            rows.extend(self.connection.execute(self._select().where(
                or_(parcels.c.tracking_no.in_(chunk), parcels.c.sscc.in_(chunk)))))  # fmt: skip
        frame = _frame(rows)
        return pl.concat([
            frame.with_columns(pl.col("tracking_no").alias("subject")),
            frame.with_columns(pl.col("sscc").alias("subject")),
        ]).filter(pl.col("subject").is_in(list(subjects)))  # fmt: skip

    def by_ids(self, parcel_ids: Sequence[str]) -> pl.DataFrame:
        rows: list[Any] = []
        for chunk in chunks(sorted(set(parcel_ids)), CHUNK):
            rows.extend(self.connection.execute(self._select().where(parcels.c.id.in_(chunk))))
        return _frame(rows)

    def of_orders(self, order_ids: Sequence[int]) -> pl.DataFrame:
        rows: list[Any] = []
        for chunk in chunks(sorted({int(i) for i in order_ids}), CHUNK):
            rows.extend(self.connection.execute(
                self._select().where(parcels.c.order_id.in_(chunk))))  # fmt: skip
        return _frame(rows)

    def with_status(self, statuses: Sequence[str], limit: int | None = None) -> pl.DataFrame:
        query = self._select().where(parcels.c.status.in_(list(statuses))).order_by(parcels.c.id)
        return _frame(self.connection.execute(query.limit(limit) if limit else query).all())

    def bags(self, subjects: Sequence[str]) -> list[dict[str, Any]]:
        """Bags by id, SSCC or master waybill."""
        c = consolidations.c
        out: list[dict[str, Any]] = []
        for chunk in chunks(sorted(set(subjects)), CHUNK):
            out.extend(dict(r._mapping) for r in self.connection.execute(
                select(c.id, c.sscc, c.master_waybill, c.lane_id, c.status, c.status_at,
                       c.opened_at, c.departure_date)
                .where(or_(c.id.in_(chunk), c.sscc.in_(chunk), c.master_waybill.in_(chunk)))
            ))  # fmt: skip
        return [{**b, "status_at": _utc(b["status_at"]), "opened_at": _utc(b["opened_at"])}
                for b in out]  # fmt: skip

    def bags_with_status(self, statuses: Sequence[str]) -> list[dict[str, Any]]:
        c = consolidations.c
        rows = self.connection.execute(
            select(c.id, c.sscc, c.lane_id, c.status, c.status_at, c.departure_date)
            .where(c.status.in_(list(statuses)), c.opened_at.is_(None)).order_by(c.id)
        ).all()  # fmt: skip
        return [{**dict(r._mapping), "status_at": _utc(r.status_at)} for r in rows]

    def members(self, bag_ids: Sequence[str]) -> pl.DataFrame:
        """The parcels inside these bags."""
        rows: list[Any] = []
        for chunk in chunks(sorted(set(bag_ids)), CHUNK):
            rows.extend(self.connection.execute(
                self._select().where(parcels.c.consolidation_id.in_(chunk))))  # fmt: skip
        return _frame(rows)

    def opened(self, bag_ids: Sequence[str]) -> set[str]:
        c = consolidations.c
        found: set[str] = set()
        for chunk in chunks(sorted(set(bag_ids)), CHUNK):
            found.update(str(r[0]) for r in self.connection.execute(
                select(c.id).where(c.id.in_(chunk), c.opened_at.is_not(None))))  # fmt: skip
        return found

    # --- writing states -----------------------------------------------------------------------
    def set_states(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows of id, status, status_at, departed_at, delivered_at (None keeps the stored one)."""
        if not rows:
            return
        p = parcels.c
        self.connection.execute(
            update(parcels).where(p.id == bindparam("pid")).values(
                status=bindparam("st"), status_at=bindparam("at"),
                departed_at=func.coalesce(p.departed_at, bindparam("dep")),
                delivered_at=func.coalesce(p.delivered_at, bindparam("dlv")),
            ),
            [{"pid": r["id"], "st": r["status"], "at": r["status_at"],
              "dep": r.get("departed_at"), "dlv": r.get("delivered_at")} for r in rows],
        )  # fmt: skip

    def set_bag_states(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows of id, status, status_at, opened_at (None keeps the stored one)."""
        if not rows:
            return
        c = consolidations.c
        self.connection.execute(
            update(consolidations).where(c.id == bindparam("bid")).values(
                status=bindparam("st"), status_at=bindparam("at"),
                opened_at=func.coalesce(c.opened_at, bindparam("opn")),
            ),
            [{"bid": r["id"], "st": r["status"], "at": r["status_at"],
              "opn": r.get("opened_at")} for r in rows],
        )  # fmt: skip

    def order_statuses(self, order_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in chunks(sorted({int(i) for i in order_ids}), CHUNK):
            out.update((int(i), str(s)) for i, s in self.connection.execute(
                select(orders.c.id, orders.c.status).where(orders.c.id.in_(chunk))))  # fmt: skip
        return out

    def set_order_statuses(self, pairs: Sequence[tuple[int, str]]) -> None:
        if pairs:
            self.connection.execute(
                update(orders).where(orders.c.id == bindparam("oid"))
                .values(status=bindparam("st")),
                [{"oid": int(o), "st": s} for o, s in pairs],
            )  # fmt: skip

    # --- reading for people -------------------------------------------------------------------
    def detail_of_order(self, order_id: int) -> list[dict[str, Any]]:
        """An order's parcels with their warehouse, lane, last-mile service and bag, by name."""
        p, c = parcels.c, consolidations.c
        rows = self.connection.execute(
            select(p.id, p.tracking_no, p.sscc, p.status, p.status_at, p.gross_kg,
                   p.destination_postcode, p.promised_by, p.packed_at, p.departed_at,
                   p.delivered_at, warehouses.c.name.label("warehouse"),
                   lanes.c.name.label("lane"), last_mile.c.name.label("last_mile"),
                   c.master_waybill, c.sscc.label("bag_sscc"))
            .join(warehouses, warehouses.c.id == p.warehouse_id)
            .outerjoin(lanes, lanes.c.id == p.lane_id)
            .outerjoin(last_mile, last_mile.c.id == p.last_mile_id)
            .outerjoin(consolidations, c.id == p.consolidation_id)
            .where(p.order_id == order_id).order_by(p.id)
        ).all()  # fmt: skip
        return [{k: _utc(v) if k.endswith("_at") else v for k, v in r._mapping.items()}
                for r in rows]  # fmt: skip

    def status_counts(self) -> dict[str, int]:
        return {
            str(s): int(n)
            for s, n in self.connection.execute(
                select(parcels.c.status, func.count()).group_by(parcels.c.status)
            )
        }

    # --- consolidation ------------------------------------------------------------------------
    def unbagged(self, statuses: Sequence[str]) -> list[Any]:
        """Parcels with a lane and no bag yet, in a state that may be bagged, with the lane's
        mode and carrier: (id, lane, departure, kg, cm3, sscc, mode, carrier, tracking, order)."""
        p = parcels.c
        return list(self.connection.execute(
            select(p.id, p.lane_id, p.departure_date, p.gross_kg, p.volume_cm3, p.sscc,
                   lanes.c.mode, lanes.c.carrier_id, p.tracking_no, p.order_id)
            .join(lanes, lanes.c.id == p.lane_id)
            .where(p.consolidation_id.is_(None), p.lane_id.is_not(None),
                   p.status.in_(list(statuses)))
            .order_by(p.lane_id, p.departure_date, p.id)
        ).all())  # fmt: skip

    def last_bag_serial(self) -> int:
        """The highest bag serial used (ids are ``CON`` + 9 digits): new bags count on from it."""
        top = self.connection.execute(select(func.max(consolidations.c.id))).scalar()
        return int(str(top)[3:]) if top else 0

    def add_bags(self, rows: Sequence[dict[str, Any]], members: Sequence[tuple[str, str]]) -> None:
        """Store bags and put their parcels in them: ``members`` holds (parcel id, bag id)."""
        if not rows:
            return
        self.connection.execute(insert(consolidations), list(rows))
        self.connection.execute(
            update(parcels).where(parcels.c.id == bindparam("pid"))
            .values(consolidation_id=bindparam("cid")),
            [{"pid": pid, "cid": cid} for pid, cid in members],
        )  # fmt: skip

    def route_parties(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Who answers for each leg: lanes (carrier, hubs, countries), last-mile services
        (carrier, country) and warehouses (operator, hub, country), by id."""
        return {
            "lanes": {
                str(r.id): dict(r._mapping) for r in self.connection.execute(
                    select(lanes.c.id, lanes.c.carrier_id, lanes.c.origin_hub, lanes.c.dest_hub,
                           lanes.c.dest_country, hubs.c.country.label("origin_country"))
                    .join(hubs, hubs.c.id == lanes.c.origin_hub))
            },
            "last_mile": {
                str(r.id): dict(r._mapping) for r in self.connection.execute(
                    select(last_mile.c.id, last_mile.c.carrier_id, last_mile.c.country))
            },
            "warehouses": {
                str(r.id): dict(r._mapping) for r in self.connection.execute(
                    select(warehouses.c.id, warehouses.c.operator_id, warehouses.c.hub_id,
                           warehouses.c.country))
            },
        }  # fmt: skip
