"""PostgreSQL monthly range partitions for the two append-only ledgers: trace events (by event
time, epoch ms) and ledger transfers (by transfer time). See docs/scale.md for the reasons.

Opt-in: ``partition`` turns a plain table into a partitioned one (in the caller's transaction,
under an exclusive lock): it renames the table, creates the partitioned table LIKE it (columns,
defaults, checks), the months its rows fall in, the months asked for and a DEFAULT partition,
copies the rows, recreates the foreign keys, indexes and triggers, hands the serial sequence
over and drops the old table. Later calls add the months asked for and every month that has rows
in the DEFAULT partition; such a month is split out of it (its rows move, nothing is lost), so
DEFAULT stays empty between runs and a query by time prunes to the months it names.

PostgreSQL requires a partitioned table's primary key and unique indexes to include the
partition key, so the uniqueness the ledgers rely on moves to small unpartitioned key tables
(``trace_event_keys``: event id, and (object, seq): one chain per object;
``ledger_transfer_keys``: transfer id, and one resolution per pending transfer), filled by an
AFTER INSERT statement trigger with a transition table (functions of migration 0013): set-based,
and it fires for COPY too. A duplicate aborts the whole statement, as the unique index did.
The former unique indexes stay, non-unique, for the lookups. SQLite is never partitioned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, text

_MAX_NAME = 63  # PostgreSQL's identifier length


@dataclass(frozen=True)
class _Spec:
    table: str
    key: str  # the partition key column
    key_is_ms: bool  # epoch milliseconds (else timestamptz)
    primary: tuple[str, ...]  # the old primary key's columns (the key column is appended)
    unique_moved: tuple[str, ...]  # unique indexes kept non-unique: the key table enforces them
    keys_table: str
    keys_ddl: str
    keys_function: str
    keys_guards: tuple[str, ...]  # statements guarding the key table (may be empty)


_SPECS = {
    "trace_events": _Spec(
        "trace_events", "event_time_ms", True, ("id",), ("ix_trace_events_object_seq",),
        "trace_event_keys",
        "CREATE TABLE trace_event_keys (id BIGINT NOT NULL, object_id BIGINT NOT NULL, "
        "seq INTEGER NOT NULL, CONSTRAINT pk_trace_event_keys PRIMARY KEY (id), "
        "CONSTRAINT uq_trace_event_keys_object_seq UNIQUE (object_id, seq))",
        "trace_event_keys_add", (),
    ),
    "ledger_transfers": _Spec(
        "ledger_transfers", "at", False, ("seq",),
        ("uq_ledger_transfers_id", "uq_ledger_transfers_pending_id"),
        "ledger_transfer_keys",
        "CREATE TABLE ledger_transfer_keys (id VARCHAR(64) NOT NULL, pending_id VARCHAR(64), "
        "CONSTRAINT pk_ledger_transfer_keys PRIMARY KEY (id), "
        "CONSTRAINT uq_ledger_transfer_keys_pending_id UNIQUE (pending_id))",
        "ledger_transfer_keys_add",
        ("CREATE TRIGGER ledger_transfer_keys_append_only BEFORE UPDATE OR DELETE ON "
         "ledger_transfer_keys FOR EACH ROW EXECUTE FUNCTION ledger_transfers_append_only()",
         "CREATE TRIGGER ledger_transfer_keys_no_truncate BEFORE TRUNCATE ON ledger_transfer_keys "
         "FOR EACH STATEMENT EXECUTE FUNCTION ledger_no_truncate()"),
    ),
}  # fmt: skip
TABLES = tuple(_SPECS)


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition: ``first`` and ``end`` are the first days of its month and of the next
    (both None for the DEFAULT partition); ``rows`` only when counted."""

    table: str
    name: str
    first: date | None
    end: date | None
    rows: int | None = None


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month.year:04d}_{month.month:02d}"


