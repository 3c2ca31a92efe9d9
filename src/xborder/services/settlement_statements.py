"""Balances and statements: every party can see what it holds and the transfers that explain it.

A statement gives each of the party's accounts its opening, movements and closing over a period
(summed in the store), a summary of what moved each balance (per kind of transfer, in words), and
on request every entry with a plain description ("escrow capture, order 123", "line-haul freight,
parcel XB000000000123", "SLA penalty (late 2 days), order 9"). Amounts are Money; the entries
frame keeps integer minor units next to their currency for machines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.domain.money import Money
from xborder.services.settlement_posting import facts
from xborder.settlement.milestones import WORDS, describe
from xborder.store.settlement_repo import LedgerRepository
from xborder.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class StatementLine:
    account: str  # party:purpose:CCY
    opening: Money
    debits: Money
    credits: Money
    closing: Money
    pending_out: Money
    pending_in: Money
    transfers: int


@dataclass(frozen=True, slots=True)
class Movement:
    """What moved one account's balance: one kind of transfer, in words."""

    account: str
    code: str
    what: str
    transfers: int
    amount: Money  # posted effect on the balance (credit-positive; reservations move nothing)


@dataclass(frozen=True, slots=True)
class Statement:
    party: str
    since: date | None
    until: date | None
    lines: list[StatementLine]
    movements: list[Movement]
    # with entries: seq, id, at, code, order_id, kind, currency, amount (signed minor units,
    # from the party's side), account, counterparty, description
    entries: pl.DataFrame


@dataclass(frozen=True, slots=True)
class StatementQuery:
    party: str
    since: date | None = None  # first day, inclusive
    until: date | None = None  # last day, exclusive
    with_entries: bool = False


@dataclass(frozen=True, slots=True)
class Balances:
    party: str | None = None


def balances(uow: UnitOfWork, query: Balances | None = None) -> pl.DataFrame:
    """Accounts (of one party, or all) with their posted balance (credit-positive) and pending
    sums, in minor units next to their currency."""
    with uow:
        return uow.ledger.balances(query.party if query else None).with_columns(
            (pl.col("credits_posted") - pl.col("debits_posted")).alias("balance")
        )


def statement(uow: UnitOfWork, query: StatementQuery) -> Statement:
    """A party's accounts over ``[since, until)``: opening, movements and closing, what moved
    each balance, and with ``with_entries`` every transfer, signed from the party's side."""
    since, until = query.since, query.until
    if since is not None and until is not None and until <= since:
        raise InvalidValue("to", "must be after --from", until.isoformat())
    with uow:
        repo = uow.ledger
        accounts = repo.balances(query.party)
        ids = accounts.get_column("account").to_list()
        start = _midnight(since) if since else None
        end = _midnight(until) if until else None
        opening = repo.sums_before(ids, start) if start and ids else {}
        sums = repo.period_sums(ids, start, end) if ids else {}
        names: dict[int, tuple[str, str]] = {}
        lines: list[StatementLine] = []
        for acc in accounts.iter_rows(named=True):
            cur, aid = acc["currency"], acc["account"]
            names[aid] = (f"{acc['party']}:{acc['purpose']}:{cur}", cur)
            debits, credits, count = sums[aid]
            first = opening.get(aid, 0)
            lines.append(StatementLine(
                names[aid][0], Money.from_minor(first, cur),
                Money.from_minor(debits, cur), Money.from_minor(credits, cur),
                Money.from_minor(first + credits - debits, cur),
                Money.from_minor(acc["debits_pending"], cur),
                Money.from_minor(acc["credits_pending"], cur), count,
            ))  # fmt: skip
        movements = []
        if ids:
            for row in repo.code_sums(ids, start, end).sort("account", "code").iter_rows():
                aid, code, count, amount = row
                name, cur = names[aid]
                words = WORDS.get(code, code)
                movements.append(Movement(name, code, words, count, Money.from_minor(amount, cur)))
        entries = pl.DataFrame()
        if query.with_entries and ids:
            entries = _entries(uow, repo, ids, start, end)
        return Statement(query.party, since, until, lines, movements, entries)


def _entries(
    uow: UnitOfWork, repo: LedgerRepository, ids: list[int], start: datetime | None,
    end: datetime | None,
) -> pl.DataFrame:  # fmt: skip
    moves = repo.transfers(ids, since=start, until=end)
    names = repo.balances().select(
        "account", pl.concat_str("party", "purpose", "currency", separator=":").alias("name")
    )
    keep = ("seq", "id", "at", "code", "order_id", "kind", "currency")
    legs = pl.concat([  # one row per leg on the party's side: in (credit) and out (debit)
        moves.filter(pl.col("credit").is_in(ids)).select(
            *keep, pl.col("credit").alias("own"), pl.col("debit").alias("other"), "amount"),
        moves.filter(pl.col("debit").is_in(ids)).select(
            *keep, pl.col("debit").alias("own"), pl.col("credit").alias("other"),
            (-pl.col("amount")).alias("amount")),
    ])  # fmt: skip
    frame = (
        legs.join(names.rename({"account": "own", "name": "account"}), on="own")
        .join(names.rename({"account": "other", "name": "counterparty"}), on="other")
        .drop("own", "other").sort("at", "seq", "amount")  # in time order (milestone dates)
    )  # fmt: skip
    orders = frame.get_column("order_id").drop_nulls().unique().to_list()
    about = facts(uow).order_facts(orders)
    return frame.with_columns(describe(frame, about))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)
