"""Plans in the store: the open wave, plan runs, assignments and inventory reservations.

Reservations are the ledger behind ``inventory.reserved`` (with its CHECK reserved <= on_hand):
planning books them, re-planning an order that is not packed yet gives them back, and packing
consumes them (the units leave the shelf: on_hand and reserved both go down).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from xborder.domain.errors import Conflict
from xborder.store.chunks import chunks
from xborder.store.schema import (
    fx_rates,
    inventory,
    lanes,
    last_mile,
    order_lines,
    orders,
    products,
    warehouses,
)
from xborder.store.schema_planning import (
    inventory_reservations,
    parcels,
    plan_assignments,
    plan_runs,
)

CHUNK = 400


class PlanningRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- the wave -----------------------------------------------------------------------------
    def open_orders(
        self, statuses: Sequence[str], ids: Sequence[int] | None = None
    ) -> list[tuple[Any, ...]]:
        """(id, consignee_country, placed_at UTC, promised_by, status) of orders to plan (all
        in ``statuses``, or those of ``ids``)."""
        query = (
            select(orders.c.id, orders.c.consignee_country, orders.c.placed_at,
                   orders.c.promised_by, orders.c.status)
            .where(orders.c.status.in_(list(statuses))).order_by(orders.c.id)
        )  # fmt: skip
        rows = []
        if ids is None:
            rows = list(self.connection.execute(query).all())
        else:
            for chunk in chunks(sorted(set(ids)), CHUNK):
                rows.extend(self.connection.execute(query.where(orders.c.id.in_(chunk))).all())
        return [
            (int(r[0]), str(r[1]), r[2] if r[2].tzinfo else r[2].replace(tzinfo=UTC), r[3], r[4])
            for r in rows
        ]

    def open_lines(
        self, statuses: Sequence[str], ids: Sequence[int] | None = None
    ) -> list[tuple[int, str, int]]:
        """(order id, sku, qty) of those orders' lines, in order and line order."""
        query = (
            select(order_lines.c.order_id, order_lines.c.sku, order_lines.c.qty)
            .join(orders, orders.c.id == order_lines.c.order_id)
            .where(orders.c.status.in_(list(statuses)))
            .order_by(order_lines.c.order_id, order_lines.c.line_no)
        )
        rows = []
        if ids is None:
            rows = list(self.connection.execute(query).all())
        else:
            for chunk in chunks(sorted(set(ids)), CHUNK):
                rows.extend(
                    self.connection.execute(query.where(order_lines.c.order_id.in_(chunk))).all()
                )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    def network(self) -> dict[str, list[dict[str, Any]]]:
        """Warehouses, lanes, last-mile services, products and FX rates, as rows."""
        return {
            t.name: [dict(r._mapping) for r in self.connection.execute(select(t))]
            for t in (warehouses, lanes, last_mile, products, fx_rates)
        }

    def available_stock(self) -> dict[tuple[str, str], int]:
        return {
            (str(r[0]), str(r[1])): int(r[2])
            for r in self.connection.execute(
                select(inventory.c.warehouse_id, inventory.c.sku,
                       inventory.c.on_hand - inventory.c.reserved)
            )
        }  # fmt: skip

    # --- plans --------------------------------------------------------------------------------
    def add_run(self, row: dict[str, Any]) -> int:
        key = self.connection.execute(insert(plan_runs).values(**row)).inserted_primary_key
        if key is None:
            raise RuntimeError("the store returned no id for the plan run")
        return int(key[0])

    def add_assignments(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(plan_assignments), list(rows))

    def drop_unserved(self, statuses: Sequence[str], ids: Sequence[int] | None = None) -> None:
        """Orders still open after an earlier run: their old "why not" rows make way."""
        open_ids = select(orders.c.id).where(orders.c.status.in_(list(statuses)))
        if ids is not None:
            open_ids = open_ids.where(orders.c.id.in_(sorted(set(ids))))
        self.connection.execute(
            delete(plan_assignments).where(plan_assignments.c.order_id.in_(open_ids))
        )

    def replannable(self, planned: str) -> list[int]:
        """Planned orders not packed yet (no parcel): their plan may still change."""
        query = (
            select(orders.c.id)
            .where(orders.c.status == planned)
            .where(orders.c.id.not_in(select(parcels.c.order_id)))
            .order_by(orders.c.id)
        )
        return [int(r[0]) for r in self.connection.execute(query)]

    def assignment(self, order_id: int) -> dict[str, Any] | None:
        row = self.connection.execute(
            select(plan_assignments).where(plan_assignments.c.order_id == order_id)
        ).first()
        return dict(row._mapping) if row is not None else None

    # --- reservations -------------------------------------------------------------------------
    def reserve(self, rows: Sequence[tuple[int, str, str, int]]) -> None:
        """Book (order, warehouse, sku, qty); the store's CHECK refuses more than on hand."""
        if not rows:
            return
        self.connection.execute(
            insert(inventory_reservations),
            [{"order_id": o, "warehouse_id": w, "sku": s, "qty": q} for o, w, s, q in rows],
        )
        per_stock: dict[tuple[str, str], int] = {}
        for _o, w, s, q in rows:
            per_stock[(w, s)] = per_stock.get((w, s), 0) + q
        try:
            self._shift(per_stock, reserved=+1, on_hand=0)
        except IntegrityError:
            raise Conflict(
                "stock changed while planning: reservations would exceed on_hand; plan again"
            ) from None

    def _held(self, order_ids: Sequence[int]) -> dict[tuple[str, str], int]:
        held: dict[tuple[str, str], int] = {}
        r = inventory_reservations.c
        for chunk in chunks(order_ids, CHUNK):
            for w, s, q in self.connection.execute(
                select(r.warehouse_id, r.sku, func.sum(r.qty))
                .where(r.order_id.in_(chunk)).group_by(r.warehouse_id, r.sku)
            ):  # fmt: skip
                held[(str(w), str(s))] = held.get((str(w), str(s)), 0) + int(q)
        return held

    def _shift(self, per_stock: dict[tuple[str, str], int], reserved: int, on_hand: int) -> None:
        if not per_stock:
            return
        self.connection.execute(
            update(inventory)
            .where(and_(inventory.c.warehouse_id == bindparam("w"),
                        inventory.c.sku == bindparam("s")))
            .values(reserved=inventory.c.reserved + reserved * bindparam("q"),
                    on_hand=inventory.c.on_hand + on_hand * bindparam("q")),
            [{"w": w, "s": s, "q": q} for (w, s), q in per_stock.items()],
        )  # fmt: skip

    def release(self, order_ids: Sequence[int]) -> int:
        """Give planned, unpacked orders' stock back, drop their plan, restore their status."""
        self._shift(self._held(order_ids), reserved=-1, on_hand=0)
        for chunk in chunks(order_ids, CHUNK):
            prior = self.connection.execute(
                select(plan_assignments.c.order_id, plan_assignments.c.prior_status)
                .where(plan_assignments.c.order_id.in_(chunk))
            ).all()  # fmt: skip
            self.connection.execute(
                delete(inventory_reservations).where(inventory_reservations.c.order_id.in_(chunk))
            )
            self.connection.execute(
                delete(plan_assignments).where(plan_assignments.c.order_id.in_(chunk))
            )
            if prior:
                self.connection.execute(
                    update(orders).where(orders.c.id == bindparam("oid"))
                    .values(status=bindparam("st")),
                    [{"oid": int(o), "st": st} for o, st in prior],
                )  # fmt: skip
        return len(order_ids)

    def consume(self, order_ids: Sequence[int]) -> None:
        """Packing: the reserved units leave the shelf (on_hand and reserved both go down)."""
        self._shift(self._held(order_ids), reserved=-1, on_hand=-1)
        for chunk in chunks(order_ids, CHUNK):
            self.connection.execute(
                delete(inventory_reservations).where(inventory_reservations.c.order_id.in_(chunk))
            )
