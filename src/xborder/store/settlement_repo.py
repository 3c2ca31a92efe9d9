"""The ledger in the store: set-based reads and writes for the settlement service.

Lookups by many ids send one parameter (a JSON array on SQLite, an array on PostgreSQL) instead of
thousands; transfers are written in one bulk insert (``chunks.bulk_insert``: staged Arrow ingest or
``executemany`` on SQLite, ``COPY`` on PostgreSQL). Balance rows are locked (PostgreSQL ``FOR
UPDATE``; SQLite holds the write lock from ``BEGIN IMMEDIATE``) before the kernel checks them, so
concurrent batches cannot both spend the same money. A write that collides with a concurrent writer
(a transfer id, or a pending resolved twice) is rolled back to a savepoint and reported as a
``Conflict``, so the caller's transaction stays usable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError

from xborder.domain.errors import Conflict
from xborder.settlement.ledger import (
    ACCOUNT_SCHEMA,
    BALANCE_COLUMNS,
    BATCH_SCHEMA,
    CODED_SCHEMA,
    CONTENT,
    TRANSFER_COLUMNS,
    AccountKey,
)
from xborder.store.chunks import bulk_insert
from xborder.store.schema_settlement import ledger_accounts, ledger_balances, ledger_transfers

POSTING_SETTING = "xborder.ledger_posting"  # PostgreSQL: the balance guard's pass (0011)
KEY_SCHEMA: dict[str, Any] = {
    "account": pl.Int64, "party": pl.String, "purpose": pl.String, "currency": pl.String,
    "flags": pl.Int64,
}  # fmt: skip


class LedgerRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    # --- accounts ---------------------------------------------------------------------------------
    def account_ids(self, keys: Sequence[AccountKey]) -> pl.DataFrame:
        """Stored accounts of the parties of ``keys`` (account, party, purpose, currency, flags,
        code): one query with one parameter, however many parties."""
        where = "party = ANY(%s)" if self.postgres else "party IN (SELECT value FROM json_each(?))"
        rows = self._query(
            f"SELECT id, party, purpose, currency, flags FROM ledger_accounts WHERE {where}",
            sorted({k.party for k in keys}),
        )
        frame = pl.DataFrame(rows, schema=KEY_SCHEMA, orient="row")
        return frame.with_columns(
            pl.concat_str("party", "purpose", "currency", separator=":").alias("code")
        )

    def open_accounts(self, keys: Sequence[AccountKey], at: datetime) -> None:
        """Create the accounts that do not exist yet, each with a zero balance (one executemany
        per table: a first batch may open thousands)."""
        stored = set(self.account_ids(keys).get_column("code").to_list())
        new = [k for k in dict.fromkeys(keys) if k.code not in stored]
        if not new:
            return
        mark = "%s" if self.postgres else "?"
        opened: Any = at if self.postgres else _sqlite_time(at)
        # ON CONFLICT DO NOTHING: a concurrent batch may open the same account first
        self.connection.exec_driver_sql(
            "INSERT INTO ledger_accounts (party, purpose, currency, flags, opened_at) "
            f"VALUES ({', '.join([mark] * 5)}) ON CONFLICT DO NOTHING",
            [(k.party, k.purpose.value, k.currency, int(k.flags), opened) for k in new],
        )
        ids = self.account_ids(new).filter(pl.col("code").is_in([k.code for k in new]))
        columns = ("account_id", "flags", *BALANCE_COLUMNS)
        self.connection.exec_driver_sql(
            f"INSERT INTO ledger_balances ({', '.join(columns)}) "
            f"VALUES ({', '.join([mark] * len(columns))}) ON CONFLICT DO NOTHING",
            [(a, f, *[0] * len(BALANCE_COLUMNS)) for a, f in ids.select("account", "flags").rows()],
        )

    def lock_balances(self, ids: Sequence[int]) -> pl.DataFrame:
        """Current balances of the accounts (ACCOUNT_SCHEMA), locked for this transaction."""
        sql = (
            "SELECT b.account_id, a.currency, b.flags, b.debits_posted, b.credits_posted, "
            "b.debits_pending, b.credits_pending, a.party || ':' || a.purpose || ':' || a.currency "
            "FROM ledger_balances b "
            "JOIN ledger_accounts a ON a.id = b.account_id WHERE b.account_id "
        )
        if self.postgres:
            sql += "= ANY(%s) ORDER BY b.account_id FOR UPDATE OF b"
        else:
            sql += "IN (SELECT value FROM json_each(?))"
        rows = self._query(sql, sorted(set(ids)))
        return pl.DataFrame(rows, schema=ACCOUNT_SCHEMA, orient="row")

    # --- transfers --------------------------------------------------------------------------------
    def stored(self, ids: Sequence[str]) -> pl.DataFrame:
        """Stored transfers with these ids (id and content columns)."""
        columns = ("id", *CONTENT)
        where = "id = ANY(%s)" if self.postgres else "id IN (SELECT value FROM json_each(?))"
        rows = self._query(f"SELECT {', '.join(columns)} FROM ledger_transfers WHERE {where}", ids)
        return pl.DataFrame(rows, schema={c: BATCH_SCHEMA[c] for c in columns}, orient="row")

    def any_stored(self, ids: Sequence[str]) -> bool:
        """Whether any of these few ids is stored (index probes): a cheap guess whether a batch
        is a retry, to choose between looking every id up and an optimistic insert."""
        where = "id = ANY(%s)" if self.postgres else "id IN (SELECT value FROM json_each(?))"
        return bool(self._query(f"SELECT 1 FROM ledger_transfers WHERE {where} LIMIT 1", ids))

    def pendings(self, ids: Sequence[str]) -> pl.DataFrame:
        """Stored pending transfers with these ids, and whether a post or void resolved them."""
        where = "p.id = ANY(%s)" if self.postgres else "p.id IN (SELECT value FROM json_each(?))"
        rows = self._query(
            "SELECT p.id, p.debit, p.credit, p.amount, p.currency, "
            "EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id) "
            f"FROM ledger_transfers p WHERE p.kind = 'pending' AND {where}", ids,
        )  # fmt: skip
        schema = {"id": pl.String, "debit": pl.Int64, "credit": pl.Int64, "amount": pl.Int64,
                  "currency": pl.String, "resolved": pl.Boolean}  # fmt: skip
        return pl.DataFrame([(*r[:5], bool(r[5])) for r in rows], schema=schema, orient="row")

    def write(self, accepted: pl.DataFrame, deltas: pl.DataFrame) -> None:
        """Append the transfers and add the increments to the balances (same transaction)."""
        driver_error = self.connection.dialect.loaded_dbapi.IntegrityError
        try:
            with self.connection.begin_nested():
                self._write(accepted, deltas)
        except (IntegrityError, driver_error) as exc:  # a concurrent writer took an id or
            # resolved a pending
            raise Conflict(
                f"the batch collided with a concurrent one; retry it ({getattr(exc, 'orig', exc)})"
            ) from None

    def _write(self, accepted: pl.DataFrame, deltas: pl.DataFrame) -> None:
        """The transfers in one bulk insert (``chunks.bulk_insert``: COPY, staged Arrow ingest or
        executemany), then the balance increments, let through by the guard (migration 0011)."""
        raw = self.connection.connection.driver_connection
        update = (
            "UPDATE ledger_balances SET "
            + ", ".join(f"{c} = {c} + {{p}}" for c in BALANCE_COLUMNS)
            + " WHERE account_id = {p}"
        )
        delta_rows = deltas.select(*BALANCE_COLUMNS, "account").rows()
        at = pl.col("at")
        text = (
            at.dt.strftime("%Y-%m-%d %H:%M:%S.%6f+00:00")
            if self.postgres
            else at.dt.replace_time_zone(None).dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
        )
        bulk_insert(
            self.connection,
            {"ledger_transfers": accepted.select(TRANSFER_COLUMNS).with_columns(text)},
        )
        if self.postgres:
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(f"SELECT set_config('{POSTING_SETTING}', 'on', true)")
                try:
                    cursor.executemany(update.format(p="%s"), delta_rows)
                finally:
                    cursor.execute(f"SELECT set_config('{POSTING_SETTING}', 'off', true)")
            return
        cursor = raw.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("INSERT INTO ledger_posting (token) VALUES (1)")  # the guard's pass
            try:
                cursor.executemany(update.format(p="?"), delta_rows)
            finally:
                cursor.execute("DELETE FROM ledger_posting")
        finally:
            cursor.close()

    # --- reads ------------------------------------------------------------------------------------
    def balances(self, party: str | None = None) -> pl.DataFrame:
        """Every account (of one party, or all) with its balance columns."""
        a, b = ledger_accounts, ledger_balances
        query = select(
            a.c.id.label("account"), a.c.party, a.c.purpose, a.c.currency, a.c.flags,
            *[b.c[c] for c in BALANCE_COLUMNS],
        ).join_from(a, b, a.c.id == b.c.account_id).order_by(a.c.id)  # fmt: skip
        if party is not None:
            query = query.where(a.c.party == party)
        rows = self.connection.execute(query).all()
        schema = {**KEY_SCHEMA, **dict.fromkeys(BALANCE_COLUMNS, pl.Int64)}
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")

    def transfers(
        self, accounts: Sequence[int] | None = None, order_ids: Sequence[int] | None = None,
        since: datetime | None = None, until: datetime | None = None,
    ) -> pl.DataFrame:  # fmt: skip
        """Transfers touching the accounts / orders, in posting order (``seq``)."""
        t = ledger_transfers
        query = select(t.c.seq, *[t.c[c] for c in TRANSFER_COLUMNS]).order_by(t.c.seq)
        if accounts is not None:
            query = query.where(or_(t.c.debit.in_(accounts), t.c.credit.in_(accounts)))
        if order_ids is not None:
            query = query.where(t.c.order_id.in_(order_ids))
        if since is not None:
            query = query.where(t.c.at >= since)
        if until is not None:
            query = query.where(t.c.at < until)
        rows = [(r[0], *r[1:-1], _utc(r[-1])) for r in self.connection.execute(query).all()]
        return pl.DataFrame(rows, schema={"seq": pl.Int64, **BATCH_SCHEMA}, orient="row")

    def sums_before(self, accounts: Sequence[int], until: datetime) -> dict[int, int]:
        """Posted balance (credit-positive) of each account from transfers before ``until``."""
        t = ledger_transfers
        posted = t.c.kind.in_(["posted", "post"])
        out: dict[int, int] = {}
        for side, sign in ((t.c.credit, 1), (t.c.debit, -1)):
            rows = self.connection.execute(
                select(side, func.sum(t.c.amount))
                .where(and_(side.in_(accounts), posted, t.c.at < until)).group_by(side)
            ).all()  # fmt: skip
            for account, amount in rows:
                out[int(account)] = out.get(int(account), 0) + sign * int(amount)
        return out

    def period_sums(
        self, accounts: Sequence[int], since: datetime | None, until: datetime | None
    ) -> dict[int, tuple[int, int, int]]:
        """Per account over ``[since, until)``: posted debits, posted credits, transfers touching
        it (any kind), aggregated in SQL."""
        t = ledger_transfers
        posted = case((t.c.kind.in_(["posted", "post"]), t.c.amount), else_=0)
        out: dict[int, tuple[int, int, int]] = {a: (0, 0, 0) for a in accounts}
        for index, side in enumerate((t.c.debit, t.c.credit)):
            query = select(side, func.sum(posted), func.count()).where(side.in_(accounts))
            if since is not None:
                query = query.where(t.c.at >= since)
            if until is not None:
                query = query.where(t.c.at < until)
            for account, amount, count in self.connection.execute(query.group_by(side)).all():
                d, c, n = out[int(account)]
                d, c = (d + int(amount), c) if index == 0 else (d, c + int(amount))
                out[int(account)] = (d, c, n + int(count))
        return out

    def code_sums(
        self, accounts: Sequence[int], since: datetime | None, until: datetime | None
    ) -> pl.DataFrame:
        """Per account and code over ``[since, until)``, aggregated in SQL: transfers touching
        the account, and their posted effect on its balance (credit-positive)."""
        t = ledger_transfers
        posted = case((t.c.kind.in_(["posted", "post"]), t.c.amount), else_=0)
        rows: list[tuple[Any, ...]] = []
        for side, sign in ((t.c.debit, -1), (t.c.credit, 1)):
            query = select(side, t.c.code, func.count(), func.sum(posted)).where(side.in_(accounts))
            if since is not None:
                query = query.where(t.c.at >= since)
            if until is not None:
                query = query.where(t.c.at < until)
            rows += [
                (int(a), str(c), int(n), sign * int(m or 0))
                for a, c, n, m in self.connection.execute(query.group_by(side, t.c.code))
            ]
        schema: dict[str, Any] = {"account": pl.Int64, "code": pl.String, "transfers": pl.Int64,
                                  "amount": pl.Int64}  # fmt: skip
        frame = pl.DataFrame(rows, schema=schema, orient="row")
        return frame.group_by("account", "code").agg(pl.sum("transfers"), pl.sum("amount"))

    def order_transfers(self, order_ids: Sequence[int]) -> pl.DataFrame:
        """Every transfer of these orders (TRANSFER_COLUMNS with account codes)."""
        where = "t.order_id = ANY(%s)" if self.postgres else \
            "t.order_id IN (SELECT value FROM json_each(?))"  # fmt: skip
        code = "{0}.party || ':' || {0}.purpose || ':' || {0}.currency"
        rows = self._query(
            f"SELECT t.id, {code.format('d')}, {code.format('c')}, t.amount, t.currency, t.kind, "
            f"t.pending_id, t.code, t.order_id, t.at FROM ledger_transfers t "
            f"JOIN ledger_accounts d ON d.id = t.debit JOIN ledger_accounts c ON c.id = t.credit "
            f"WHERE {where} ORDER BY t.seq", list(order_ids),
        )  # fmt: skip
        rows = [(*r[:-1], _parse_time(r[-1])) for r in rows]
        return pl.DataFrame(rows, schema=CODED_SCHEMA, orient="row")

    def escrow_steps(self, order_ids: Sequence[int]) -> pl.DataFrame:
        """Per order and step (the transfer id after ``o<order>:``), aggregated in SQL: the
        amount, and the time of the release reservation (when the order was delivered)."""
        where = "t.order_id = ANY(%s)" if self.postgres else \
            "t.order_id IN (SELECT value FROM json_each(?))"  # fmt: skip
        colon = "strpos(t.id, ':')" if self.postgres else "instr(t.id, ':')"
        rows = self._query(
            f"SELECT t.order_id, substr(t.id, {colon} + 1) AS step, SUM(t.amount), "
            "MAX(CASE WHEN t.kind = 'pending' THEN t.at END) FROM ledger_transfers t "
            f"WHERE {where} GROUP BY t.order_id, step", list(order_ids),
        )  # fmt: skip
        rows = [(a, b, int(c), None if d is None else _parse_time(d)) for a, b, c, d in rows]
        schema: dict[str, Any] = {"order_id": pl.Int64, "step": pl.String, "amount": pl.Int64,
                                  "at": pl.Datetime("us", "UTC")}  # fmt: skip
        return pl.DataFrame(rows, schema=schema, orient="row")

    def order_money(self, order_ids: Sequence[int]) -> pl.DataFrame:
        """Per order: seller, currency, incoterm, goods, due, paid (minor units), promised_by."""
        where = "o.id = ANY(%s)" if self.postgres else "o.id IN (SELECT value FROM json_each(?))"
        rows = self._query(
            "SELECT o.id, o.seller_id, o.currency, o.incoterm, o.goods_minor, "
            "o.goods_minor + o.freight_minor + o.insurance_minor - o.discount_minor, "
            "COALESCE((SELECT SUM(p.amount_minor) FROM payments p WHERE p.order_id = o.id), 0), "
            f"o.promised_by, o.status FROM orders o WHERE {where} ORDER BY o.id", list(order_ids),
        )  # fmt: skip
        schema = {"order_id": pl.Int64, "seller": pl.String, "currency": pl.String,
                  "incoterm": pl.String, "goods": pl.Int64, "due": pl.Int64, "paid": pl.Int64,
                  "promised_by": pl.String, "status": pl.String}  # fmt: skip
        frame = pl.DataFrame([(*r[:7], str(r[7])[:10], r[8]) for r in rows], schema=schema,
                             orient="row")  # fmt: skip
        return frame.with_columns(pl.col("promised_by").str.to_date())

    def open_pendings(self, codes: Sequence[str], before: datetime) -> pl.DataFrame:
        """Unresolved pending transfers with one of these codes made at or before ``before``."""
        p, r = ledger_transfers, ledger_transfers.alias("r")
        resolved = select(r.c.seq).where(r.c.pending_id == p.c.id).exists()
        rows = self.connection.execute(
            select(p.c.order_id, p.c.id).where(
                p.c.kind == "pending", p.c.code.in_(list(codes)), p.c.at <= before, ~resolved
            )
        ).all()
        schema = {"order_id": pl.Int64, "id": pl.String}
        return pl.DataFrame([tuple(r) for r in rows], schema=schema,
                            orient="row")  # fmt: skip

    def coded_orders(self, codes: Sequence[str]) -> pl.DataFrame:
        """Distinct (code, order_id) of the transfers with these codes (one scan)."""
        t = ledger_transfers
        rows = self.connection.execute(
            select(t.c.code, t.c.order_id).where(t.c.code.in_(list(codes))).distinct()
        ).all()
        schema = {"code": pl.String, "order_id": pl.Int64}
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")

    def _query(self, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        param: Any = list(values) if self.postgres else json.dumps(list(values))
        return [tuple(r) for r in self.connection.exec_driver_sql(sql, (param,)).all()]


def _sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite dialect stores it (UTC, no offset)."""
    return _utc(value).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite through the driver: SQLAlchemy's text form, UTC
        value = datetime.fromisoformat(value)
    return _utc(value)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
