"""partitions: the functions behind PostgreSQL monthly partitions of the two ledgers

Partitioning itself is opt-in (``xborder store partitions``, ``xborder.store.partitions``): it
rewrites a table, which an operator schedules; a migration runs at every start-up. What this
revision installs is what the partitioned tables need and PostgreSQL cannot do on them: a
partitioned table's unique indexes must include the partition key, so event ids, one (object,
seq) per chain link, transfer ids and one resolution per pending transfer are kept unique in
small key tables, filled by these AFTER INSERT statement triggers (transition table ``added``;
they fire for COPY too). SQLite: nothing (it is never partitioned).

Revision ID: 0013_partitions
Revises: 0012_quotes
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_partitions"
down_revision: str | Sequence[str] | None = "0012_quotes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG = [
    """CREATE FUNCTION trace_event_keys_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO trace_event_keys (id, object_id, seq) SELECT id, object_id, seq FROM added;
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION ledger_transfer_keys_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO ledger_transfer_keys (id, pending_id) SELECT id, pending_id FROM added;
      RETURN NULL;
    END $$""",
]
_PG_DROP = [
    "DROP FUNCTION IF EXISTS trace_event_keys_add()",
    "DROP FUNCTION IF EXISTS ledger_transfer_keys_add()",
]


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if _postgres():
        for statement in _PG:
            op.execute(statement)


def downgrade() -> None:
    if not _postgres():
        return
    partitioned = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT count(*) FROM pg_class WHERE relkind = 'p' "
            "AND relname IN ('trace_events', 'ledger_transfers')"
        )
        .scalar()
    )
    if partitioned:
        raise RuntimeError("the ledgers are partitioned: copy them into plain tables first")
    for statement in _PG_DROP:
        op.execute(statement)
