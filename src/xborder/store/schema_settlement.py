"""Settlement tables: ledger accounts, their materialised balances, and append-only transfers.

Transfers are never updated or deleted (triggers refuse it); a correction is a new transfer, and
the two phases of a pending transfer are separate rows linked by ``pending_id``. Balances are
updated in the same transaction as the transfers that change them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from xborder.store.metadata import metadata

ledger_accounts = Table(
    "ledger_accounts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("party", String(64), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("flags", Integer, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("party", "purpose", "currency", name="uq_ledger_accounts_key"),
)  # fmt: skip

ledger_balances = Table(
    "ledger_balances", metadata,
    Column("account_id", Integer, ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("flags", Integer, nullable=False),  # a copy of the account's, for the check below
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("debits_pending", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    CheckConstraint("debits_pending >= 0 AND credits_pending >= 0", name="pending_not_negative"),
    # the store's own guard behind the ledger kernel's check of no-negative accounts
    CheckConstraint("(flags & 1) = 0 OR debits_posted + debits_pending <= credits_posted",
                    name="no_negative"),
)  # fmt: skip

ledger_transfers = Table(
    "ledger_transfers", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("id", String(64), nullable=False),
    Column("debit", Integer, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit", Integer, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("pending_id", String(64)),
    Column("code", String(40), nullable=False),
    Column("order_id", BigInteger),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("id", name="uq_ledger_transfers_id"),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    CheckConstraint("debit <> credit", name="two_accounts"),
)  # fmt: skip
# One resolution (post or void) per pending transfer, enforced by the store as well.
Index("uq_ledger_transfers_pending_id", ledger_transfers.c.pending_id, unique=True,
      sqlite_where=ledger_transfers.c.pending_id.isnot(None),
      postgresql_where=ledger_transfers.c.pending_id.isnot(None))  # fmt: skip
Index("ix_ledger_transfers_debit", ledger_transfers.c.debit)
Index("ix_ledger_transfers_credit", ledger_transfers.c.credit)
Index("ix_ledger_transfers_order_id", ledger_transfers.c.order_id)
