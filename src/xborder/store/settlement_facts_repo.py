"""The lifecycle facts that money follows, read set-wise for the settlement service.

Orders and their payments, customs declarations, parcels and their milestones (packed, departed,
delivered, lost), the partners' rate cards, FX rates and the trace record's parcels. Each
milestone query returns only the facts whose transfer is not in the ledger yet: the anti-join is
on the deterministic transfer id (``o<order>:<step>``, the unique index), so a settlement run
reads the new work, not the whole history, and a re-run after a crash picks up exactly what was
left. (The ledger's idempotent ids are the guarantee; the anti-join is the economy.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from xborder.store.schema import (
    fx_rates,
    lanes,
    last_mile,
    orders,
    parties,
    payments,
    warehouses,
)
from xborder.store.schema_customs import customs_declarations
from xborder.store.schema_planning import parcels
from xborder.store.schema_settlement import ledger_accounts, ledger_transfers
from xborder.store.schema_trace import trace_objects

UTC_TIME = pl.Datetime("us", "UTC")
LEG_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "seller": pl.String, "currency": pl.String, "tracking_no": pl.String,
    "ref": pl.String, "gross_grams": pl.Int64, "volume_dcm3": pl.Int64, "at": UTC_TIME,
}  # fmt: skip
LEG_MILESTONE = {  # role -> (parcel column naming the partner's contract, the milestone column)
    "warehouse": ("warehouse_id", "packed_at"),
    "lane": ("lane_id", "departed_at"),
    "last_mile": ("last_mile_id", "delivered_at"),
}


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite may hand back text
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value, datetime.min.time(), tzinfo=UTC)


def _day(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    return date.fromisoformat(str(value)[:10])


def transfer_id(order_id: Any, step: str) -> ColumnElement[Any]:
    """The ledger id of an order's step as an SQL expression: ``'o' || id || ':<step>'``."""
    return literal("o", String) + cast(order_id, String) + literal(f":{step}", String)


def _settled(order_id: Any, *steps: str) -> ColumnElement[bool]:
    """Whether the ledger holds any of these steps of the order (by its unique transfer id)."""
    t = ledger_transfers
    return exists(select(t.c.seq).where(t.c.id.in_([transfer_id(order_id, s) for s in steps])))


def _frame(rows: Sequence[Any], schema: dict[str, Any], times: Sequence[str] = ()) -> pl.DataFrame:
    names = list(schema)
    index = [names.index(c) for c in times]
    data = []
    for row in rows:
        values = list(row)
        for i in index:
            values[i] = _utc(values[i])
        data.append(tuple(values))
    return pl.DataFrame(data, schema=schema, orient="row")


class SettlementFactsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    # --- money in ---------------------------------------------------------------------------------
    def paid_uncaptured(self) -> pl.DataFrame:
        """Fully paid orders (payments >= goods + freight + insurance - discount, and > 0) with
        no escrow capture yet: order_id, currency, paid (minor), paid_at (the last payment)."""
        o, p = orders.c, payments.c
        due = o.goods_minor + o.freight_minor + o.insurance_minor - o.discount_minor
        paid = func.sum(p.amount_minor)
        query = (
            select(o.id, o.currency, paid, func.max(p.paid_at))
            .join_from(orders, payments, p.order_id == o.id)
            .where(~_settled(o.id, "capture"))
            .group_by(o.id, o.currency, due)
            .having(and_(paid >= due, paid > 0))
            .order_by(o.id)
        )
        schema: dict[str, Any] = {
            "order_id": pl.Int64, "currency": pl.String, "paid": pl.Int64, "paid_at": UTC_TIME,
        }  # fmt: skip
        return _frame(self.connection.execute(query).all(), schema, ("paid_at",))

    def open_declared_taxes(self, order_ids: Sequence[int] | None = None) -> pl.DataFrame:
        """DDP declarations with a tax to withhold (paid, not withheld yet) or to remit
        (released, not remitted or voided yet): order_id, destination, tax_currency, tax
        (minor), status, declared_on, released_on, paid_at (the order's last payment)."""
        d, p = customs_declarations.c, payments.c
        # the last payment per declaration, looked up by the payments' order index: a join to
        # every order's last payment would group all payments again at each settlement run
        last_paid = (
            select(func.max(p.paid_at)).where(p.order_id == d.order_id)
            .correlate(customs_declarations).scalar_subquery()
        )  # fmt: skip
        query = (
            select(d.order_id, d.destination, d.tax_currency, d.total_tax_minor, d.status,
                   d.declared_on, d.released_on, last_paid)
            .where(d.order_id.is_not(None), d.incoterm == "DDP", d.total_tax_minor > 0,
                   ~_settled(d.order_id, "tax.remit", "tax.void"))
            # only what needs work: a paid order's tax not withheld yet, or a release to remit
            .where(or_(and_(~_settled(d.order_id, "tax"), last_paid.is_not(None)),
                       d.status.in_(["released", "closed"])))
            .order_by(d.order_id)
        )  # fmt: skip
        if order_ids is not None:
            query = query.where(d.order_id.in_(list(order_ids)))
        schema: dict[str, Any] = {
            "order_id": pl.Int64, "destination": pl.String, "tax_currency": pl.String,
            "tax": pl.Int64, "status": pl.String, "declared_on": pl.Date, "released_on": pl.Date,
            "paid_at": UTC_TIME,
        }  # fmt: skip
        rows = [(*r[:5], _day(r[5]), _day(r[6]), _utc(r[7]))
                for r in self.connection.execute(query).all()]  # fmt: skip
        return pl.DataFrame(rows, schema=schema, orient="row")

    # --- parcels ------------------------------------------------------------------------------
    def unpaid_legs(self, role: str) -> pl.DataFrame:
        """Parcels past the milestone that earns ``role``'s partner its pay (warehouse: packed,
        lane: departed, last_mile: delivered), whose pay is not in the ledger (LEG_SCHEMA; ``ref``
        is the contract: warehouse, lane or last-mile id; ``at`` the milestone)."""
        ref, milestone = LEG_MILESTONE[role]
        c, o = parcels.c, orders.c
        query = (
            select(c.order_id, o.seller_id, o.currency, c.tracking_no, c[ref],
                   cast(func.round(c.gross_kg * 1000), BigInteger),
                   cast(func.round(c.volume_cm3 * 10), BigInteger), c[milestone])
            .join_from(parcels, orders, o.id == c.order_id)
            .where(c[milestone].is_not(None), c[ref].is_not(None),
                   ~_settled(c.order_id, f"pay.{role}"))
            .order_by(c.order_id)
        )  # fmt: skip
        return _frame(self.connection.execute(query).all(), LEG_SCHEMA, ("at",))

    def unsettled_deliveries(self) -> pl.DataFrame:
        """Delivered parcels whose order has no release (nor fee) reserved yet: order_id,
        delivered_at, promised_by, seller, currency, goods, lane_carrier, last_mile_carrier (the
        parties whose SLA covers the trip), penalized (a lateness penalty is already posted). An
        unpaid order stays here until it is paid and released."""
        c, o = parcels.c, orders.c
        query = (
            select(c.order_id, c.delivered_at, o.promised_by, o.seller_id, o.currency,
                   o.goods_minor, lanes.c.carrier_id, last_mile.c.carrier_id,
                   _settled(c.order_id, "sla.late"))
            .join_from(parcels, orders, o.id == c.order_id)
            .join(lanes, lanes.c.id == c.lane_id, isouter=True)
            .join(last_mile, last_mile.c.id == c.last_mile_id, isouter=True)
            .where(c.delivered_at.is_not(None),
                   ~_settled(c.order_id, "release", "fee"))
            .order_by(c.order_id)
        )  # fmt: skip
        schema: dict[str, Any] = {
            "order_id": pl.Int64, "delivered_at": UTC_TIME, "promised_by": pl.Date,
            "seller": pl.String, "currency": pl.String, "goods": pl.Int64,
            "lane_carrier": pl.String, "last_mile_carrier": pl.String, "penalized": pl.Boolean,
        }  # fmt: skip
        rows = [(r[0], _utc(r[1]), _day(r[2]), *r[3:8], bool(r[8]))
                for r in self.connection.execute(query)]  # fmt: skip
        return pl.DataFrame(rows, schema=schema, orient="row")

    def uncompensated_mishaps(self, statuses: Sequence[str]) -> pl.DataFrame:
        """Parcels whose status is one of ``statuses`` (lost, damaged) and whose order has no
        loss compensation yet: order_id, status, status_at."""
        c = parcels.c
        query = (
            select(c.order_id, c.status, c.status_at)
            .where(c.status.in_(list(statuses)), ~_settled(c.order_id, "sla.loss"))
            .order_by(c.order_id)
        )
        schema: dict[str, Any] = {"order_id": pl.Int64, "status": pl.String, "status_at": UTC_TIME}
        return _frame(self.connection.execute(query).all(), schema, ("status_at",))

    def unrefunded_ends(self) -> pl.DataFrame:
        """Orders that ended without a sale while the escrow holds their money: cancelled orders
        (reason ``refund.unshipped``, at null: the store keeps no cancellation time) and returned
        parcels (``refund.return``, at the return): order_id, reason, at."""
        o, c = orders.c, parcels.c
        captured = _settled(o.id, "capture")
        cancelled = select(o.id).where(o.status == "cancelled", captured, ~_settled(o.id, "refund"))
        returned = (
            select(c.order_id, c.status_at)
            .where(c.status == "returned", _settled(c.order_id, "capture"),
                   ~_settled(c.order_id, "refund", "refund.seller"))
        )  # fmt: skip
        rows: list[tuple[int, str, datetime | None]] = [
            (int(r[0]), "refund.unshipped", None) for r in self.connection.execute(cancelled)
        ]
        rows += [(int(a), "refund.return", _utc(b)) for a, b in self.connection.execute(returned)]
        schema: dict[str, Any] = {"order_id": pl.Int64, "reason": pl.String, "at": UTC_TIME}
        return pl.DataFrame(rows, schema=schema, orient="row").sort("order_id")

    def order_facts(self, order_ids: Sequence[int]) -> pl.DataFrame:
        """What a statement says about an order: order_id, tracking_no (its parcel, if packed),
        promised_by."""
        where = "o.id = ANY(%s)" if self.postgres else "o.id IN (SELECT value FROM json_each(?))"
        values = sorted({int(i) for i in order_ids})
        param: Any = values if self.postgres else json.dumps(values)
        rows = self.connection.exec_driver_sql(
            "SELECT o.id, p.tracking_no, o.promised_by FROM orders o "
            f"LEFT JOIN parcels p ON p.order_id = o.id WHERE {where}", (param,),
        ).all()  # fmt: skip
        schema: dict[str, Any] = {
            "order_id": pl.Int64,
            "tracking_no": pl.String,
            "promised_by": pl.Date,
        }
        return pl.DataFrame([(r[0], r[1], _day(r[2])) for r in rows], schema=schema, orient="row")

    # --- the trace record ---------------------------------------------------------------------
    def traced_parcels(self, order_ids: Sequence[int]) -> list[tuple[int, int, str | None]]:
        """(object id, order id, lane) of the parcels the trace record holds for these orders."""
        t = trace_objects.c
        query = select(t.id, t.order_id, t.lane).where(
            t.order_id.in_(list(order_ids)), t.kind == "parcel"
        )
        return [(int(a), int(b), c) for a, b, c in self.connection.execute(query).all()]

    def lane_p95_days(self) -> dict[str, float]:
        rows = self.connection.execute(select(lanes.c.id, lanes.c.transit_p95_days)).all()
        return {str(a): float(b) for a, b in rows}

    # --- contracts and reference data ---------------------------------------------------------
    def rate_cards(self) -> pl.DataFrame:
        """Every partner contract as stored, in whole minor units (the contracts module's
        STORED_CARD_SCHEMA)."""
        zero = literal(0, BigInteger)
        queries = [
            select(literal("lane", String), lanes.c.id, lanes.c.carrier_id, lanes.c.currency,
                   lanes.c.per_kg_minor, lanes.c.per_parcel_minor, lanes.c.minimum_minor,
                   lanes.c.volumetric_divisor),
            select(literal("warehouse", String), warehouses.c.id, warehouses.c.operator_id,
                   warehouses.c.handling_currency, zero, warehouses.c.handling_minor, zero, zero),
            select(literal("last_mile", String), last_mile.c.id, last_mile.c.carrier_id,
                   last_mile.c.currency, last_mile.c.per_kg_minor, last_mile.c.per_parcel_minor,
                   zero, zero),
        ]  # fmt: skip
        rows = [tuple(r) for q in queries for r in self.connection.execute(q).all()]
        schema: dict[str, Any] = {"role": pl.String, "ref": pl.String, "partner": pl.String,
                  "partner_currency": pl.String, "per_kg_minor": pl.Int64,
                  "per_parcel_minor": pl.Int64, "minimum_minor": pl.Int64,
                  "divisor": pl.Int64}  # fmt: skip
        return pl.DataFrame(rows, schema=schema, orient="row")

    def fx_rates(self) -> list[tuple[date, str, str, Any, str]]:
        """(valid_from, base, quote, rate, source) of every stored FX rate."""
        f = fx_rates.c
        rows = self.connection.execute(select(f.valid_from, f.base, f.quote, f.rate, f.source))
        return [(_day(a) or date.min, b, c, d, e) for a, b, c, d, e in rows.all()]

    def escrow_holder(self) -> str | None:
        """The default escrow holder: the party already holding escrow in the ledger, else the
        first payment provider among the parties (by id)."""
        a = ledger_accounts.c
        row = self.connection.execute(
            select(a.party).where(a.purpose == "escrow").order_by(a.id).limit(1)
        ).first() or self.connection.execute(
            select(parties.c.id).where(parties.c.roles.like("%payment_provider%"))
            .order_by(parties.c.id).limit(1)
        ).first()  # fmt: skip
        return None if row is None else str(row[0])
