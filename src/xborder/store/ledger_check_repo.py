"""The ledger checked against itself, set-wise in SQL, for ``settle verify``.

Every balance recomputed from the transfers (posted sums of ``posted`` and ``post`` rows, pending
sums of the pending rows nothing resolved yet) and compared with the stored one; the transfers
that break double entry or the two-phase rules; balance rows without an account. Read-only: it
trusts neither the stored balances nor the store's triggers (migration ``0011_ledger_guard``).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Connection

from xborder.settlement.ledger import BALANCE_COLUMNS

MISMATCH_SCHEMA: dict[str, Any] = {
    "account": pl.Int64, "code": pl.String,
    **{f"stored_{c}": pl.Int64 for c in BALANCE_COLUMNS},
    **{f"recomputed_{c}": pl.Int64 for c in BALANCE_COLUMNS},
}  # fmt: skip


class LedgerCheckRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    def balance_mismatches(self) -> pl.DataFrame:
        """Accounts whose stored balance differs from the one recomputed from the transfers, set
        wise in SQL: posted sums of ``posted`` and ``post`` rows, pending sums of the pending
        rows no post or void resolved (MISMATCH_SCHEMA; a missing balance row has null stored
        sums). Each transfer is one debit leg and one credit leg."""
        sides = " UNION ALL ".join(
            f"SELECT t.{side} AS account, "
            f"CASE WHEN t.kind IN ('posted', 'post') THEN t.amount ELSE 0 END AS posted, "
            f"CASE WHEN t.kind = 'pending' AND r.id IS NULL THEN t.amount ELSE 0 END AS pending, "
            f"{sign} AS side FROM ledger_transfers t "
            f"LEFT JOIN ledger_transfers r ON r.pending_id = t.id"
            for side, sign in (("debit", 0), ("credit", 1))
        )
        recomputed = (
            "SELECT account, "
            "SUM(CASE WHEN side = 0 THEN posted ELSE 0 END) AS dp, "
            "SUM(CASE WHEN side = 1 THEN posted ELSE 0 END) AS cp, "
            "SUM(CASE WHEN side = 0 THEN pending ELSE 0 END) AS dq, "
            "SUM(CASE WHEN side = 1 THEN pending ELSE 0 END) AS cq "
            f"FROM ({sides}) legs GROUP BY account"
        )
        stored = ("b.debits_posted", "b.credits_posted", "b.debits_pending", "b.credits_pending")
        fresh = ("COALESCE(x.dp, 0)", "COALESCE(x.cp, 0)", "COALESCE(x.dq, 0)",
                 "COALESCE(x.cq, 0)")  # fmt: skip
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"  # null-safe inequality
        differs = " OR ".join(f"{a} {distinct} {b}" for a, b in zip(stored, fresh, strict=True))
        rows = self.connection.exec_driver_sql(
            f"SELECT a.id, a.party || ':' || a.purpose || ':' || a.currency, "
            f"{', '.join(stored)}, {', '.join(fresh)} "
            f"FROM ledger_accounts a LEFT JOIN ledger_balances b ON b.account_id = a.id "
            f"LEFT JOIN ({recomputed}) x ON x.account = a.id "
            f"WHERE {differs} OR b.flags {distinct} a.flags ORDER BY a.id"
        ).all()  # fmt: skip
        return pl.DataFrame([tuple(r) for r in rows], schema=MISMATCH_SCHEMA, orient="row")

    def orphan_balances(self) -> list[int]:
        """Balance rows whose account is gone (only possible with the foreign key switched off)."""
        rows = self.connection.exec_driver_sql(
            "SELECT b.account_id FROM ledger_balances b "
            "LEFT JOIN ledger_accounts a ON a.id = b.account_id WHERE a.id IS NULL"
        ).all()
        return [int(r[0]) for r in rows]

    def broken_transfers(self) -> pl.DataFrame:
        """Transfers that break double entry or the two-phase rules (id, reason), set-wise."""
        t = "FROM ledger_transfers t "
        accounts = ("LEFT JOIN ledger_accounts d ON d.id = t.debit "
                    "LEFT JOIN ledger_accounts c ON c.id = t.credit ")  # fmt: skip
        pending = "LEFT JOIN ledger_transfers p ON p.id = t.pending_id "
        checks = [
            ("no such debit or credit account", accounts + "WHERE d.id IS NULL OR c.id IS NULL"),
            ("debits and credits the same account", "WHERE t.debit = t.credit"),
            ("an account in another currency",
             accounts + "WHERE d.currency <> t.currency OR c.currency <> t.currency"),
            ("a negative amount", "WHERE t.amount < 0"),
            ("a posted or pending transfer of nothing",
             "WHERE t.kind IN ('posted', 'pending') AND t.amount <= 0"),
            ("an unknown kind", "WHERE t.kind NOT IN ('posted', 'pending', 'post', 'void')"),
            ("a single-phase transfer naming a pending one",
             "WHERE t.kind IN ('posted', 'pending') AND t.pending_id IS NOT NULL"),
            ("resolves no pending transfer",
             pending + "WHERE t.kind IN ('post', 'void') "
             "AND (p.id IS NULL OR p.kind <> 'pending')"),
            ("differs from the pending transfer it resolves",
             pending + "WHERE t.kind IN ('post', 'void') AND p.kind = 'pending' AND "
             "(t.debit <> p.debit OR t.credit <> p.credit OR t.currency <> p.currency "
             "OR t.amount > p.amount OR (t.kind = 'void' AND t.amount <> 0))"),
        ]  # fmt: skip
        sql = " UNION ALL ".join(f"SELECT t.id, '{why}' {t}{where}" for why, where in checks)
        rows = self.connection.exec_driver_sql(sql + " ORDER BY 1").all()
        return pl.DataFrame([tuple(r) for r in rows], schema={"id": pl.String, "reason": pl.String},
                            orient="row")  # fmt: skip

    def ledger_size(self) -> tuple[int, int]:
        """(accounts, transfers) in the ledger."""
        row = self.connection.exec_driver_sql(
            "SELECT (SELECT COUNT(*) FROM ledger_accounts), (SELECT COUNT(*) FROM ledger_transfers)"
        ).one()
        return int(row[0]), int(row[1])
