"""Customs persistence: declarations and their events, buyers' annual CBEC totals, match results."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, select, text, update

from xborder.store.schema_customs import (
    customs_buyer_annual,
    customs_declaration_events,
    customs_declarations,
    customs_match_results,
)

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


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CustomsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- buyers' annual CBEC totals (CNY fen) --------------------------------------------------
    def annual_totals(self, buyer_ids: Sequence[str], year: int) -> pl.DataFrame:
        rows: list[tuple[str, int]] = []
        table = customs_buyer_annual
        for chunk in _chunks(sorted(set(buyer_ids))):
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

    # --- declarations ---------------------------------------------------------------------------
    def declared(self, order_nos: Sequence[str]) -> set[str]:
        found: set[str] = set()
        col = customs_declarations.c.order_no
        for chunk in _chunks(list(order_nos)):
            found.update(
                str(r[0]) for r in self.connection.execute(select(col).where(col.in_(chunk)))
            )
        return found

    def insert_declarations(
        self, rows: list[dict[str, Any]], at: datetime, code: str, note: str
    ) -> None:
        """Insert declarations and their first event (``code``, e.g. ``2`` declared)."""
        if not rows:
            return
        self.connection.execute(customs_declarations.insert(), rows)
        ids: list[tuple[int, str]] = []
        col = customs_declarations.c
        for chunk in _chunks([r["order_no"] for r in rows]):
            query = select(col.id, col.status).where(col.order_no.in_(chunk))
            ids.extend((int(r[0]), str(r[1])) for r in self.connection.execute(query))
        self.connection.execute(
            customs_declaration_events.insert(),
            [
                {"declaration_id": i, "seq": 1, "code": code, "status": s, "at": at, "note": note}
                for i, s in ids
            ],
        )

    def get(self, order_no: str) -> dict[str, Any] | None:
        query = select(customs_declarations).where(customs_declarations.c.order_no == order_no)
        row = self.connection.execute(query).mappings().first()
        return dict(row) if row else None

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
