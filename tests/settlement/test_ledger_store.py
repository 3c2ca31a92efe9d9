"""The ledger on SQLite and PostgreSQL: a sequential reference model decides what each random batch
must do; the store must agree, and the invariants must hold after every batch."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from xborder.domain.errors import Conflict, DomainError, InvalidValue
from xborder.services.settlement import (
    Balances,
    PostTransfers,
    StatementQuery,
    balances,
    post_transfers,
    statement,
)
from xborder.settlement.ledger import AccountKey, Kind, Purpose, Transfer
from xborder.store.schema_settlement import ledger_transfers
from xborder.store.settlement_repo import LedgerRepository
from xborder.store.uow import UnitOfWork

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
_namespace = itertools.count()


def keys(ns: str) -> list[AccountKey]:
    """Two flagged (escrow, fees) and two free (funds, proceeds) EUR accounts, and a JPY pair."""
    return [
        AccountKey(f"{ns}-p", Purpose.FUNDS, "EUR"),
        AccountKey(f"{ns}-x", Purpose.ESCROW, "EUR"),
        AccountKey(f"{ns}-s", Purpose.PROCEEDS, "EUR"),
        AccountKey(f"{ns}-x", Purpose.FEES, "EUR"),
        AccountKey(f"{ns}-p", Purpose.FUNDS, "JPY"),
        AccountKey(f"{ns}-x", Purpose.ESCROW, "JPY"),
    ]


@dataclass(frozen=True)
class Op:
    kind: Kind
    id: int
    debit: int
    credit: int
    amount: int
    pending: int


# Mostly valid transfers (same-currency pairs, funded from unflagged accounts) with some invalid
# ones mixed in, so that both accepted and refused batches are common.
PAIRS = [(0, 1)] * 4 + [(0, 2)] * 2 + [(4, 5)] * 2 + [
    (1, 2), (1, 3), (2, 3), (5, 4), (3, 0), (0, 5), (1, 1),
]  # fmt: skip
ops = st.builds(
    lambda kind, id_, pair, amount, pending: Op(kind, id_, pair[0], pair[1], amount, pending),
    kind=st.sampled_from([Kind.POSTED] * 4 + [Kind.PENDING] * 2 + [Kind.POST] * 2 + [Kind.VOID]),
    id_=st.integers(0, 40),
    pair=st.sampled_from(PAIRS),
    amount=st.integers(0, 1200),
    pending=st.integers(0, 7),
)


def to_transfer(ns: str, op: Op, pendings: list[str] | None = None) -> Transfer:
    """``pendings``: pending ids stored so far; a post or void picks one of them (any, resolved
    or not), so that two-phase transfers are exercised and double resolutions are tried."""
    k = keys(ns)
    tid = f"{ns}-t{op.id}"
    pid = pendings[op.pending % len(pendings)] if pendings else f"{ns}-t{op.pending}"
    if op.kind in (Kind.POST, Kind.VOID):
        amount = 0 if op.kind is Kind.VOID else op.amount
        return Transfer(tid, None, None, amount, None, "test", NOW, op.kind, pid)
    d, c = k[op.debit], k[op.credit]
    return Transfer(tid, d, c, op.amount, d.currency, "test", NOW, op.kind)


class Model:
    """A straightforward sequential ledger: the specification the columnar kernel must meet."""

    def __init__(self, ns: str) -> None:
        self.keys = keys(ns)
        self.bal = {k.code: [0, 0, 0, 0] for k in self.keys}  # dp, cp, dpend, cpend
        self.stored: dict[str, Transfer] = {}
        self.resolved: set[str] = set()

    def apply(self, batch: list[Transfer]) -> bool:
        bal = {k: list(v) for k, v in self.bal.items()}
        stored, resolved = dict(self.stored), set(self.resolved)
        seen: dict[str, Transfer] = {}
        for t in batch:
            if t.id in seen:
                if seen[t.id] != t:
                    return False
                continue
            seen[t.id] = t
            if t.id in stored:
                s = stored[t.id]
                if t.kind != s.kind or t.pending_id != s.pending_id:
                    return False
                if t.kind in (Kind.POSTED, Kind.PENDING) and t != s:
                    return False
                if t.kind is Kind.POST and t.amount not in (0, s.amount):
                    return False
                continue
            if t.kind in (Kind.POSTED, Kind.PENDING):
                if t.amount <= 0 or t.debit == t.credit:
                    return False
                assert t.debit is not None and t.credit is not None
                if t.debit.currency != t.credit.currency:
                    return False
                d, c = t.debit.code, t.credit.code
                slot = 0 if t.kind is Kind.POSTED else 2
                bal[d][slot] += t.amount
                bal[c][slot + 1] += t.amount
                resolved_t = t
            else:
                p = stored.get(t.pending_id or "")
                if p is None or p.kind is not Kind.PENDING or p.id in resolved:
                    return False
                if t.kind is Kind.POST and t.amount > p.amount:
                    return False
                assert p.debit is not None and p.credit is not None
                d, c = p.debit.code, p.credit.code
                bal[d][2] -= p.amount
                bal[c][3] -= p.amount
                amount = 0
                if t.kind is Kind.POST:
                    amount = t.amount or p.amount
                    bal[d][0] += amount
                    bal[c][1] += amount
                resolved.add(p.id)
                resolved_t = Transfer(t.id, p.debit, p.credit, amount, p.currency, t.code, t.at,
                                      t.kind, t.pending_id)  # fmt: skip
            for key in self.keys:
                dp, cp, dpend, _ = bal[key.code]
                if key.flags and dp + dpend > cp:
                    return False
            stored[t.id] = resolved_t
        self.bal, self.stored, self.resolved = bal, stored, resolved
        return True


def _store_balances(uow: UnitOfWork, ns: str) -> dict[str, list[int]]:
    frame = balances(uow, Balances())
    out: dict[str, list[int]] = {}
    for r in frame.iter_rows(named=True):
        if r["party"].startswith(f"{ns}-"):
            code = f"{r['party']}:{r['purpose']}:{r['currency']}"
            out[code] = [r["debits_posted"], r["credits_posted"], r["debits_pending"],
                         r["credits_pending"]]  # fmt: skip
    return out


BATCHES = st.lists(
    st.tuples(st.lists(ops, min_size=1, max_size=3), st.booleans()), min_size=1, max_size=8
)
NO_FIXTURE_CHECK = [HealthCheck.function_scoped_fixture]


@settings(max_examples=30, deadline=None, suppress_health_check=NO_FIXTURE_CHECK)
@given(batches=BATCHES)
def test_store_matches_the_model_and_keeps_the_invariants(
    engine: Engine, batches: list[tuple[list[Op], bool]]
) -> None:
    check_against_model(engine, batches)


@settings(max_examples=150, deadline=None, suppress_health_check=NO_FIXTURE_CHECK)
@given(batches=BATCHES)
def test_more_random_batches_on_sqlite(
    sqlite_engine: Engine, batches: list[tuple[list[Op], bool]]
) -> None:
    check_against_model(sqlite_engine, batches)


def check_against_model(engine: Engine, batches: list[tuple[list[Op], bool]]) -> None:
    ns = f"n{next(_namespace)}"
    model = Model(ns)
    sent: list[list[Transfer]] = []
    for ops_, retry in batches:
        pendings = [t.id for t in model.stored.values() if t.kind is Kind.PENDING]
        batch = [to_transfer(ns, op, pendings) for op in ops_]
        if retry and sent:  # resend an earlier batch, as a client does after a timeout
            batch = sent[-1] + batch[:1]
        sent.append(batch)
        expected = model.apply(batch)
        with UnitOfWork(engine) as uow:
            try:
                post_transfers(uow, PostTransfers(batch))
                uow.commit()
                accepted = True
            except DomainError:
                accepted = False
        assert accepted == expected, batch
        with UnitOfWork(engine) as uow:
            stored = _store_balances(uow, ns)
            for code, sums in stored.items():
                assert sums == model.bal[code], code
            count = uow.connection.execute(
                select(func.count()).select_from(ledger_transfers)
                .where(ledger_transfers.c.id.like(f"{ns}-%"))
            ).scalar_one()  # fmt: skip
            assert count == len(model.stored)  # retries never double-post
            frame = balances(uow, Balances())
            for currency in frame.get_column("currency").unique().to_list():
                part = frame.filter(frame["currency"] == currency)
                assert int((part["credits_posted"] - part["debits_posted"]).sum()) == 0
                assert int((part["credits_pending"] - part["debits_pending"]).sum()) == 0
            flagged = frame.filter(frame["flags"] == 1)
            free = flagged["credits_posted"] - flagged["debits_posted"] - flagged["debits_pending"]
            assert all(x >= 0 for x in free.to_list())


def _fund(engine: Engine, ns: str, amount: int = 1000) -> list[AccountKey]:
    k = keys(ns)
    with UnitOfWork(engine) as uow:
        post_transfers(
            uow, PostTransfers([Transfer(f"{ns}-fund", k[0], k[1], amount, "EUR", "fund", NOW)])
        )
        uow.commit()
    return k


def test_a_crash_in_the_middle_of_a_batch_leaves_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    k = _fund(engine, "crash")
    original = LedgerRepository.write

    def crash(self: LedgerRepository, accepted: Any, deltas: Any) -> None:
        original(self, accepted, deltas)  # the transfers and balances are written ...
        raise RuntimeError("power cut")  # ... and then the process dies before commit

    monkeypatch.setattr(LedgerRepository, "write", crash)
    batch = [Transfer(f"crash-b{i}", k[1], k[2], 10, "EUR", "release", NOW) for i in range(50)]
    with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
        post_transfers(uow, PostTransfers(batch))
        uow.commit()
    with UnitOfWork(engine) as uow:
        count = uow.connection.execute(
            select(func.count()).select_from(ledger_transfers)
            .where(ledger_transfers.c.id.like("crash-b%"))
        ).scalar_one()  # fmt: skip
        assert count == 0
        assert _store_balances(uow, "crash")[k[1].code] == [0, 1000, 0, 0]


def test_overdraft_unbalanced_and_conflicting_ids_are_refused_with_named_fields(
    engine: Engine,
) -> None:
    k = _fund(engine, "bad", 500)
    with UnitOfWork(engine) as uow:
        with pytest.raises(InvalidValue) as over:
            post_transfers(uow, PostTransfers([
                Transfer("bad-1", k[1], k[2], 300, "EUR", "release", NOW),
                Transfer("bad-2", k[1], k[2], 300, "EUR", "release", NOW),
            ]))  # fmt: skip
        assert over.value.field == "transfer bad-2.amount" and "overdraw" in over.value.reason
        with pytest.raises(InvalidValue) as cross:
            post_transfers(uow, PostTransfers([Transfer("bad-3", k[0], k[5], 1, "EUR", "x", NOW)]))
        assert cross.value.field == "transfer bad-3.currency"
        with pytest.raises(Conflict):
            twice = Transfer("bad-fund", k[0], k[1], 501, "EUR", "fund", NOW)
            post_transfers(uow, PostTransfers([twice]))
        with pytest.raises(InvalidValue) as neg:
            post_transfers(uow, PostTransfers([Transfer("bad-4", k[0], k[1], -5, "EUR", "x", NOW)]))
        assert neg.value.field == "transfer bad-4.amount"
        with pytest.raises(InvalidValue) as acct:
            post_transfers(uow, PostTransfers([Transfer("bad-5", k[0], k[1], 5, "EUR", "", NOW)]))
        assert acct.value.field == "transfer bad-5.code"


def test_two_phase_post_part_and_void_and_statement(engine: Engine) -> None:
    k = _fund(engine, "two", 1000)
    with UnitOfWork(engine) as uow:
        post_transfers(uow, PostTransfers([
            Transfer("two-r", k[1], k[2], 600, "EUR", "release", NOW, Kind.PENDING),
            Transfer("two-f", k[1], k[3], 100, "EUR", "fee", NOW, Kind.PENDING),
        ]))  # fmt: skip
        with pytest.raises(InvalidValue):  # 300 free: pending debits count against escrow
            over = Transfer("two-x", k[1], k[2], 301, "EUR", "x", NOW)
            post_transfers(uow, PostTransfers([over]))
        post_transfers(uow, PostTransfers([
            Transfer("two-r.post", None, None, 550, "EUR", "confirm", NOW, Kind.POST, "two-r"),
            Transfer("two-f.void", None, None, 0, "EUR", "void", NOW, Kind.VOID, "two-f"),
        ]))  # fmt: skip
        with pytest.raises(InvalidValue) as again:
            void = Transfer("two-r.again", None, None, 0, "EUR", "c", NOW, Kind.VOID, "two-r")
            post_transfers(uow, PostTransfers([void]))
        assert "already" in again.value.reason
        uow.commit()
    with UnitOfWork(engine) as uow:
        got = _store_balances(uow, "two")
        assert got[k[1].code] == [550, 1000, 0, 0]
        assert got[k[2].code] == [0, 550, 0, 0]
        assert got[k[3].code] == [0, 0, 0, 0]
        st_ = statement(uow, StatementQuery("two-x", with_entries=True))
        escrow = next(line for line in st_.lines if line.account == k[1].code)
        assert str(escrow.closing.amount) == "4.50" and escrow.transfers == 5
        fees = next(line for line in st_.lines if line.account == k[3].code)
        assert fees.closing.is_zero() and fees.transfers == 2  # reserved, then voided
        # escrow -> fees is internal to the party: both legs are listed
        fee_legs = st_.entries.filter(st_.entries["id"] == "two-f")
        assert sorted(fee_legs["amount"].to_list()) == [-100, 100]
        assert st_.entries.height == 7


def test_transfers_are_append_only_in_the_store(engine: Engine) -> None:
    _fund(engine, "app")
    with UnitOfWork(engine) as uow, pytest.raises(DBAPIError):
        uow.connection.execute(text("UPDATE ledger_transfers SET amount = 1 WHERE id = 'app-fund'"))
    with UnitOfWork(engine) as uow, pytest.raises(DBAPIError):
        uow.connection.execute(text("DELETE FROM ledger_transfers WHERE id = 'app-fund'"))
    with UnitOfWork(engine) as uow, pytest.raises(DBAPIError):  # the store's own overdraft guard
        uow.connection.execute(text(
            "UPDATE ledger_balances SET debits_posted = credits_posted + 1 "
            "WHERE flags = 1 AND credits_posted > 0"
        ))  # fmt: skip


def test_concurrent_batches_cannot_spend_the_same_money(engine: Engine) -> None:
    """Two writers each try to take 600 of the 1000 in escrow; the store serialises them (row
    locks on PostgreSQL, the write lock on SQLite), so the second sees the first's debit."""
    k = _fund(engine, "race", 1000)
    first_posted = threading.Event()
    outcomes: dict[str, str] = {}

    def writer(name: str, wait: threading.Event | None) -> None:
        if wait is not None:
            wait.wait(5)
        try:
            with UnitOfWork(engine) as uow:
                race = Transfer(f"race-{name}", k[1], k[2], 600, "EUR", "x", NOW)
                post_transfers(uow, PostTransfers([race]))
                if wait is None:
                    first_posted.set()
                    time.sleep(0.5)  # hold the locks while the other writer tries
                uow.commit()
            outcomes[name] = "posted"
        except InvalidValue as exc:
            outcomes[name] = exc.reason

    threads = [threading.Thread(target=writer, args=("a", None)),
               threading.Thread(target=writer, args=("b", first_posted))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes["a"] == "posted" and "overdraw" in outcomes["b"]
    with UnitOfWork(engine) as uow:
        assert _store_balances(uow, "race")[k[1].code] == [600, 1000, 0, 0]