class PartitionRepository:
    """Every statement about partitions. Runs in the caller's transaction (a unit of work)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    # -- reads ---------------------------------------------------------------------------------
    def _scalar(self, sql: str, **params: Any) -> Any:
        return self.connection.execute(text(sql), params).scalar()

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        return list(self.connection.execute(text(sql), params))

    def is_partitioned(self, table: str) -> bool:
        if not self.postgres:
            return False
        kind = self._scalar("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)", t=table)
        return bool(kind == "p")

    def partitions(self, table: str, *, count: bool = False) -> list[Partition]:
        """The partitions of ``table`` in month order, the DEFAULT one last."""
        if not self.is_partitioned(table):
            return []
        rows = self._rows(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)",
            t=table,
        )
        out: list[Partition] = []
        for name, bound in rows:
            first = end = None
            if bound != "DEFAULT":
                first = self._month_of(table, name)
                end = add_months(first, 1)
            n = self._exec(f'SELECT count(*) FROM "{name}"').scalar() if count else None
            out.append(Partition(table, str(name), first, end, None if n is None else int(n)))
        return sorted(out, key=lambda p: (p.first is None, p.first or date.min))

    @staticmethod
    def _month_of(table: str, name: str) -> date:
        year, month = name.removeprefix(f"{table}_").split("_")
        return date(int(year), int(month), 1)

    # -- the partition key's values ------------------------------------------------------------
    def _bound(self, spec: _Spec, month: date) -> str:
        if spec.key_is_ms:
            moment = datetime(month.year, month.month, 1, tzinfo=UTC)
            return str(int(moment.timestamp()) * 1000)
        return f"'{month.isoformat()} 00:00:00+00'"

    def _month_expr(self, spec: _Spec, column: str) -> str:
        """SQL: the first day (a date, UTC) of the month of ``column``."""
        moment = f"to_timestamp({column} / 1000.0)" if spec.key_is_ms else column
        return f"date_trunc('month', {moment} AT TIME ZONE 'UTC')::date"

    def _range(self, spec: _Spec, month: date) -> str:
        low, high = self._bound(spec, month), self._bound(spec, add_months(month, 1))
        return f"{spec.key} >= {low} AND {spec.key} < {high}"

    # -- writes --------------------------------------------------------------------------------
    def partition(self, table: str, months: Sequence[date]) -> tuple[bool, list[str]]:
        """Make ``table`` partitioned if it is not (True when converted here) and make sure a
        partition exists for each of ``months``; returns the partitions created."""
        if not self.postgres:
            raise ValueError("partitions are a PostgreSQL feature; SQLite stays one table")
        spec = _SPECS[table]
        self.connection.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        if self.is_partitioned(table):
            # and any month whose rows landed in DEFAULT since: they move to their own month
            stray = self._exec(f"SELECT DISTINCT {self._month_expr(spec, spec.key)} "
                               f"FROM {table}_default").scalars()  # fmt: skip
            return False, self._add_months(spec, [*months, *stray])
        return True, self._convert(spec, months)

    def _add_months(self, spec: _Spec, months: Sequence[date]) -> list[str]:
        existing = {p.name for p in self.partitions(spec.table)}
        created: list[str] = []
        default = f"{spec.table}_default"
        for month in sorted(set(months)):
            name = partition_name(spec.table, month)
            if name in existing:
                continue
            low, high = self._bound(spec, month), self._bound(spec, add_months(month, 1))
            stray = self._exec(f"SELECT EXISTS (SELECT 1 FROM {default} "
                               f"WHERE {self._range(spec, month)})").scalar()  # fmt: skip
            if not stray:
                self._exec(f"CREATE TABLE {name} PARTITION OF {spec.table} "
                           f"FOR VALUES FROM ({low}) TO ({high})")  # fmt: skip
            else:  # split the month's rows out of DEFAULT (detached: its row triggers go too)
                self._exec(f"ALTER TABLE {spec.table} DETACH PARTITION {default}")
                self._exec(f"CREATE TABLE {name} (LIKE {spec.table} INCLUDING DEFAULTS "
                           "INCLUDING CONSTRAINTS)")  # fmt: skip
                self._exec(f"INSERT INTO {name} SELECT * FROM {default} "
                           f"WHERE {self._range(spec, month)}")  # fmt: skip
                self._exec(f"DELETE FROM {default} WHERE {self._range(spec, month)}")
                self._exec(f"ALTER TABLE {spec.table} ATTACH PARTITION {name} "
                           f"FOR VALUES FROM ({low}) TO ({high})")  # fmt: skip
                self._exec(f"ALTER TABLE {spec.table} ATTACH PARTITION {default} DEFAULT")
            self._copy_truncate_guards(spec.table, name)
            created.append(name)
        return created

    def _exec(self, sql: str) -> Any:
        """A statement without parameters, on the driver (``text`` would read ``:00`` in a
        timestamp literal as a bind parameter; psycopg reads ``%`` as a placeholder)."""
        return self.connection.exec_driver_sql(sql.replace("%", "%%"))

    def _truncate_guards(self, table: str) -> list[str]:
        return [
            str(d)
            for (d,) in self._rows(
                "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass(:t) "
                "AND NOT tgisinternal AND (tgtype & 32) <> 0",  # TRIGGER_TYPE_TRUNCATE
                t=table,
            )
        ]

    def _copy_truncate_guards(self, table: str, partition: str) -> None:
        """Statement triggers are not cloned to partitions: TRUNCATE of one partition would
        skip the parent's guard, so each partition gets its own copy."""
        for definition in self._truncate_guards(table):
            name = definition.split()[2]
            copy = definition.replace(f"TRIGGER {name} ", f"TRIGGER {name}_p ", 1)
            self._exec(copy.replace(f" ON public.{table} ", f" ON public.{partition} ", 1)
                       .replace(f" ON {table} ", f" ON {partition} ", 1))  # fmt: skip

    def _convert(self, spec: _Spec, months: Sequence[date]) -> list[str]:
        table, old = spec.table, f"{spec.table}_unpartitioned"
        if self._scalar("SELECT current_setting('server_version_num')::int") < 130000:
            raise ValueError("partitioning the ledgers needs PostgreSQL 13 or newer")
        indexes = self._rows(
            "SELECT i.relname, pg_get_indexdef(i.oid), x.indisprimary, x.indisunique "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = to_regclass(:t)",
            t=table,
        )
        foreign = self._rows(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(:t) AND contype = 'f'",
            t=table,
        )
        triggers = self._rows(
            "SELECT pg_get_triggerdef(oid), (tgtype & 32) <> 0 FROM pg_trigger "
            "WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal",
            t=table,
        )
        owned = self._rows(
            "SELECT s.relname, a.attname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE d.refobjid = to_regclass(:t) AND d.deptype IN ('a', 'i')",
            t=table,
        )
        for name, _, primary, unique in indexes:
            if unique and not primary and name not in spec.unique_moved:
                raise ValueError(f"{table}: unique index {name} would not stay unique")
        # free the names: index (and index-backed constraint) names are schema-wide
        self._exec(f"ALTER TABLE {table} RENAME TO {old}")
        for name, *_ in indexes:
            self._exec(f"ALTER INDEX {name} RENAME TO {(name + '_old')[-_MAX_NAME:]}")
        self._exec(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                   f"INCLUDING STORAGE) PARTITION BY RANGE ({spec.key})")  # fmt: skip
        key = ", ".join((*spec.primary, spec.key))
        self._exec(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})")
        for name, definition in foreign:
            self._exec(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for _, definition, primary, _unique in indexes:
            if not primary:
                self._exec(definition.replace("CREATE UNIQUE INDEX", "CREATE INDEX", 1))
        data_months = [
            m
            for (m,) in self._exec(f"SELECT DISTINCT {self._month_expr(spec, spec.key)} FROM {old}")
        ]
        self._exec(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        created = [f"{table}_default"]
        created += self._add_months(spec, [*data_months, *months])
        self._exec(spec.keys_ddl)
        self._exec(
            f"CREATE TRIGGER {table}_keys AFTER INSERT ON {table} REFERENCING NEW TABLE AS added "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {spec.keys_function}()"
        )
        columns = ", ".join(
            str(c)
            for (c,) in self._rows(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                t=table,
            )
        )
        self._exec(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {old}")
        for sequence, column in owned:
            self._exec(f"ALTER SEQUENCE {sequence} OWNED BY {table}.{column}")
        self._exec(f"DROP TABLE {old}")
        for definition, _ in triggers:  # append-only and TRUNCATE guards, now on the parent
            self._exec(definition)
        for partition in created:
            self._copy_truncate_guards(table, partition)
        for statement in spec.keys_guards:
            self._exec(statement)
        return created
