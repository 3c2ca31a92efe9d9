"""Tenant-filtered reads for the HTTP API: every party filter is a WHERE clause of the query.

A party sees an object when it takes part in it (``docs/api.md`` has the table):

| role | orders | parcels | payments | declarations |
| --- | --- | --- | --- | --- |
| operator | all | all | all | all |
| seller / platform | ``seller_id`` / ``platform_id`` is the party | of those orders | of those orders | of those orders |
| carrier | orders of its parcels | its lanes' or last-mile services' parcels | none | none |
| warehouse | orders of its parcels | parcels packed at its warehouses | none | none |
| broker | orders it declares | none | none | declarations into its country |
| payment_provider | orders it took a payment for | none | its payments | none |

Another role (a buyer never holds a key) sees nothing. Lists are keyset-paginated on the id
(newest first for orders, payments and declarations; parcels by id), so a cursor stays valid
while new rows arrive.
"""  # noqa: E501

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, false, or_, select, true

from xborder.store.schema import lanes, last_mile, orders, parties, payments, warehouses
from xborder.store.schema_customs import customs_declarations, customs_match_results
from xborder.store.schema_planning import consolidations, parcels, plan_assignments, plan_runs

OPERATOR = "operator"


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{k: _utc(v) for k, v in r._mapping.items()} for r in result]


def _carrier_parcels(party: str) -> ColumnElement[bool]:
    p = parcels.c
    return or_(
        p.lane_id.in_(select(lanes.c.id).where(lanes.c.carrier_id == party)),
        p.last_mile_id.in_(select(last_mile.c.id).where(last_mile.c.carrier_id == party)),
    )


def _warehouse_parcels(party: str) -> ColumnElement[bool]:
    return parcels.c.warehouse_id.in_(
        select(warehouses.c.id).where(warehouses.c.operator_id == party)
    )


def _broker_declarations(party: str) -> ColumnElement[bool]:
    country = select(parties.c.country).where(parties.c.id == party).scalar_subquery()
    return customs_declarations.c.destination == country


def order_clause(role: str, party: str) -> ColumnElement[bool]:
    """The orders ``party`` in ``role`` may see, as a condition on ``orders``."""
    o = orders.c
    if role == OPERATOR:
        return true()
    if role == "seller":
        return o.seller_id == party
    if role == "platform":
        return o.platform_id == party
    if role == "carrier":
        return o.id.in_(select(parcels.c.order_id).where(_carrier_parcels(party)))
    if role == "warehouse":
        return o.id.in_(select(parcels.c.order_id).where(_warehouse_parcels(party)))
    if role == "broker":
        d = customs_declarations.c
        return o.id.in_(
            select(d.order_id).where(d.order_id.is_not(None), _broker_declarations(party))
        )
    if role == "payment_provider":
        return o.id.in_(select(payments.c.order_id).where(payments.c.provider == party))
    return false()


def _own_orders(role: str, party: str) -> ColumnElement[bool] | None:
    """Seller and platform: a condition on an ``order_id`` column through their orders."""
    if role == "seller":
        return orders.c.seller_id == party
    if role == "platform":
        return orders.c.platform_id == party
    return None


def parcel_clause(role: str, party: str) -> ColumnElement[bool]:
    if role == OPERATOR:
        return true()
    if role == "carrier":
        return _carrier_parcels(party)
    if role == "warehouse":
        return _warehouse_parcels(party)
    own = _own_orders(role, party)
    if own is None:
        return false()
    return parcels.c.order_id.in_(select(orders.c.id).where(own))


def payment_clause(role: str, party: str) -> ColumnElement[bool]:
    if role == OPERATOR:
        return true()
    if role == "payment_provider":
        return payments.c.provider == party
    own = _own_orders(role, party)
    if own is None:
        return false()
    return payments.c.order_id.in_(select(orders.c.id).where(own))


def declaration_clause(role: str, party: str) -> ColumnElement[bool]:
    if role == OPERATOR:
        return true()
    if role == "broker":
        return _broker_declarations(party)
    own = _own_orders(role, party)
    if own is None:
        return false()
    return customs_declarations.c.order_id.in_(select(orders.c.id).where(own))


ORDER_LIST_COLUMNS = (
    "id", "channel", "external_id", "seller_id", "platform_id", "status", "currency",
    "goods_minor", "freight_minor", "consignee_country", "placed_at", "promised_by",
)  # fmt: skip


