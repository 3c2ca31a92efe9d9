"""The store read for KPIs: orders, parcels, their trace events, declarations and ledger flows.

Issue 11's KPIs are measured from what the real engines wrote, never recomputed by a shortcut.
Each method is one set-wise statement over a whole table (joined and, where it shrinks the
answer, aggregated in SQL) returned as a Polars frame; the KPI use case
(``xborder.services.kpis``) does the rest columnar. Every statement is SQLAlchemy Core and runs
on SQLite and PostgreSQL alike; the one dialect difference is a UTC calendar day of a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    DateTime,
    and_,
    case,
    cast,
    exists,
    func,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from xborder.store.customs_variance_repo import chosen_assessments, quoted_total
from xborder.store.schema import orders, parties, payments
from xborder.store.schema_customs import customs_declarations, customs_quotes
from xborder.store.schema_planning import parcels, plan_assignments
from xborder.store.schema_settlement import ledger_accounts, ledger_transfers
from xborder.store.schema_trace import trace_batches, trace_events, trace_memberships, trace_objects
from xborder.trace.lifecycle import LIFECYCLE

UTC_TIME = pl.Datetime("us", "UTC")
# a transfer that moved money (a pending one is a reservation, a void moves nothing)
MONEY_KINDS = ("posted", "post")
# release to the seller (the second phase of the reservation made at delivery)
RELEASE_CODES = ("escrow.confirm", "escrow.auto_confirm")
CAPTURE_CODE = "escrow.capture"

ORDER_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "placed_at": UTC_TIME, "promised_by": pl.Date, "currency": pl.String,
    "goods": pl.Int64, "freight": pl.Int64, "insurance": pl.Int64, "discount": pl.Int64,
    "paid_minor": pl.Int64, "planned": pl.Boolean,
}  # fmt: skip
DECLARATION_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "currency": pl.String, "duty": pl.Int64, "tax": pl.Int64,
    "fees": pl.Int64,
}  # fmt: skip
VARIANCE_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "currency": pl.String, "quoted": pl.Int64, "abs_variance": pl.Int64,
}  # fmt: skip
PARCEL_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "lane_id": pl.String, "declared": pl.Boolean, "status": pl.String,
    "packed_at": UTC_TIME, "delivered_at": UTC_TIME,
}  # fmt: skip
EVENT_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "event_id": pl.Int64, "step": pl.String, "event_ms": pl.Int64,
    "delay_ms": pl.Int64,
}  # fmt: skip
ESCROW_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "captured_at": UTC_TIME, "released_at": UTC_TIME,
}  # fmt: skip
FLOW_SCHEMA: dict[str, Any] = {
    "day": pl.Date, "code": pl.String, "currency": pl.String, "debit_party": pl.String,
    "debit_purpose": pl.String, "credit_party": pl.String, "credit_purpose": pl.String,
    "amount": pl.Int64,
}  # fmt: skip
PARTY_SCHEMA: dict[str, Any] = {"party": pl.String, "name": pl.String, "roles": pl.String}


def _frame(rows: Sequence[Any], schema: dict[str, Any]) -> pl.DataFrame:
    # naive times (SQLite) are UTC; aware ones (PostgreSQL) are converted by the schema
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _step_of_event() -> ColumnElement[Any]:
    """The lifecycle step an event stands for (``trace.lifecycle.step_of`` as SQL; null for an
    event that is no lifecycle step)."""
    e = trace_events.c
    return case(
        *[
            (
                and_(e.event_type == s.event_type.value, e.action == s.action.value,
                     e.biz_step == s.biz_step, e.disposition == s.disposition),
                s.step.value,
            )
            for s in LIFECYCLE.values()
        ],
        else_=None,
    )  # fmt: skip


class KpiRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    def _utc_day(self, column: Any) -> ColumnElement[Any]:
        """The UTC calendar day of a stored time (SQLite keeps UTC text; PostgreSQL needs the
        zone named, or the session's would decide)."""
        if self.postgres:
            return cast(func.timezone("UTC", column), Date)
        return type_coerce(func.date(column), Date)

    def orders(self) -> pl.DataFrame:
        """Every order with what its KPIs need (ORDER_SCHEMA): money in minor units of its
        currency, ``paid_minor`` the sum of its payments, ``planned`` whether a plan assigned it
        a source (a ``plan_assignments`` row with a warehouse)."""
        o, p, a = orders.c, payments.c, plan_assignments.c
        paid = (
            select(p.order_id, cast(func.sum(p.amount_minor), BigInteger).label("paid"))
            .group_by(p.order_id).subquery()
        )  # fmt: skip
        planned = exists(select(a.order_id).where(a.order_id == o.id, a.warehouse_id.is_not(None)))
        query = (
            select(o.id, o.placed_at, o.promised_by, o.currency, o.goods_minor, o.freight_minor,
                   o.insurance_minor, o.discount_minor, func.coalesce(paid.c.paid, 0), planned)
            .join_from(orders, paid, paid.c.order_id == o.id, isouter=True)
            .order_by(o.id)
        )  # fmt: skip
        return _frame(self.connection.execute(query).all(), ORDER_SCHEMA)

    def declarations(self) -> pl.DataFrame:
        """Duty (with additional duties: what the total holds besides VAT and consumption tax),
        taxes (VAT + consumption tax) and customs fees the stored customs declarations assessed,
        per order and tax currency (DECLARATION_SCHEMA, minor units)."""
        d = customs_declarations.c
        duty = d.total_tax_minor - d.vat_minor - d.consumption_tax_minor
        query = (
            select(d.order_id, d.tax_currency, cast(func.sum(duty), BigInteger),
                   cast(func.sum(d.vat_minor + d.consumption_tax_minor), BigInteger),
                   cast(func.sum(d.fees_minor), BigInteger))
            .where(d.order_id.is_not(None))
            .group_by(d.order_id, d.tax_currency)
        )  # fmt: skip
        return _frame(self.connection.execute(query).all(), DECLARATION_SCHEMA)

    def quote_variances(self) -> pl.DataFrame:
        """Per assessed declaration's order: the kept quote's duties, taxes and fees and the
        absolute difference to what was assessed (VARIANCE_SCHEMA, minor units of the tax
        currency; customs' assessment counts over the carrier's)."""
        q = customs_quotes.c
        chosen = chosen_assessments().subquery("chosen")
        quoted = quoted_total()
        query = (
            select(q.order_id, q.currency, quoted, func.abs(chosen.c.total_minor - quoted))
            .join_from(customs_quotes, chosen, chosen.c.declaration_id == q.declaration_id)
            .where(q.order_id.is_not(None))
        )
        return _frame(self.connection.execute(query).all(), VARIANCE_SCHEMA)

    def parcels(self) -> pl.DataFrame:
        """Every parcel (one per order) with its route and milestones (PARCEL_SCHEMA)."""
        c = parcels.c
        query = select(c.order_id, c.lane_id, c.declared, c.status, c.packed_at, c.delivered_at)
        return _frame(self.connection.execute(query.order_by(c.order_id)).all(), PARCEL_SCHEMA)

    def parcel_events(self) -> pl.DataFrame:
        """Every parcel's trace record (EVENT_SCHEMA): its own events and its bag's while it was
        inside (as ``TraceRepository.history`` reads one parcel, here for all at once), each
        with its lifecycle step, its event time and how long after it the ledger recorded it
        (the signed batch's time minus the event time, ms)."""
        e, b, m = trace_events.c, trace_batches.c, trace_memberships.c
        parcel = (
            select(parcels.c.order_id, trace_objects.c.id.label("object_id"))
            .join_from(parcels, trace_objects, trace_objects.c.tracking_no == parcels.c.tracking_no)
            .where(trace_objects.c.kind == "parcel")
            .subquery()
        )  # fmt: skip
        step = _step_of_event()
        columns = (parcel.c.order_id, e.id, step, e.event_time_ms, b.created_ms - e.event_time_ms)
        own = (
            select(*columns)
            .join_from(parcel, trace_events, e.object_id == parcel.c.object_id)
            .join(trace_batches, b.id == e.batch_id)
        )
        in_bag = (
            select(*columns)
            .join_from(parcel, trace_memberships, m.member_id == parcel.c.object_id)
            .join(trace_events, and_(e.object_id == m.container_id, e.id >= m.added_event_id,
                                     (m.removed_event_id.is_(None)) | (e.id <= m.removed_event_id)))
            .join(trace_batches, b.id == e.batch_id)
        )  # fmt: skip
        return _frame(self.connection.execute(union_all(own, in_bag)).all(), EVENT_SCHEMA)

    def escrow_times(self) -> pl.DataFrame:
        """Per order, when the buyer's payment was captured into escrow and when escrow released
        it to the seller (the post of the release, on confirmation or automatically)."""
        t = ledger_transfers.c
        stamp = DateTime(timezone=True)
        captured = func.min(case((t.code == CAPTURE_CODE, t.at), else_=None))
        released = func.min(
            case((and_(t.code.in_(RELEASE_CODES), t.kind == "post"), t.at), else_=None)
        )
        query = (
            select(t.order_id, type_coerce(captured, stamp), type_coerce(released, stamp))
            .where(t.order_id.is_not(None), t.code.in_([CAPTURE_CODE, *RELEASE_CODES]),
                   t.kind.in_(MONEY_KINDS))
            .group_by(t.order_id)
        )  # fmt: skip
        return _frame(self.connection.execute(query).all(), ESCROW_SCHEMA)

    def ledger_flows(self) -> pl.DataFrame:
        """Money that moved (posted transfers and posted second phases) for orders, summed per
        UTC day the order was placed, code, currency and the two accounts' owners and purposes
        (FLOW_SCHEMA): small however many orders, and enough for every money KPI."""
        t, o = ledger_transfers.c, orders.c
        debit, credit = ledger_accounts.alias("debit"), ledger_accounts.alias("credit")
        day = self._utc_day(o.placed_at)
        keys = (day, t.code, t.currency, debit.c.party, debit.c.purpose, credit.c.party,
                credit.c.purpose)  # fmt: skip
        query = (
            select(*keys, cast(func.sum(t.amount), BigInteger))
            .join_from(ledger_transfers, orders, o.id == t.order_id)
            .join(debit, debit.c.id == t.debit)
            .join(credit, credit.c.id == t.credit)
            .where(t.kind.in_(MONEY_KINDS))
            .group_by(*keys)
        )
        return _frame(self.connection.execute(query).all(), FLOW_SCHEMA)

    def parties(self) -> pl.DataFrame:
        """Every party's id, name and roles (comma-separated)."""
        p = parties.c
        query = select(p.id, p.name, p.roles).order_by(p.id)
        return _frame(self.connection.execute(query).all(), PARTY_SCHEMA)
