"""Orders in the store: set-based bulk writes (``chunks.bulk_insert``: staged Arrow ingest or
executemany on SQLite, COPY on PostgreSQL) and reads.

Frames follow the normalised layout of ``xborder.domain.order_rules`` plus ``id`` / ``order_id``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Connection, and_, case, func, select, tuple_, update

from xborder.domain.orders import OrderStatus
from xborder.store import chunks as staging
from xborder.store.chunks import attach_scratch, bulk_insert, chunks, row_tuples
from xborder.store.schema import order_lines, orders, payments
from xborder.store.schema_customs import customs_declarations
from xborder.store.snapshot import can_snapshot, snapshot_rows

ORDER_COLUMNS = tuple(c.name for c in orders.columns)
LINE_COLUMNS = tuple(c.name for c in order_lines.columns)
KEY_CHUNK = 400  # row-value IN lists stay well below SQLite's 32,766 bound parameters


class DuplicateOrderKey(Exception):
    """A (channel, external_id) of the insert is already stored, or is being stored by a
    concurrent transaction (a unique violation after waiting for it, or a deadlock between two
    writers of the same keys): the caller re-reads the stored keys and tries the rest again."""


class StoreBusy(Exception):
    """The store stayed locked by another writer for longer than the busy timeout (SQLite)."""


def is_store_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" / "database is busy" (worth retrying)."""
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


class OrderRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    # --- writes -------------------------------------------------------------------------------
    def allocate_ids(self, count: int) -> np.ndarray:
        """Fresh order ids: a PostgreSQL sequence, or max(id) under SQLite's write lock."""
        if count == 0:
            return np.empty(0, dtype=np.int64)
        if self.dialect == "postgresql":
            rows = self.connection.exec_driver_sql(
                "SELECT nextval('orders_id_seq') FROM generate_series(1, %(n)s)", {"n": count}
            )
            return np.fromiter((r[0] for r in rows), dtype=np.int64, count=count)
        start = self.connection.execute(
            select(func.coalesce(func.max(orders.c.id), 0))
        ).scalar_one()
        return np.arange(start + 1, start + 1 + count, dtype=np.int64)

    def insert(self, order_rows: pl.DataFrame, line_rows: pl.DataFrame) -> None:
        """Insert normalised orders (with ``id``, ``status``) and lines (with ``order_id``).

        Raises ``DuplicateOrderKey`` when an order's key is already stored; the caller's savepoint
        or transaction then holds none of the batch.
        """
        dbapi = self.connection.dialect.loaded_dbapi
        prepare = _for_copy if self.dialect == "postgresql" else _for_sqlite
        frames = {"orders": prepare(order_rows.select(ORDER_COLUMNS)),
                  "order_lines": line_rows.select(LINE_COLUMNS)}  # fmt: skip
        try:
            bulk_insert(self.connection, frames)
        except dbapi.IntegrityError as exc:
            if "external_id" in str(exc) or "uq_orders_channel_external_id" in str(exc):
                raise DuplicateOrderKey(str(exc)) from exc
            raise
        except dbapi.OperationalError as exc:
            if getattr(exc, "sqlstate", None) == "40P01":  # deadlock_detected: writers crossed
                raise DuplicateOrderKey(str(exc)) from exc
            raise

    def set_status(self, ids: Sequence[int], status: OrderStatus) -> None:
        for chunk in chunks(list(ids), KEY_CHUNK):
            self.connection.execute(
                update(orders).where(orders.c.id.in_(chunk)).values(status=status.value)
            )

    # --- reads --------------------------------------------------------------------------------
    def find_keys(self, keys: pl.DataFrame) -> pl.DataFrame:
        """Stored ids for the given (channel, external_id) pairs."""
        found: list[tuple[str, str, int]] = []
        pairs = list(keys.select("channel", "external_id").unique().iter_rows())
        for chunk in chunks(pairs, KEY_CHUNK):
            query = select(orders.c.channel, orders.c.external_id, orders.c.id).where(
                tuple_(orders.c.channel, orders.c.external_id).in_(chunk)
            )
            found.extend((str(r[0]), str(r[1]), int(r[2])) for r in self.connection.execute(query))
        return pl.DataFrame(
            found, schema={"channel": pl.String, "external_id": pl.String, "id": pl.Int64},
            orient="row",
        )  # fmt: skip

    def placed_at_for(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
        """When each stored order of these (channel, external_id) keys was placed (UTC). Outside
        a transaction on SQLite it reads a WAL snapshot on the driver connection: there every
        transaction begins IMMEDIATE, and this read serves validation done before the write."""
        found: dict[tuple[str, str], datetime] = {}
        snapshot = can_snapshot(self.connection)
        for chunk in chunks(list(dict.fromkeys(keys)), KEY_CHUNK):
            if snapshot:
                marks = ", ".join("(?, ?)" for _ in chunk)
                # a join on the keys, not a row-value IN: SQLite scans the table for the latter
                found_rows = snapshot_rows(
                    self.connection,
                    f"SELECT o.channel, o.external_id, o.placed_at FROM (VALUES {marks}) AS k "
                    "JOIN orders o ON o.channel = k.column1 AND o.external_id = k.column2",
                    [value for key in chunk for value in key],
                )
                rows = [(c, e, datetime.fromisoformat(p)) for c, e, p in found_rows]
            else:
                o = orders.c
                query = select(o.channel, o.external_id, o.placed_at).where(
                    tuple_(o.channel, o.external_id).in_(chunk)
                )
                rows = [tuple(r) for r in self.connection.execute(query)]
            found.update({(str(c), str(e)): _utc(p) for c, e, p in rows})
        return found

    def any_stored(self, keys: pl.DataFrame) -> bool:
        """Whether the first, middle or last of these keys is stored (three index probes): a cheap
        guess whether a batch is a re-import, to choose the write path."""
        if keys.height == 0:
            return False
        probe = keys.select("channel", "external_id")
        picks = sorted({0, keys.height // 2, keys.height - 1})
        pairs = [probe.row(i) for i in picks]
        query = select(orders.c.id).where(tuple_(orders.c.channel, orders.c.external_id).in_(pairs))
        return self.connection.execute(query.limit(1)).first() is not None

    def compare_stored(self, batch: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame | None:
        """For the batch orders (``rec`` + order content) whose key is stored: ``rec``, the
        stored ``id`` and whether the stored content, lines included, equals the batch's
        (``same``). Compared in SQL against the batch staged in a scratch file (``chunks``), so
        no stored row crosses into Python; None where that is not available (PostgreSQL, small
        batches, no ADBC driver): the caller then reads ``stored_for_keys``."""
        if self.dialect != "sqlite" or batch.height < staging.STAGE_MIN_ROWS:
            return None
        content = [c for c in ORDER_COLUMNS if c not in {"id", "status"}]
        line_content = [c for c in LINE_COLUMNS if c != "order_id"]
        frames = {"batch_orders": _for_sqlite(batch.select("rec", *content)),
                  "batch_lines": lines.select("rec", *line_content)}  # fmt: skip
        staged = attach_scratch(self.connection, frames)
        if staged is None:
            return None
        batch_orders, batch_lines = staged["batch_orders"], staged["batch_lines"]
        same_order = " AND ".join(f"o.{c} IS s.{c}" for c in content)
        same_line = " AND ".join(f"l.{c} IS b.{c}" for c in line_content)
        sql = (
            f"WITH m AS MATERIALIZED (SELECT s.rec, o.id, ({same_order}) AS same_order "
            f"FROM {batch_orders} s JOIN main.orders o "
            "ON o.channel = s.channel AND o.external_id = s.external_id), "
            f"n AS (SELECT rec, count(*) AS n FROM {batch_lines} GROUP BY rec), "
            f"k AS (SELECT m.rec, count(*) AS k FROM m JOIN {batch_lines} b ON b.rec = m.rec "
            "JOIN main.order_lines l ON l.order_id = m.id AND l.line_no = b.line_no "
            f"WHERE {same_line} GROUP BY m.rec), "
            "t AS (SELECT m.rec, count(*) AS t FROM m JOIN main.order_lines l "
            "ON l.order_id = m.id GROUP BY m.rec) "
            "SELECT m.rec, m.id, m.same_order AND coalesce(k.k, 0) = coalesce(n.n, 0) "
            "AND coalesce(t.t, 0) = coalesce(n.n, 0) FROM m LEFT JOIN n ON n.rec = m.rec "
            "LEFT JOIN k ON k.rec = m.rec LEFT JOIN t ON t.rec = m.rec"
        )  # fmt: skip
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            rows = cursor.execute(sql).fetchall()
        finally:
            cursor.close()
        schema = {"rec": pl.Int64, "id": pl.Int64, "same": pl.Int64}
        frame = pl.DataFrame(rows, schema=schema, orient="row")
        return frame.with_columns(pl.col("same").cast(pl.Boolean))

    def stored_for_keys(self, keys: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The stored orders with these (channel, external_id) keys and their lines, normalised as
        ``load`` returns them, in one join per table (a temporary key table on SQLite, arrays on
        PostgreSQL) rather than one query per few hundred keys."""
        pairs = keys.select("channel", "external_id").unique()
        order_cols = ", ".join(f"o.{c}" for c in ORDER_COLUMNS)
        line_cols = ", ".join(f"l.{c}" for c in LINE_COLUMNS)
        raw = self.connection.connection.driver_connection
        if self.dialect == "postgresql":
            join = ("JOIN unnest(%(c)s::text[], %(e)s::text[]) AS k(channel, external_id) "
                    "ON o.channel = k.channel AND o.external_id = k.external_id")  # fmt: skip
            params: Any = {"c": pairs.get_column("channel").to_list(),
                           "e": pairs.get_column("external_id").to_list()}  # fmt: skip
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                order_rows = cursor.execute(f"SELECT {order_cols} FROM orders o {join}",
                                            params).fetchall()  # fmt: skip
                line_rows = cursor.execute(
                    f"SELECT {line_cols} FROM order_lines l JOIN orders o ON l.order_id = o.id "
                    f"{join}", params,
                ).fetchall()  # fmt: skip
        else:
            join = ("JOIN temp.capture_keys k "
                    "ON o.channel = k.channel AND o.external_id = k.external_id")  # fmt: skip
            cursor = raw.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute("CREATE TEMP TABLE IF NOT EXISTS capture_keys "
                               "(channel TEXT NOT NULL, external_id TEXT NOT NULL)")  # fmt: skip
                cursor.execute("DELETE FROM temp.capture_keys")
                cursor.executemany("INSERT INTO temp.capture_keys VALUES (?, ?)", row_tuples(pairs))
                order_rows = cursor.execute(f"SELECT {order_cols} FROM orders o {join}").fetchall()
                line_rows = cursor.execute(
                    f"SELECT {line_cols} FROM order_lines l JOIN orders o ON l.order_id = o.id "
                    f"{join}"
                ).fetchall()  # fmt: skip
                cursor.execute("DELETE FROM temp.capture_keys")
            finally:
                cursor.close()
        return _normalised(order_rows, orders), _normalised(line_rows, order_lines)

    def load(self, ids: Sequence[int]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Stored orders and lines as normalised frames (placed_at in UTC); for small id sets."""
        placed = ORDER_COLUMNS.index("placed_at")
        order_rows: list[list[Any]] = []
        line_rows: list[tuple[Any, ...]] = []
        for chunk in chunks(list(ids), KEY_CHUNK):
            for row in self.connection.execute(select(orders).where(orders.c.id.in_(chunk))):
                values = list(row)
                values[placed] = _utc(values[placed])
                order_rows.append(values)
            query = select(order_lines).where(order_lines.c.order_id.in_(chunk))
            line_rows.extend(tuple(r) for r in self.connection.execute(query))
        order_frame = pl.DataFrame(order_rows, schema=_schema(orders), orient="row")
        line_frame = pl.DataFrame(line_rows, schema=_schema(order_lines), orient="row")
        return order_frame.sort("id"), line_frame.sort("order_id", "line_no")

    def recent(
        self, *, status: str | None = None, channel: str | None = None, limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:  # fmt: skip
        query = select(orders).order_by(orders.c.id.desc()).limit(limit).offset(offset)
        if status:
            query = query.where(orders.c.status == status)
        if channel:
            query = query.where(orders.c.channel == channel)
        return [dict(r._mapping) for r in self.connection.execute(query)]

    def id_for(self, channel: str, external_id: str) -> int | None:
        query = select(orders.c.id).where(
            orders.c.channel == channel, orders.c.external_id == external_id
        )
        return self.connection.execute(query).scalar_one_or_none()

    def count(self) -> int:
        return int(self.connection.execute(select(func.count()).select_from(orders)).scalar_one())

    def summary(self, ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Orders, lines and value per destination and currency (all orders, or these ids)."""
        query = (
            select(
                orders.c.consignee_country.label("destination"),
                orders.c.currency,
                orders.c.direction,
                func.count().label("orders"),
                func.sum(orders.c.line_count).label("lines"),
                func.sum(orders.c.goods_minor).label("goods_minor"),
            )
            .group_by(orders.c.consignee_country, orders.c.currency, orders.c.direction)
            .order_by(func.count().desc())
        )
        if ids is not None:
            return _merge_summaries(
                self.connection.execute(query.where(orders.c.id.in_(chunk))).mappings().all()
                for chunk in chunks(list(ids), 20_000)
            )
        return [dict(r) for r in self.connection.execute(query).mappings()]

    # --- payments -----------------------------------------------------------------------------
    def insert_payment(self, row: dict[str, Any]) -> int:
        result = self.connection.execute(payments.insert().values(**row))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def find_payment(self, provider: str, transaction_id: str) -> dict[str, Any] | None:
        query = select(payments).where(
            payments.c.provider == provider, payments.c.transaction_id == transaction_id
        )
        row = self.connection.execute(query).mappings().first()
        return dict(row) if row else None

    def awaiting_payment(self) -> list[dict[str, Any]]:
        """Captured orders with what the buyer is asked at checkout and what has been paid.

        Checkout asks goods + freight + insurance - discount, plus under DDP the duties and
        taxes the declaration quoted when they are in the order's currency (China CBEC: the
        platform collects them with the order, and the three-document match expects the payment
        to include them; EU IOSS and UK point-of-sale VAT likewise)."""
        paid = (
            select(payments.c.order_id, func.sum(payments.c.amount_minor).label("paid"))
            .group_by(payments.c.order_id).subquery()
        )  # fmt: skip
        d = customs_declarations.c
        o = orders.c
        tax = case((and_(o.incoterm == "DDP", d.tax_currency == o.currency),
                    d.total_tax_minor), else_=0)  # fmt: skip
        due = o.goods_minor + o.freight_minor + o.insurance_minor - o.discount_minor
        query = (
            select(o.id, o.channel, o.external_id, (due + tax).label("due"),
                   func.coalesce(paid.c.paid, 0).label("paid"), o.currency, o.placed_at,
                   o.buyer_name, o.buyer_id_number)
            .outerjoin(paid, paid.c.order_id == o.id)
            .outerjoin(customs_declarations, d.order_id == o.id)
            .where(o.status == OrderStatus.CAPTURED.value).order_by(o.id)
        )  # fmt: skip
        return [
            {**dict(r._mapping), "placed_at": _utc(r.placed_at)}
            for r in self.connection.execute(query)
        ]

    def stored_payments(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """Stored payments by (provider, transaction id), for the keys given."""
        found: dict[tuple[str, str], Any] = {}
        for chunk in chunks(sorted(set(keys)), KEY_CHUNK):
            query = select(payments).where(
                tuple_(payments.c.provider, payments.c.transaction_id).in_(chunk)
            )
            for row in self.connection.execute(query).mappings():
                found[(str(row["provider"]), str(row["transaction_id"]))] = dict(row)
        return found

    def insert_payments(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(payments.insert(), list(rows))

    def fully_paid(self, ids: Sequence[int]) -> list[int]:
        """Those of the orders whose payments cover what is due."""
        out: list[int] = []
        o = orders.c
        due = o.goods_minor + o.freight_minor + o.insurance_minor - o.discount_minor
        for chunk in chunks(sorted({int(i) for i in ids}), KEY_CHUNK):
            paid = (
                select(payments.c.order_id, func.sum(payments.c.amount_minor).label("paid"))
                .where(payments.c.order_id.in_(chunk)).group_by(payments.c.order_id).subquery()
            )  # fmt: skip
            query = select(o.id).join(paid, paid.c.order_id == o.id).where(paid.c.paid >= due)
            out.extend(int(r[0]) for r in self.connection.execute(query))
        return out

    def statuses(self, ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in chunks(sorted({int(i) for i in ids}), KEY_CHUNK):
            query = select(orders.c.id, orders.c.status).where(orders.c.id.in_(chunk))
            out.update((int(i), str(s)) for i, s in self.connection.execute(query))
        return out

    def status_counts(self) -> dict[str, int]:
        query = select(orders.c.status, func.count()).group_by(orders.c.status)
        return {str(s): int(n) for s, n in self.connection.execute(query)}

    def latest_record(self) -> datetime | None:
        """The latest time the store records for orders, payments, parcels and bags: a run that
        starts again on this store starts its clock there, so nothing is dated after "now"."""
        from xborder.store.schema_planning import consolidations, parcels, plan_runs

        times = [
            self.connection.execute(select(func.max(column))).scalar()
            for column in (orders.c.placed_at, payments.c.paid_at, parcels.c.status_at,
                           consolidations.c.status_at, plan_runs.c.created_at)
        ]  # fmt: skip
        found = [_utc(t if isinstance(t, datetime) else datetime.fromisoformat(str(t)))
                 for t in times if t is not None]  # fmt: skip
        return max(found) if found else None

    def payments_for(self, order_id: int) -> list[dict[str, Any]]:
        query = select(payments).where(payments.c.order_id == order_id).order_by(payments.c.id)
        return [dict(r) for r in self.connection.execute(query).mappings()]


def _for_sqlite(frame: pl.DataFrame) -> pl.DataFrame:
    """Times as the text SQLAlchemy's SQLite dialect stores (UTC, no offset); dates ISO."""
    return frame.with_columns(
        pl.col("placed_at").dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        .dt.strftime("%Y-%m-%d %H:%M:%S.%6f"),
        pl.col("promised_by").dt.strftime("%Y-%m-%d"),
    )  # fmt: skip


def _for_copy(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("placed_at").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f+00:00")
    )


def _normalised(rows: list[Any], table: Any) -> pl.DataFrame:
    """Driver rows as a frame typed like ``load``'s: SQLite's text times parsed (columnar, in
    polars), times in UTC."""
    schema = _schema(table)
    if not rows:
        return pl.DataFrame(schema=schema)
    timed = {n for n, k in schema.items() if k in (pl.Date, pl.Datetime("us", "UTC"))}
    text = {n for n in timed if isinstance(rows[0][list(schema).index(n)], str)}
    kinds = {n: pl.String if n in text else pl.Object if n in timed else k
             for n, k in schema.items()}  # fmt: skip
    frame = pl.DataFrame(rows, schema=kinds, orient="row")
    return frame.with_columns(
        _parsed(frame.get_column(n), schema[n]) if n in text
        else pl.Series(n, [_utc_or_date(v) for v in frame.get_column(n)], dtype=schema[n])
        for n in timed
    )  # fmt: skip


def _parsed(values: pl.Series, kind: Any) -> pl.Series:
    """SQLite's text times (SQLAlchemy's form: UTC, no offset) and ISO dates, parsed."""
    if kind == pl.Date:
        return values.str.slice(0, 10).str.to_date("%Y-%m-%d")
    return values.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us").dt.replace_time_zone(
        "UTC"
    )


def _utc_or_date(value: Any) -> Any:
    return _utc(value) if isinstance(value, datetime) else value


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _schema(table: Any) -> dict[str, Any]:
    """Polars types for a table's columns, as the normalised frames use them."""
    kinds = {int: pl.Int64, datetime: pl.Datetime("us", "UTC"), date: pl.Date}
    return {c.name: kinds.get(c.type.python_type, pl.String) for c in table.columns}


def _merge_summaries(parts: Iterator[Sequence[Any]]) -> list[dict[str, Any]]:
    rows = [dict(r) for part in parts for r in part]
    if not rows:
        return []
    frame = (
        pl.DataFrame(rows)
        .group_by("destination", "currency", "direction")
        .agg(pl.col("orders").sum(), pl.col("lines").sum(), pl.col("goods_minor").sum())
    )
    return frame.sort("orders", descending=True).to_dicts()