class TenancyRepository:
    """Reads confined to one party: ``role`` and ``party`` become the WHERE clause."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- orders -------------------------------------------------------------------------------
    def orders(
        self, role: str, party: str, *, status: str | None, before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        o = orders.c
        query = (
            select(*(o[c] for c in ORDER_LIST_COLUMNS))
            .where(order_clause(role, party))
            .order_by(o.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(o.status == status)
        if before is not None:
            query = query.where(o.id < before)
        return _rows(self.connection.execute(query))

    def order_visible(self, role: str, party: str, order_id: int) -> bool:
        query = select(orders.c.id).where(orders.c.id == order_id, order_clause(role, party))
        return self.connection.execute(query).first() is not None

    def order_owner(self, channel: str, external_id: str) -> dict[str, Any] | None:
        """Seller and platform of a stored order (None when no such order)."""
        o = orders.c
        query = select(o.id, o.seller_id, o.platform_id).where(
            o.channel == channel, o.external_id == external_id
        )
        row = self.connection.execute(query).first()
        return dict(row._mapping) if row else None

    # --- payments -----------------------------------------------------------------------------
    def payments(
        self, role: str, party: str, *, order_id: int | None, before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        p = payments.c
        query = (
            select(p.id, p.order_id, orders.c.channel, orders.c.external_id, p.provider,
                   p.transaction_id, p.amount_minor, p.currency, p.paid_at)
            .join(orders, orders.c.id == p.order_id)
            .where(payment_clause(role, party))
            .order_by(p.id.desc())
            .limit(limit)
        )  # fmt: skip
        if order_id is not None:
            query = query.where(p.order_id == order_id)
        if before is not None:
            query = query.where(p.id < before)
        return _rows(self.connection.execute(query))

    # --- parcels ------------------------------------------------------------------------------
    def _parcel_select(self) -> Any:
        p = parcels.c
        return (
            select(p.id, p.order_id, p.tracking_no, p.sscc, p.status, p.status_at,
                   p.warehouse_id, p.lane_id, p.last_mile_id, p.consolidation_id,
                   p.destination_country, p.promised_by, p.packed_at, p.departed_at,
                   p.delivered_at, consolidations.c.master_waybill)
            .outerjoin(consolidations, consolidations.c.id == p.consolidation_id)
        )  # fmt: skip

    def parcels(
        self, role: str, party: str, *, status: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        p = parcels.c
        query = self._parcel_select().where(parcel_clause(role, party))
        query = query.order_by(p.id).limit(limit)
        if status is not None:
            query = query.where(p.status == status)
        if after is not None:
            query = query.where(p.id > after)
        return _rows(self.connection.execute(query))

    def parcel(self, role: str, party: str, tracking_no: str) -> dict[str, Any] | None:
        query = self._parcel_select().where(
            parcels.c.tracking_no == tracking_no, parcel_clause(role, party)
        )
        found = _rows(self.connection.execute(query))
        return found[0] if found else None

    def public_parcel(self, tracking_no: str) -> dict[str, Any] | None:
        """What a buyer's estimate needs: the parcel's dates and its route's mean transit days."""
        p = parcels.c
        query = (
            select(p.status, p.destination_postcode, p.promised_by, p.packed_at,
                   p.departed_at, p.delivered_at, p.departure_date,
                   lanes.c.transit_mean_days.label("lane_days"),
                   last_mile.c.transit_mean_days.label("last_mile_days"))
            .outerjoin(lanes, lanes.c.id == p.lane_id)
            .outerjoin(last_mile, last_mile.c.id == p.last_mile_id)
            .where(p.tracking_no == tracking_no)
        )  # fmt: skip
        found = _rows(self.connection.execute(query))
        return found[0] if found else None

    def planned_at(self, party: str, order_ids: list[int] | None, planned: str) -> list[int]:
        """Orders planned at ``party``'s warehouses: among ``order_ids`` whatever their state
        (packing refuses the wrong ones), or else every one still ``planned`` and unpacked."""
        a = plan_assignments.c
        query = (
            select(a.order_id)
            .join(warehouses, warehouses.c.id == a.warehouse_id)
            .where(warehouses.c.operator_id == party)
            .order_by(a.order_id)
        )
        if order_ids is not None:
            query = query.where(a.order_id.in_(order_ids))
        else:
            query = query.join(orders, orders.c.id == a.order_id).where(
                orders.c.status == planned, a.order_id.not_in(select(parcels.c.order_id))
            )
        return [int(r[0]) for r in self.connection.execute(query)]

    # --- declarations -------------------------------------------------------------------------
    def declarations(
        self, role: str, party: str, *, status: str | None, before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        d = customs_declarations.c
        query = (
            select(d.id, d.order_id, d.order_no, d.status, d.regime, d.destination, d.channel,
                   d.declared_on, d.tax_currency, d.total_tax_minor, d.landed_minor,
                   customs_match_results.c.status.label("match_status"))
            .outerjoin(customs_match_results, customs_match_results.c.order_no == d.order_no)
            .where(declaration_clause(role, party))
            .order_by(d.id.desc())
            .limit(limit)
        )  # fmt: skip
        if status is not None:
            query = query.where(d.status == status)
        if before is not None:
            query = query.where(d.id < before)
        return _rows(self.connection.execute(query))

    def declaration_visible(self, role: str, party: str, order_id: int) -> bool:
        d = customs_declarations.c
        query = select(d.id).where(d.order_id == order_id, declaration_clause(role, party))
        return self.connection.execute(query).first() is not None

    # --- plans --------------------------------------------------------------------------------
    def latest_plan(self) -> dict[str, Any] | None:
        query = select(plan_runs).order_by(plan_runs.c.id.desc()).limit(1)
        found = _rows(self.connection.execute(query))
        return found[0] if found else None

    def party_exists(self, party: str) -> bool:
        query = select(parties.c.id).where(parties.c.id == party)
        return self.connection.execute(query).first() is not None
