"""ledger guard: balances change only through posting; nothing truncates or rewrites the ledger

The balances stay materialised (the kernel reads and locks them on every posting; recomputing a
busy account from its transfers at each posting would cost a scan of its history), but the store
refuses any change to them that is not made by the posting path in its own transaction:

- PostgreSQL: the repository sets the transaction-local setting ``xborder.ledger_posting`` to
  ``on`` around its balance update (``set_config(..., true)``) and back to ``off`` after it; a
  row trigger refuses an UPDATE of ``ledger_balances`` without it, any DELETE, and an INSERT
  with non-zero sums. ``TRUNCATE`` of ``ledger_transfers``, ``ledger_balances`` and
  ``ledger_accounts`` is refused by statement triggers.
- SQLite (no session settings, no TRUNCATE): the repository inserts a row into the one-row table
  ``ledger_posting`` around its update and deletes it after; the same triggers check for it.
  ``DELETE FROM`` without a WHERE fires the row triggers (SQLite turns off its truncate
  optimisation on tables with triggers).
- Accounts are immutable (an UPDATE of the party would move money unseen): UPDATE and DELETE
  refused on both stores.

A person with DDL rights can still drop a trigger: the guard stops mistakes and naive tampering;
``xborder settle verify`` (recomputing every balance from the transfers) catches the rest.

Revision ID: 0011_ledger_guard
Revises: 0010_capture_jobs
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_ledger_guard"
down_revision: str | Sequence[str] | None = "0010_capture_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NONZERO = "NEW.debits_posted <> 0 OR NEW.credits_posted <> 0 OR NEW.debits_pending <> 0 OR " \
    "NEW.credits_pending <> 0"  # fmt: skip
_BALANCES = "ledger_balances change only by posting transfers"
_ACCOUNTS = "ledger_accounts are immutable: open a new account"

_SQLITE = [
    "CREATE TABLE ledger_posting (token INTEGER NOT NULL)",
    "CREATE TRIGGER ledger_balances_guard_update BEFORE UPDATE ON ledger_balances "
    "WHEN NOT EXISTS (SELECT 1 FROM ledger_posting) "
    f"BEGIN SELECT RAISE(ABORT, '{_BALANCES}'); END",
    "CREATE TRIGGER ledger_balances_guard_insert BEFORE INSERT ON ledger_balances "
    f"WHEN ({_NONZERO}) AND NOT EXISTS (SELECT 1 FROM ledger_posting) "
    f"BEGIN SELECT RAISE(ABORT, '{_BALANCES}'); END",
    "CREATE TRIGGER ledger_balances_guard_delete BEFORE DELETE ON ledger_balances "
    f"BEGIN SELECT RAISE(ABORT, '{_BALANCES}'); END",
    "CREATE TRIGGER ledger_accounts_guard_update BEFORE UPDATE ON ledger_accounts "
    f"BEGIN SELECT RAISE(ABORT, '{_ACCOUNTS}'); END",
    "CREATE TRIGGER ledger_accounts_guard_delete BEFORE DELETE ON ledger_accounts "
    f"BEGIN SELECT RAISE(ABORT, '{_ACCOUNTS}'); END",
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS ledger_balances_guard_update",
    "DROP TRIGGER IF EXISTS ledger_balances_guard_insert",
    "DROP TRIGGER IF EXISTS ledger_balances_guard_delete",
    "DROP TRIGGER IF EXISTS ledger_accounts_guard_update",
    "DROP TRIGGER IF EXISTS ledger_accounts_guard_delete",
    "DROP TABLE IF EXISTS ledger_posting",
]

_PG = [
    f"""CREATE FUNCTION ledger_balances_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{_BALANCES}'; END IF;
      IF current_setting('xborder.ledger_posting', true) IS DISTINCT FROM 'on' THEN
        IF TG_OP = 'UPDATE' OR ({_NONZERO}) THEN RAISE EXCEPTION '{_BALANCES}'; END IF;
      END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER ledger_balances_guard BEFORE INSERT OR UPDATE OR DELETE ON ledger_balances
    FOR EACH ROW EXECUTE FUNCTION ledger_balances_guard()""",
    f"""CREATE FUNCTION ledger_accounts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{_ACCOUNTS}'; END $$""",
    """CREATE TRIGGER ledger_accounts_guard BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_guard()""",
    """CREATE FUNCTION ledger_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the ledger is append-only: % cannot be truncated', TG_TABLE_NAME;
    END $$""",
    *[
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_no_truncate()"""
        for table in ("ledger_transfers", "ledger_balances", "ledger_accounts")
    ],
]
_PG_DROP = [
    *[
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"
        for table in ("ledger_transfers", "ledger_balances", "ledger_accounts")
    ],
    "DROP FUNCTION IF EXISTS ledger_no_truncate()",
    "DROP TRIGGER IF EXISTS ledger_accounts_guard ON ledger_accounts",
    "DROP FUNCTION IF EXISTS ledger_accounts_guard()",
    "DROP TRIGGER IF EXISTS ledger_balances_guard ON ledger_balances",
    "DROP FUNCTION IF EXISTS ledger_balances_guard()",
]


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    for statement in _PG if _postgres() else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    for statement in _PG_DROP if _postgres() else _SQLITE_DROP:
        op.execute(statement)
