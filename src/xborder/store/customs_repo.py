"""Customs persistence: declarations and their events, buyers' annual CBEC totals, match results,
and the reads of other areas' tables that customs needs (orders, payments, parties' customs codes,
FX rates, products' consumption-tax flag, parcels' waybill numbers), so services stay SQL-free."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, bindparam, func, select, text, update

from xborder.store.chunks import chunks
from xborder.store.customs_variance_repo import QuotesAndAssessments
from xborder.store.schema import (
    fx_rates,
    lanes,
    order_lines,
    orders,
    parties,
    payments,
    products,
)
from xborder.store.schema_customs import (
    customs_buyer_annual,
    customs_declaration_events,
    customs_declarations,
    customs_match_results,
)
from xborder.store.schema_planning import parcels

CHUNK = 500

_ANNUAL_UPSERT = text(
    "INSERT INTO customs_buyer_annual (buyer_id, year, total_minor, currency, orders) "
    "VALUES (:buyer_id, :year, :delta, 'CNY', :orders) "
    "ON CONFLICT (buyer_id, year) DO UPDATE SET "
    "total_minor = customs_buyer_annual.total_minor + excluded.total_minor, "
    "orders = customs_buyer_annual.orders + excluded.orders"
)
_ANNUAL_RESTORE = text(
    "UPDATE customs_buyer_annual SET total_minor = total_minor + :delta, orders = orders + :orders "
    "WHERE buyer_id = :buyer_id AND year = :year"
)
_MATCH_UPSERT = text(
    "INSERT INTO customs_match_results (order_no, status, problems, checked_on) "
    "VALUES (:order_no, :status, :problems, :checked_on) "
    "ON CONFLICT (order_no) DO UPDATE SET status = excluded.status, "
    "problems = excluded.problems, checked_on = excluded.checked_on"
)


_DECLARED_DECL = (
    "order_id", "order_no", "regime", "destination", "channel", "status", "tax_currency",
    "customs_value_minor", "total_tax_minor", "landed_minor", "counted_minor", "buyer_id",
    "declared_on",
)  # fmt: skip
_DECLARED_ORDER = (
    "seller_id", "platform_id", "currency", "goods_minor", "freight_minor", "insurance_minor",
    "discount_minor", "buyer_name", "buyer_telephone", "buyer_id_type", "buyer_id_number",
    "consignee_name", "consignee_telephone", "consignee_line1", "consignee_city", "line_count",
)  # fmt: skip
_MINOR = {
    "customs_value_minor", "total_tax_minor", "landed_minor", "counted_minor", "goods_minor",
    "freight_minor", "insurance_minor", "discount_minor", "line_count", "order_id",
}  # fmt: skip
_DECLARED_SCHEMA: dict[str, Any] = {
    **{n: (pl.Int64 if n in _MINOR else pl.Date if n == "declared_on" else pl.String)
       for n in (*_DECLARED_DECL, *_DECLARED_ORDER)},
    "tracking_no": pl.String,
    "carrier_id": pl.String,
}  # fmt: skip
_PAYMENT_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "id": pl.Int64, "provider": pl.String, "transaction_id": pl.String,
    "payer_name": pl.String, "payer_id_number": pl.String, "amount_minor": pl.Int64,
    "currency": pl.String,
}  # fmt: skip

_LINE_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "line_no": pl.Int64, "sku": pl.String, "hs_code": pl.String,
    "qty": pl.Int64, "unit_price_minor": pl.Int64,
}  # fmt: skip


class CustomsRepository(QuotesAndAssessments):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- buyers' annual CBEC totals (CNY fen) --------------------------------------------------
    def annual_totals(self, buyer_ids: Sequence[str], year: int) -> pl.DataFrame:
        rows: list[tuple[str, int]] = []
        table = customs_buyer_annual
        for chunk in chunks(sorted(set(buyer_ids)), CHUNK):
            query = select(table.c.buyer_id, table.c.total_minor).where(
                table.c.year == year, table.c.buyer_id.in_(chunk)
            )
            rows.extend((str(r[0]), int(r[1])) for r in self.connection.execute(query))
        return pl.DataFrame(
            rows, schema={"buyer_id": pl.String, "total_minor": pl.Int64}, orient="row"
        )

    def add_annual(self, year: int, deltas: Sequence[tuple[str, int, int]]) -> None:
        """Add (buyer_id, delta_minor, orders_delta) to each buyer's total of ``year``."""
        rows: list[dict[str, Any]] = [
            {"buyer_id": b, "year": year, "delta": d, "orders": n} for b, d, n in deltas
        ]
        adds = [r for r in rows if r["delta"] >= 0]
        restores = [r for r in rows if r["delta"] < 0]  # an insert row may not be negative
        if adds:
            self.connection.execute(_ANNUAL_UPSERT, adds)
        if restores:
            self.connection.execute(_ANNUAL_RESTORE, restores)

    # --- what customs reads of the world ----------------------------------------------------
    def fx_rows(self) -> list[dict[str, Any]]:
        """The stored dated FX rates (valid_from, base, quote, rate, source)."""
        return [dict(r) for r in self.connection.execute(select(fx_rates)).mappings()]

    def high_end_skus(self) -> dict[str, bool]:
        """SKU -> whether the product is subject to China consumption tax (high-end goods)."""
        query = select(products.c.sku, products.c.consumption_tax)
        return {str(r[0]): bool(r[1]) for r in self.connection.execute(query)}

    def customs_codes(self) -> dict[str, str]:
        """Party id -> China customs registration code, for the parties that have one."""
        query = select(parties.c.id, parties.c.customs_code).where(
            parties.c.customs_code.is_not(None)
        )
        return {str(r[0]): str(r[1]) for r in self.connection.execute(query)}

    def declared_orders(self, order_ids: Sequence[int], regime: str | None = None) -> pl.DataFrame:
        """Declarations of these orders joined with the stored order and, where the order has been
        packed, its parcel's tracking number and line-haul carrier (one row per declaration)."""
        d, o = customs_declarations.c, orders.c
        rows: list[tuple[Any, ...]] = []
        for chunk in chunks(sorted(set(order_ids)), CHUNK):
            columns = [
                *(d[n] for n in _DECLARED_DECL),
                *(o[n] for n in _DECLARED_ORDER),
                parcels.c.tracking_no,
                lanes.c.carrier_id,
            ]
            joined = (
                customs_declarations.join(orders, orders.c.id == d.order_id)
                .outerjoin(parcels, parcels.c.order_id == d.order_id)
                .outerjoin(lanes, lanes.c.id == parcels.c.lane_id)
            )
            query = select(*columns).select_from(joined).where(d.order_id.in_(chunk))
            if regime is not None:
                query = query.where(d.regime == regime)
            rows.extend(tuple(r) for r in self.connection.execute(query))
        return pl.DataFrame(rows, schema=_DECLARED_SCHEMA, orient="row").sort("order_id")

    def order_payments(self, order_ids: Sequence[int]) -> pl.DataFrame:
        """The stored payments of these orders, oldest first per order."""
        p = payments.c
        rows: list[tuple[Any, ...]] = []
        for chunk in chunks(sorted(set(order_ids)), CHUNK):
            query = select(
                p.order_id, p.id, p.provider, p.transaction_id, p.payer_name, p.payer_id_number,
                p.amount_minor, p.currency,
            ).where(p.order_id.in_(chunk))  # fmt: skip
            rows.extend(tuple(r) for r in self.connection.execute(query))
        return pl.DataFrame(rows, schema=_PAYMENT_SCHEMA, orient="row").sort("order_id", "id")

    def order_lines(self, order_ids: Sequence[int]) -> pl.DataFrame:
        """The lines of these orders (order_id, line_no, sku, hs_code, qty, unit_price_minor)."""
        ln = order_lines.c
        rows: list[tuple[Any, ...]] = []
        for chunk in chunks(sorted(set(order_ids)), CHUNK):
            query = select(
                ln.order_id, ln.line_no, ln.sku, ln.hs_code, ln.qty, ln.unit_price_minor
            ).where(ln.order_id.in_(chunk))
            rows.extend(tuple(r) for r in self.connection.execute(query))
        return pl.DataFrame(rows, schema=_LINE_SCHEMA, orient="row").sort("order_id", "line_no")

    # --- declarations ---------------------------------------------------------------------------
    def declared(self, order_nos: Sequence[str]) -> set[str]:
        found: set[str] = set()
        col = customs_declarations.c.order_no
        for chunk in chunks(list(order_nos), CHUNK):
            found.update(
                str(r[0]) for r in self.connection.execute(select(col).where(col.in_(chunk)))
            )
        return found

    def insert_declarations(
        self, rows: list[dict[str, Any]], at: datetime, code: str, note: str
    ) -> dict[str, int]:
        """Insert declarations and their first event (``code``, e.g. ``2`` declared); returns
        each new declaration's id by order number."""
        if not rows:
            return {}
        self.connection.execute(customs_declarations.insert(), rows)
        ids: list[tuple[int, str, str]] = []
        col = customs_declarations.c
        for chunk in chunks([r["order_no"] for r in rows], CHUNK):
            query = select(col.id, col.status, col.order_no).where(col.order_no.in_(chunk))
            ids.extend((int(r[0]), str(r[1]), str(r[2])) for r in self.connection.execute(query))
        self.connection.execute(
            customs_declaration_events.insert(),
            [
                {"declaration_id": i, "seq": 1, "code": code, "status": s, "at": at, "note": note}
                for i, s, _ in ids
            ],
        )
        return {no: i for i, _, no in ids}

    def get(self, order_no: str) -> dict[str, Any] | None:
        query = select(customs_declarations).where(customs_declarations.c.order_no == order_no)
        row = self.connection.execute(query).mappings().first()
        return dict(row) if row else None

    def get_many(self, order_nos: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The declarations of these order numbers, by order number (absent ones left out)."""
        col = customs_declarations.c.order_no
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(sorted(set(order_nos)), CHUNK):
            query = select(customs_declarations).where(col.in_(chunk))
            found.update(
                (str(r["order_no"]), dict(r)) for r in self.connection.execute(query).mappings()
            )
        return found

    def for_orders(self, order_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Order id -> (order number, status) of the orders that have a declaration."""
        d = customs_declarations.c
        found: dict[int, tuple[str, str]] = {}
        for chunk in chunks(sorted(set(order_ids)), CHUNK):
            query = select(d.order_id, d.order_no, d.status).where(d.order_id.in_(chunk))
            found.update(
                (int(r[0]), (str(r[1]), str(r[2]))) for r in self.connection.execute(query)
            )
        return found

    def by_order_id(self, order_id: int) -> dict[str, Any] | None:
        query = select(customs_declarations).where(customs_declarations.c.order_id == order_id)
        row = self.connection.execute(query.order_by(customs_declarations.c.id)).mappings().first()
        return dict(row) if row else None

    def update_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Set columns of many declarations: each row holds ``id`` and the columns to set (rows
        with the same columns go in one statement)."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            columns = tuple(sorted(k for k in row if k != "id"))
            groups.setdefault(columns, []).append({f"b_{k}": v for k, v in row.items()})
        for columns, params in groups.items():
            if not columns:
                continue
            statement = (
                update(customs_declarations)
                .where(customs_declarations.c.id == bindparam("b_id"))
                .values({c: bindparam(f"b_{c}") for c in columns})
            )
            self.connection.execute(statement, params)

    def last_seqs(self, declaration_ids: Sequence[int]) -> dict[int, int]:
        """The highest event number of each declaration (0 when it has none)."""
        ev = customs_declaration_events.c
        found = {int(i): 0 for i in declaration_ids}
        for chunk in chunks(sorted(found), CHUNK):
            query = (
                select(ev.declaration_id, func.max(ev.seq))
                .where(ev.declaration_id.in_(chunk))
                .group_by(ev.declaration_id)
            )
            found.update((int(r[0]), int(r[1])) for r in self.connection.execute(query))
        return found

    def recorded_codes(self, declaration_ids: Sequence[int]) -> dict[int, set[str]]:
        """The receipt codes each declaration's history holds."""
        ev = customs_declaration_events.c
        found: dict[int, set[str]] = {int(i): set() for i in declaration_ids}
        for chunk in chunks(sorted(found), CHUNK):
            query = select(ev.declaration_id, ev.code).where(
                ev.declaration_id.in_(chunk), ev.code.is_not(None)
            )
            for declaration_id, code in self.connection.execute(query):
                found[int(declaration_id)].add(str(code))
        return found

    def add_events(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert events (declaration_id, seq, code, status, at, note) in one statement."""
        if rows:
            self.connection.execute(customs_declaration_events.insert(), list(rows))

    def update(self, declaration_id: int, **values: Any) -> None:
        self.connection.execute(
            update(customs_declarations)
            .where(customs_declarations.c.id == declaration_id)
            .values(**values)
        )

    def add_event(
        self, declaration_id: int, code: str | None, status: str, at: datetime, note: str
    ) -> None:
        ev = customs_declaration_events
        seq = self.connection.execute(
            select(func.coalesce(func.max(ev.c.seq), 0)).where(
                ev.c.declaration_id == declaration_id
            )
        ).scalar_one()
        self.connection.execute(
            ev.insert().values(
                declaration_id=declaration_id,
                seq=int(seq) + 1,
                code=code,
                status=status,
                at=at,
                note=note,
            )
        )

    def events(self, declaration_id: int) -> list[dict[str, Any]]:
        ev = customs_declaration_events
        query = select(ev).where(ev.c.declaration_id == declaration_id).order_by(ev.c.seq)
        return [dict(r) for r in self.connection.execute(query).mappings()]

    # --- match results --------------------------------------------------------------------------
    def save_matches(self, rows: Sequence[dict[str, Any]], on: date) -> None:
        if rows:
            self.connection.execute(
                _MATCH_UPSERT,
                [
                    {
                        "order_no": r["orderNo"],
                        "status": r["status"],
                        "problems": json.dumps(r["problems"], ensure_ascii=False),
                        "checked_on": on,
                    }
                    for r in rows
                ],
            )

    def match_result(self, order_no: str) -> dict[str, Any] | None:
        table = customs_match_results
        row = (
            self.connection.execute(select(table).where(table.c.order_no == order_no))
            .mappings()
            .first()
        )
        return dict(row) if row else None
