"""The tamper matrix: each way to edit the ledger behind the posting path is refused by the store
(migration 0011_ledger_guard) or, with the guard switched off by someone who owns the schema,
caught by ``settle verify`` (every balance recomputed from the transfers).

| table / column                  | refused by                         | caught by verify        |
| ------------------------------- | ---------------------------------- | ----------------------- |
| ledger_transfers.amount UPDATE  | append-only trigger (0005)         | both accounts differ    |
| ledger_transfers.currency UPDATE| append-only trigger                | broken double entry     |
| ledger_transfers DELETE (a row) | append-only trigger                | both accounts differ    |
| ledger_transfers DELETE (all)   | append-only trigger (SQLite)       | every account differs   |
| ledger_transfers TRUNCATE (PG)  | truncate trigger (0011)            | every account differs   |
| ledger_balances UPDATE          | balance guard (0011)               | the account differs     |
| ledger_balances DELETE          | balance guard                      | missing balance row     |
| ledger_balances TRUNCATE (PG)   | truncate trigger                   | missing balance rows    |
| ledger_balances INSERT non-zero | balance guard                      | (refused)               |
| ledger_accounts.party UPDATE    | account guard (0011)               | (refused)               |
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from tests.settlement.test_ledger_store import NOW, keys
from xborder.cli.main import app
from xborder.services.settlement import (
    LedgerCheck,
    PostTransfers,
    VerifyLedger,
    post_transfers,
    verify_ledger,
)
from xborder.settlement.ledger import Kind, Transfer
from xborder.store.uow import UnitOfWork

runner = CliRunner()


def _ledger(engine: Engine) -> None:
    """Two parties' escrow money: funded, a release reserved and posted, a fee reserved."""
    k = keys("g")
    moves = [
        Transfer("g-fund", k[0], k[1], 1000, "EUR", "fund", NOW),
        Transfer("g-rel", k[1], k[2], 600, "EUR", "release", NOW, Kind.PENDING),
        Transfer("g-rel.post", None, None, 0, None, "release.post", NOW, Kind.POST, "g-rel"),
        Transfer("g-fee", k[1], k[3], 50, "EUR", "fee", NOW, Kind.PENDING),
    ]
    with UnitOfWork(engine) as uow:
        post_transfers(uow, PostTransfers(moves))
        uow.commit()


def _check(engine: Engine) -> LedgerCheck:
    return verify_ledger(UnitOfWork(engine), VerifyLedger())


def _refused(engine: Engine, sql: str) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(DBAPIError):
        uow.connection.execute(text(sql))
        uow.commit()


def _postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _unguarded(engine: Engine, sql: str) -> None:
    """Run ``sql`` as someone who owns the schema would: with the ledger's triggers off."""
    with engine.begin() as conn:
        if _postgres(engine):
            for table in ("ledger_transfers", "ledger_balances", "ledger_accounts"):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                      "AND tbl_name LIKE 'ledger_%'")).scalars().all()  # fmt: skip
            for name in names:
                conn.execute(text(f"DROP TRIGGER {name}"))
        conn.execute(text(sql))


def test_a_clean_ledger_verifies(engine: Engine) -> None:
    _ledger(engine)
    check = _check(engine)
    assert check.ok and check.transfers == 4 and check.accounts == 4
    assert check.mismatches == () and check.broken_transfers == ()


REFUSED = {
    "transfer amount": "UPDATE ledger_transfers SET amount = 1 WHERE id = 'g-fund'",
    "transfer row": "DELETE FROM ledger_transfers WHERE id = 'g-fee'",
    "every transfer": "DELETE FROM ledger_transfers",
    "balance": "UPDATE ledger_balances SET credits_posted = credits_posted + 100",
    "balance row": "DELETE FROM ledger_balances",
    "account party": "UPDATE ledger_accounts SET party = 'mallory' WHERE party = 'g-x'",
    "account row": "DELETE FROM ledger_accounts WHERE party = 'g-x'",
}


@pytest.mark.parametrize("what", list(REFUSED))
def test_editing_the_ledger_behind_the_posting_path_is_refused(engine: Engine, what: str) -> None:
    _ledger(engine)
    _refused(engine, REFUSED[what])
    assert _check(engine).ok  # nothing changed


