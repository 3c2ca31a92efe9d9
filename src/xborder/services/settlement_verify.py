"""``settle verify``: the balances recomputed from the transfers, and double entry checked.

The store keeps each account's balance next to its transfers (the kernel reads and locks it on
every posting), and migration ``0011_ledger_guard`` refuses changes to it outside the posting
path. Triggers can be dropped by whoever owns the schema, so this use case is the check that does
not trust them: it recomputes every balance from the transfers set-wise in SQL (posted sums of
``posted`` and ``post`` rows, pending sums of the pending rows nothing resolved yet) and compares
it with the stored one, and it lists the transfers that break double entry (a missing account, a
currency that is not both accounts', a second phase that does not match its pending transfer).

What it cannot see: a ledger emptied whole (accounts, balances and transfers together) is a
consistent empty ledger. Keep the balances a statement reported (``settle balances --json``) to
compare with, as the trace ledger's checkpoint does for events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from xborder.settlement.ledger import BALANCE_COLUMNS
from xborder.store.ledger_check_repo import LedgerCheckRepository
from xborder.store.uow import UnitOfWork

Sums = tuple[int, int, int, int]  # debits_posted, credits_posted, debits_pending, credits_pending


@dataclass(frozen=True, slots=True)
class VerifyLedger:
    limit: int = 1000  # at most this many findings of each kind are listed (all are counted)


@dataclass(frozen=True, slots=True)
class BalanceMismatch:
    account: str  # party:purpose:CCY
    stored: Sums | None  # None: the balance row is missing
    recomputed: Sums


@dataclass(frozen=True, slots=True)
class BrokenTransfer:
    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    accounts: int
    transfers: int
    mismatched: int  # accounts whose stored balance is not what the transfers give
    broken: int  # transfers that break double entry or the two-phase rules
    orphans: int  # balance rows without an account
    mismatches: tuple[BalanceMismatch, ...]  # the first ``limit`` of them
    broken_transfers: tuple[BrokenTransfer, ...]

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.broken or self.orphans)


def verify_ledger(uow: UnitOfWork, command: VerifyLedger) -> LedgerCheck:
    """Recompute every balance from the transfers and check every transfer's double entry."""
    with uow:
        repo = LedgerCheckRepository(uow.connection)
        accounts, transfers = repo.ledger_size()
        wrong = repo.balance_mismatches()
        broken = repo.broken_transfers()
        orphans = repo.orphan_balances()
    mismatches = tuple(
        BalanceMismatch(
            r["code"],
            None if r["stored_debits_posted"] is None
            else _sums(r[f"stored_{c}"] for c in BALANCE_COLUMNS),
            _sums(r[f"recomputed_{c}"] for c in BALANCE_COLUMNS),
        )
        for r in wrong.head(command.limit).iter_rows(named=True)
    )  # fmt: skip
    listed = tuple(BrokenTransfer(str(i), str(why))
                   for i, why in broken.head(command.limit).iter_rows())  # fmt: skip
    return LedgerCheck(accounts, transfers, wrong.height, broken.height, len(orphans), mismatches,
                       listed)  # fmt: skip


def _sums(values: Iterable[Any]) -> Sums:
    a, b, c, d = (int(v) for v in values)
    return a, b, c, d
