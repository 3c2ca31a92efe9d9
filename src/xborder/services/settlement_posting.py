"""Posting transfers: the one path every settlement use case writes the ledger through.

``post_transfers`` and ``post_frame`` are use cases (they open the unit of work and commit it);
``post`` is the step they and every other settlement use case share inside an open unit of work.
A refused batch raises before anything is written; a write that fails rolls back to a savepoint
and raises, so no partial batch is ever stored. Transfer ids make every batch idempotent: what
is already stored with the same content is reported as ``existing``, not written twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from xborder.domain.errors import Conflict, InvalidValue
from xborder.domain.money import currency_code
from xborder.settlement.crashpoints import crash_point
from xborder.settlement.ledger import (
    CODED_SCHEMA,
    TRANSFER_COLUMNS,
    AccountKey,
    Transfer,
    check_batch,
)
from xborder.store.settlement_facts_repo import SettlementFactsRepository
from xborder.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class PostResult:
    posted: int  # new transfers written
    existing: list[str] = field(default_factory=list)  # ids retried with the same content

    def __add__(self, other: PostResult) -> PostResult:
        return PostResult(self.posted + other.posted, self.existing + other.existing)


@dataclass(frozen=True, slots=True)
class Posted:
    """What one posting did, with the new transfers themselves (CODED_SCHEMA) for counting."""

    result: PostResult
    new: pl.DataFrame


@dataclass(frozen=True, slots=True)
class PostTransfers:
    transfers: Sequence[Transfer]


@dataclass(frozen=True, slots=True)
class PostFrame:
    frame: pl.DataFrame  # CODED_SCHEMA columns (accounts as party:purpose:CCY codes)


def transfers_frame(transfers: Sequence[Transfer]) -> pl.DataFrame:
    """The columnar form of transfers (the single call and the bulk path share one kernel)."""
    rows = [
        (t.id, t.debit.code if t.debit else None, t.credit.code if t.credit else None, t.amount,
         t.currency, t.kind.value, t.pending_id, t.code, t.order_id,
         utc(t.at, f"transfer {t.id}.at"))
        for t in transfers
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=CODED_SCHEMA, orient="row")


def post_transfers(uow: UnitOfWork, command: PostTransfers) -> PostResult:
    """Check and post transfers stated one by one: all of them or, on any error, none."""
    return post_frame(uow, PostFrame(transfers_frame(command.transfers)))


def post_frame(uow: UnitOfWork, command: PostFrame) -> PostResult:
    """Check and post a batch (CODED_SCHEMA): all of it or, on any error, none of it."""
    with uow:
        result = post(uow, command.frame).result
        uow.commit()
        crash_point("committed", "post_frame")
        return result


def post(uow: UnitOfWork, frame: pl.DataFrame) -> Posted:
    """Post a batch inside the open unit of work (the caller commits). Nothing may be dated
    after the clock's now: that would be a record of the future.

    A fresh batch (none of its first, middle and last ids stored) is written optimistically,
    without looking up every id: the store's unique index on transfer ids still guards it. If the
    write then collides (some id was stored after all, or a concurrent writer stored it), its
    savepoint is rolled back and the batch is checked again with every id looked up, so what is
    stored comes back ``existing`` exactly as on the careful path."""
    if frame.height == 0:
        return Posted(PostResult(0), pl.DataFrame(schema=CODED_SCHEMA))
    ids = frame.get_column("id")
    probe = [ids[i] for i in sorted({0, ids.len() // 2, ids.len() - 1})]
    if not uow.ledger.any_stored(probe):
        try:
            return _post(uow, frame, lookup=False)
        except Conflict:
            pass  # rolled back to the write's savepoint: check again, every id looked up
    return _post(uow, frame, lookup=True)


def _post(uow: UnitOfWork, frame: pl.DataFrame, *, lookup: bool) -> Posted:
    repo = uow.ledger
    now = uow.clock.now()
    frame = frame.select(TRANSFER_COLUMNS).cast(CODED_SCHEMA)  # type: ignore[arg-type]
    future = frame.filter(pl.col("at") > now)
    if future.height:
        raise InvalidValue(f"transfer {future['id'][0]}.at",
                           f"is after the clock's now ({now.isoformat()})",
                           future["at"][0].isoformat())  # fmt: skip
    codes = pl.concat([frame.get_column("debit"), frame.get_column("credit")]).drop_nulls().unique()
    keys = [_key(code) for code in codes.to_list()]
    cur = frame.filter(pl.col("currency").is_not_null()).get_column("currency").unique().to_list()
    for code in cur:
        currency_code(code, "transfer.currency")
    repo.open_accounts(keys, now)
    ids = repo.account_ids(keys).select("code", "account")
    batch = (
        frame.join(ids.rename({"code": "debit", "account": "d"}), on="debit", how="left",
                   maintain_order="left")
        .join(ids.rename({"code": "credit", "account": "c"}), on="credit", how="left",
              maintain_order="left")
        .with_columns(pl.col("d").alias("debit"), pl.col("c").alias("credit"))
        .select(TRANSFER_COLUMNS)
    )  # fmt: skip
    stored = repo.stored(batch.get_column("id").unique().to_list() if lookup else [])
    pending_ids = batch.filter(pl.col("kind").is_in(["post", "void"])).get_column("pending_id")
    pendings = repo.pendings(pending_ids.drop_nulls().unique().to_list())
    touched = pl.concat([batch.get_column("debit"), batch.get_column("credit"),
                         pendings.get_column("debit"), pendings.get_column("credit")])  # fmt: skip
    accounts = repo.lock_balances(touched.drop_nulls().unique().to_list())
    result = check_batch(batch, accounts, stored, pendings)
    if result.accepted.height:
        repo.write(result.accepted, result.deltas)
        crash_point("posted", *result.accepted.get_column("code").unique().to_list())
    new = frame.filter(pl.col("id").is_in(result.accepted.get_column("id").implode()))
    new = new.unique("id", keep="first", maintain_order=True)
    return Posted(PostResult(result.accepted.height, result.existing), new)


def _key(code: str) -> AccountKey:
    key = AccountKey.parse(code)
    currency_code(key.currency, f"account {code}.currency")
    return key


def utc(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidValue(field, "must be a datetime", value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stamp(uow: UnitOfWork, at: datetime | None, field: str = "at") -> datetime:
    """``at`` in UTC, or the clock's now; a time after now is refused (nothing is dated in the
    future)."""
    now = uow.clock.now()
    if at is None:
        return now
    moment = utc(at, field)
    if moment > now:
        raise InvalidValue(field, f"is after the clock's now ({now.isoformat()})",
                           moment.isoformat())  # fmt: skip
    return moment


def facts(uow: UnitOfWork) -> SettlementFactsRepository:
    """The lifecycle facts settlement reads (orders, parcels, declarations, trace, contracts)."""
    return SettlementFactsRepository(uow.connection)