def test_a_balance_row_with_money_in_it_cannot_be_inserted(engine: Engine) -> None:
    _ledger(engine)
    with UnitOfWork(engine) as uow:
        uow.connection.execute(text(
            "INSERT INTO ledger_accounts (party, purpose, currency, flags, opened_at) "
            "VALUES ('mallory', 'funds', 'EUR', 0, :at)"), {"at": NOW})  # fmt: skip
        with pytest.raises(DBAPIError):
            uow.connection.execute(text(
                "INSERT INTO ledger_balances SELECT id, 0, 0, 500, 0, 0 "
                "FROM ledger_accounts WHERE party = 'mallory'"))  # fmt: skip


# SQLite has no TRUNCATE (DELETE FROM is refused by the row triggers): PostgreSQL only.
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("table", ["ledger_transfers", "ledger_balances", "ledger_accounts"])
def test_truncate_is_refused_on_postgres(engine: Engine, table: str) -> None:
    assert _postgres(engine)
    _ledger(engine)
    _refused(engine, f"TRUNCATE {table} CASCADE")
    assert _check(engine).ok and _check(engine).transfers == 4


TAMPERED: dict[str, tuple[str, Callable[[LedgerCheck], bool]]] = {
    "transfer amount": ("UPDATE ledger_transfers SET amount = 999 WHERE id = 'g-fund'",
                        lambda c: c.mismatched == 2),
    "transfer currency": ("UPDATE ledger_transfers SET currency = 'USD' WHERE id = 'g-fund'",
                          lambda c: c.broken == 1 and c.broken_transfers[0].id == "g-fund"),
    "transfer row": ("DELETE FROM ledger_transfers WHERE id = 'g-fee'",
                     lambda c: c.mismatched == 2),
    "every transfer": ("DELETE FROM ledger_transfers", lambda c: c.mismatched == 4),
    "balance": ("UPDATE ledger_balances SET credits_posted = credits_posted + 100 "
                "WHERE debits_posted = 0 AND credits_posted = 600", lambda c: c.mismatched == 1),
    "balance row": ("DELETE FROM ledger_balances WHERE debits_posted = 0 AND "
                    "credits_posted = 600", lambda c: c.mismatches[0].stored is None),
}  # fmt: skip


@pytest.mark.parametrize("what", list(TAMPERED))
def test_with_the_guard_dropped_verify_catches_the_edit(engine: Engine, what: str) -> None:
    _ledger(engine)
    sql, caught = TAMPERED[what]
    _unguarded(engine, sql)
    check = _check(engine)
    assert not check.ok and caught(check), check


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_verify_catches_a_truncated_transfers_table_on_postgres(engine: Engine) -> None:
    assert _postgres(engine)
    _ledger(engine)
    _unguarded(engine, "TRUNCATE ledger_transfers")
    check = _check(engine)
    assert not check.ok and check.mismatched == 4 and check.transfers == 0


def test_the_mismatch_names_account_stored_and_recomputed(engine: Engine) -> None:
    _ledger(engine)
    _unguarded(engine, "UPDATE ledger_balances SET credits_posted = 700 WHERE credits_posted = 600")
    (m,) = _check(engine).mismatches
    assert m.account == "g-s:proceeds:EUR"
    assert m.stored == (0, 700, 0, 0) and m.recomputed == (0, 600, 0, 0)


def test_settle_verify_exits_0_when_clean_and_1_with_a_report(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ledger(engine)
    monkeypatch.setenv("XBORDER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    clean = runner.invoke(app, ["settle", "verify"])
    assert clean.exit_code == 0, clean.output
    assert "Ledger verified: 4 accounts, 4 transfers" in clean.output
    _unguarded(engine, "UPDATE ledger_balances SET credits_posted = 700 WHERE credits_posted = 600")
    bad = runner.invoke(app, ["settle", "verify"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "LEDGER CHECK FAILED" in bad.output and "1 balances differ" in bad.output
    assert "g-s:proceeds:EUR" in bad.output and "7.00 EUR" in bad.output
    assert "6.00 EUR" in bad.output
    assert max(len(line) for line in bad.output.splitlines()) <= 80
    as_json = runner.invoke(app, ["settle", "verify", "--json"])
    assert as_json.exit_code == 1 and '"recomputed": [0, 600, 0, 0]' in as_json.output
