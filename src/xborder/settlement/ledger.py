"""Double-entry ledger rules, pure and columnar (after TigerBeetle's data model).

An account belongs to a party, has a purpose and one currency, and keeps four sums in integer
minor units: debits and credits, posted and pending. A transfer moves ``amount`` from its debit
account to its credit account in their common currency, so every currency's balances sum to zero
by construction. Two-phase transfers reserve with ``pending`` and resolve once with ``post`` (the
whole amount or less) or ``void``. Accounts flagged ``NO_NEGATIVE`` refuse any transfer after which
``debits_posted + debits_pending`` would exceed ``credits_posted`` (pending credits are not yet
money). A batch is checked in order, as a whole, before anything is written: one bad transfer
refuses the batch, so a caller never sees half a batch. Ids make it idempotent: a transfer id that
exists with the same content is skipped, with different content it is a ``Conflict``.

The single transfer is a batch of one: ``check_batch`` is the only kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag, StrEnum

import numpy as np
import polars as pl

from xborder.domain.errors import Conflict, InvalidValue

MAX_AMOUNT = 10**15  # minor units per transfer: keeps every running sum far inside int64
MAX_ID_LENGTH = 64


class Kind(StrEnum):
    POSTED = "posted"  # single-phase: posted at once
    PENDING = "pending"  # first phase: reserves the amount
    POST = "post"  # second phase: posts (part of) a pending transfer
    VOID = "void"  # second phase: releases a pending transfer


KIND_CODE = {Kind.POSTED: 0, Kind.PENDING: 1, Kind.POST: 2, Kind.VOID: 3}


class Purpose(StrEnum):
    FUNDS = "funds"  # buyer money at the payment provider (outside the platform: may go negative)
    ESCROW = "escrow"  # held by the platform for orders not yet settled
    PROCEEDS = "proceeds"  # a seller's settlement balance (may go negative: the seller owes)
    FEES = "fees"  # platform fee income
    RECEIVABLE = "receivable"  # what a logistics partner is owed (penalties reduce it)
    TAX = "tax"  # duties and taxes remitted to a customs authority
    COMPENSATION = "compensation"  # SLA penalties and loss/damage compensation received
    FX = "fx"  # the platform's currency-exchange liquidity (one per currency)


class Flags(IntFlag):
    NONE = 0
    NO_NEGATIVE = 1  # debits (posted + pending) must not exceed posted credits


# Accounts whose balance can only be money actually held or owed to their owner.
DEFAULT_FLAGS = {
    Purpose.ESCROW: Flags.NO_NEGATIVE,
    Purpose.FEES: Flags.NO_NEGATIVE,
    Purpose.TAX: Flags.NO_NEGATIVE,
    Purpose.COMPENSATION: Flags.NO_NEGATIVE,
}


@dataclass(frozen=True, slots=True)
class AccountKey:
    """Which account: a party's account for one purpose in one currency (``party:purpose:CCY``)."""

    party: str
    purpose: Purpose
    currency: str

    @property
    def code(self) -> str:
        return f"{self.party}:{self.purpose.value}:{self.currency}"

    @classmethod
    def parse(cls, code: str, field: str = "account") -> AccountKey:
        parts = code.split(":") if isinstance(code, str) else []
        if len(parts) != 3 or not parts[0] or parts[1] not in Purpose.__members__.values():
            raise InvalidValue(field, "expected party:purpose:CCY with a known purpose", code)
        return cls(parts[0], Purpose(parts[1]), parts[2])

    @property
    def flags(self) -> Flags:
        return DEFAULT_FLAGS.get(self.purpose, Flags.NONE)


@dataclass(frozen=True, slots=True)
class Transfer:
    """One transfer as a caller states it. For ``post``/``void`` the accounts come from the pending
    transfer and may be left ``None``; a ``post`` with amount 0 posts the full pending amount."""

    id: str
    debit: AccountKey | None
    credit: AccountKey | None
    amount: int
    currency: str | None  # may be None for post/void (taken from the pending transfer)
    code: str
    at: datetime
    kind: Kind = Kind.POSTED
    pending_id: str | None = None
    order_id: int | None = None


# The columnar form of a batch, with accounts as store ids (the service resolves keys to ids).
BATCH_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "id": pl.String,
    "debit": pl.Int64,
    "credit": pl.Int64,
    "amount": pl.Int64,
    "currency": pl.String,
    "kind": pl.String,
    "pending_id": pl.String,
    "code": pl.String,
    "order_id": pl.Int64,
    "at": pl.Datetime("us", "UTC"),
}
TRANSFER_COLUMNS = tuple(BATCH_SCHEMA)
# The same with the accounts as ``party:purpose:CCY`` codes: what callers hand to the service.
CODED_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    **BATCH_SCHEMA,
    "debit": pl.String,
    "credit": pl.String,
}
ACCOUNT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "account": pl.Int64,
    "currency": pl.String,
    "flags": pl.Int64,
    "debits_posted": pl.Int64,
    "credits_posted": pl.Int64,
    "debits_pending": pl.Int64,
    "credits_pending": pl.Int64,
    "name": pl.String,  # party:purpose:CCY, for messages
}
BALANCE_COLUMNS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What to write: new transfers (resolved) and per-account balance increments."""

    accepted: pl.DataFrame  # TRANSFER_COLUMNS, in batch order
    existing: list[str]  # ids already stored with the same content (a retry: nothing to do)
    deltas: pl.DataFrame  # account + BALANCE_COLUMNS increments


def empty_batch() -> pl.DataFrame:
    return pl.DataFrame(schema=BATCH_SCHEMA)


def check_batch(
    batch: pl.DataFrame,
    accounts: pl.DataFrame,
    stored: pl.DataFrame,
    pendings: pl.DataFrame,
) -> BatchResult:
    """Check a batch in order against the current state; refuse all of it on the first error.

    ``accounts``: every account the batch and its pendings touch (ACCOUNT_SCHEMA).
    ``stored``: stored transfers with an id in the batch (``id`` and CONTENT columns).
    ``pendings``: stored pending transfers the batch resolves, plus ``resolved`` (bool).
    """
    batch = (
        batch.select(TRANSFER_COLUMNS)
        .with_row_index("seq")
        .with_columns(pl.col("seq").cast(pl.Int64))
    )
    _check_fields(batch)
    batch = _dedupe(batch)
    batch, existing = _split_stored(batch, stored)
    if batch.height == 0:
        return BatchResult(empty_batch(), existing, _no_deltas())
    batch = _resolve_pendings(batch, pendings)
    _check_accounts(batch, accounts)
    deltas = _apply(batch, accounts)
    return BatchResult(batch.select(TRANSFER_COLUMNS), existing, deltas)


def _first(frame: pl.DataFrame, mask: pl.Expr) -> dict[str, object] | None:
    hit = frame.filter(mask)
    return hit.row(0, named=True) if hit.height else None


def _check_fields(batch: pl.DataFrame) -> None:
    kinds = [k.value for k in Kind]
    checks: list[tuple[pl.Expr, str, str]] = [
        (pl.col("id").is_null() | (pl.col("id").str.len_chars() == 0), "id", "must not be empty"),
        (pl.col("id").str.len_chars() > MAX_ID_LENGTH, "id", f"longer than {MAX_ID_LENGTH}"),
        (~pl.col("kind").is_in(kinds) | pl.col("kind").is_null(), "kind",
         f"must be one of {kinds}"),
        (pl.col("amount").is_null() | (pl.col("amount") < 0), "amount", "must be >= 0 minor units"),
        (pl.col("amount") > MAX_AMOUNT, "amount", f"must be <= {MAX_AMOUNT} minor units"),
        (pl.col("kind").is_in(["posted", "pending"]) & (pl.col("amount") == 0),
         "amount", "must be positive"),
        (pl.col("kind").is_in(["posted", "pending"])
         & (pl.col("debit").is_null() | pl.col("credit").is_null()),
         "account", "debit and credit accounts are required"),
        (pl.col("kind").is_in(["posted", "pending"]) & pl.col("currency").is_null(),
         "currency", "is required"),
        (pl.col("kind").is_in(["post", "void"]) & pl.col("pending_id").is_null(),
         "pending_id", "post and void name the pending transfer they resolve"),
        (pl.col("kind").is_in(["posted", "pending"]) & pl.col("pending_id").is_not_null(),
         "pending_id", "only post and void refer to a pending transfer"),
        ((pl.col("kind") == "void") & (pl.col("amount") > 0), "amount",
         "a void releases the whole pending amount: leave it 0"),
        (pl.col("code").is_null() | (pl.col("code").str.len_chars() == 0), "code",
         "must say why the money moves"),
        (pl.col("at").is_null(), "at", "must be a time"),
    ]  # fmt: skip
    for mask, field, reason in checks:
        row = _first(batch, mask)
        if row is not None:
            raise InvalidValue(f"transfer {row['id']}.{field}", reason, row.get(field))


CONTENT = ("debit", "credit", "amount", "currency", "kind", "pending_id", "code", "order_id")


def _same_content(left: str, right: str) -> pl.Expr:
    """Equal content; the left side's null accounts and zero post/void amount act as wildcards."""
    result = pl.lit(True)
    for col in CONTENT:
        same = pl.col(f"{col}{left}").eq_missing(pl.col(f"{col}{right}"))
        if col in ("debit", "credit", "currency"):
            same = same | pl.col(f"{col}{left}").is_null()
        if col == "amount":
            same = same | (pl.col("kind").is_in(["post", "void"]) & (pl.col(f"amount{left}") == 0))
        result = result & same
    return result


def _dedupe(batch: pl.DataFrame) -> pl.DataFrame:
    """The same id twice in a batch: identical repeats collapse, different content conflicts."""
    counts = batch.group_by("id").agg(pl.len().alias("n"), *[pl.col(c).n_unique() for c in CONTENT])
    bad = _first(counts, pl.any_horizontal([pl.col(c) > 1 for c in CONTENT]))
    if bad is not None:
        raise Conflict(f"transfer {bad['id']}: the batch repeats this id with different content")
    if counts.height == batch.height:
        return batch
    return batch.unique("id", keep="first", maintain_order=True)


def _split_stored(batch: pl.DataFrame, stored: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    if stored.height == 0:
        return batch, []
    joined = batch.join(stored.select("id", *CONTENT), on="id", how="inner", suffix="_s")
    bad = _first(joined, ~_same_content("", "_s"))
    if bad is not None:
        raise Conflict(f"transfer {bad['id']} already exists with different content")
    existing = joined.get_column("id").to_list()
    return batch.filter(~pl.col("id").is_in(existing)), existing


def _resolve_pendings(batch: pl.DataFrame, pendings: pl.DataFrame) -> pl.DataFrame:
    """Fill post/void from their pending transfer: accounts, currency, and the pending amount."""
    resolving = batch.filter(pl.col("kind").is_in(["post", "void"]))
    if resolving.height == 0:
        return batch.with_columns(pl.lit(0, pl.Int64).alias("pending_amount"))
    twice = _first(resolving.group_by("pending_id").agg(pl.len(), pl.col("id").first()),
                   pl.col("len") > 1)  # fmt: skip
    if twice is not None:
        raise InvalidValue(f"transfer {twice['id']}.pending_id",
                           "the batch resolves this pending transfer twice",
                           twice["pending_id"])  # fmt: skip
    in_batch = batch.filter(pl.col("kind") == "pending").select(
        pl.col("id").alias("pending_id"), pl.col("seq").alias("p_seq"),
        pl.col("debit").alias("p_debit"),
        pl.col("credit").alias("p_credit"), pl.col("amount").alias("p_amount"),
        pl.col("currency").alias("p_currency"), pl.lit(False).alias("p_resolved"),
    )  # fmt: skip
    from_store = pendings.select(
        pl.col("id").alias("pending_id"), pl.lit(-1, pl.Int64).alias("p_seq"),
        pl.col("debit").alias("p_debit"), pl.col("credit").alias("p_credit"),
        pl.col("amount").alias("p_amount"), pl.col("currency").alias("p_currency"),
        pl.col("resolved").alias("p_resolved"),
    ).filter(pl.col("pending_id").is_in(resolving.get_column("pending_id").implode()))  # fmt: skip
    known = pl.concat([from_store.cast(in_batch.schema), in_batch])
    joined = resolving.join(known, on="pending_id", how="left")
    problems: list[tuple[pl.Expr, str, str]] = [
        (pl.col("p_amount").is_null() | (pl.col("p_seq") > pl.col("seq")),
         "pending_id", "no such pending transfer"),
        (pl.col("p_resolved"), "pending_id", "already posted or voided"),
        (pl.col("debit").is_not_null() & (pl.col("debit") != pl.col("p_debit")),
         "debit", "differs from the pending transfer"),
        (pl.col("credit").is_not_null() & (pl.col("credit") != pl.col("p_credit")),
         "credit", "differs from the pending transfer"),
        (pl.col("currency").is_not_null() & (pl.col("currency") != pl.col("p_currency")),
         "currency", "differs from the pending transfer"),
        (pl.col("amount") > pl.col("p_amount"), "amount", "exceeds the pending amount"),
    ]  # fmt: skip
    for mask, field, reason in problems:
        row = _first(joined, mask)
        if row is not None:
            raise InvalidValue(f"transfer {row['id']}.{field}", reason, row.get(field))
    resolved = joined.select(
        "seq",
        pl.col("p_debit").alias("r_debit"), pl.col("p_credit").alias("r_credit"),
        pl.col("p_currency").alias("r_currency"), pl.col("p_amount").alias("pending_amount"),
        pl.when(pl.col("kind") == "void").then(0)
        .when(pl.col("amount") == 0).then(pl.col("p_amount"))
        .otherwise(pl.col("amount")).alias("r_amount"),
    )  # fmt: skip
    return (
        batch.join(resolved, on="seq", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("r_debit", "debit").alias("debit"),
            pl.coalesce("r_credit", "credit").alias("credit"),
            pl.coalesce("r_currency", "currency").alias("currency"),
            pl.coalesce("r_amount", "amount").alias("amount"),
            pl.col("pending_amount").fill_null(0),
        )
        .drop("r_debit", "r_credit", "r_currency", "r_amount")
    )


def _check_accounts(batch: pl.DataFrame, accounts: pl.DataFrame) -> None:
    currency = accounts.select("account", "currency")
    joined = batch.join(
        currency.rename({"account": "debit", "currency": "d_currency"}), on="debit", how="left"
    ).join(
        currency.rename({"account": "credit", "currency": "c_currency"}), on="credit", how="left"
    )
    problems: list[tuple[pl.Expr, str, str]] = [
        (pl.col("d_currency").is_null(), "debit", "no such account"),
        (pl.col("c_currency").is_null(), "credit", "no such account"),
        (pl.col("debit") == pl.col("credit"), "credit", "must differ from the debit account"),
        (pl.col("d_currency") != pl.col("currency"), "currency",
         "the debit account is in another currency"),
        (pl.col("c_currency") != pl.col("currency"), "currency",
         "the credit account is in another currency"),
    ]  # fmt: skip
    for mask, field, reason in problems:
        row = _first(joined, mask)
        if row is not None:
            raise InvalidValue(f"transfer {row['id']}.{field}", reason, row.get(field))


def _no_deltas() -> pl.DataFrame:
    return pl.DataFrame(schema={"account": pl.Int64, **dict.fromkeys(BALANCE_COLUMNS, pl.Int64)})


def _apply(batch: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Per-account increments, and the in-order overdraft check for flagged accounts (NumPy)."""
    kind = batch.get_column("kind").replace_strict(
        {k.value: c for k, c in KIND_CODE.items()}, return_dtype=pl.Int8
    ).to_numpy()  # fmt: skip
    amount = batch.get_column("amount").to_numpy()
    pending = batch.get_column("pending_amount").to_numpy()
    ids = accounts.get_column("account").to_numpy()
    order = np.argsort(ids)
    debit = order[np.searchsorted(ids, batch.get_column("debit").to_numpy(), sorter=order)]
    credit = order[np.searchsorted(ids, batch.get_column("credit").to_numpy(), sorter=order)]
    posted, pend, post, void = (kind == c for c in range(4))
    zero = np.zeros_like(amount)
    # the four balance increments of each leg (debit leg changes debits_*, credit leg credits_*)
    d_posted = np.where(posted | post, amount, zero)
    d_pending = np.where(pend, amount, zero) - np.where(post | void, pending, zero)
    n = len(ids)
    deltas = {
        "debits_posted": np.bincount(debit, d_posted, n),
        "credits_posted": np.bincount(credit, d_posted, n),
        "debits_pending": np.bincount(debit, d_pending, n),
        "credits_pending": np.bincount(credit, d_pending, n),
    }
    flags = accounts.get_column("flags").to_numpy()
    flagged = (flags & int(Flags.NO_NEGATIVE)) != 0
    if flagged.any():
        # exposure = debits_posted + debits_pending - credits_posted must stay <= 0 at every step
        legs_account = np.concatenate([debit, credit])
        legs_delta = np.concatenate([d_posted + d_pending, -d_posted])
        legs_seq = np.concatenate([np.arange(len(amount))] * 2)
        keep = flagged[legs_account]
        _check_running(legs_account[keep], legs_seq[keep], legs_delta[keep], accounts, batch)
    frame = pl.DataFrame({"account": ids, **{k: v.astype(np.int64) for k, v in deltas.items()}})
    return frame.filter(pl.any_horizontal([pl.col(c) != 0 for c in BALANCE_COLUMNS]))


def _check_running(
    account: np.ndarray, seq: np.ndarray, delta: np.ndarray,
    accounts: pl.DataFrame, batch: pl.DataFrame,
) -> None:  # fmt: skip
    if len(account) == 0:
        return
    start = (
        accounts.get_column("debits_posted").to_numpy()
        + accounts.get_column("debits_pending").to_numpy()
        - accounts.get_column("credits_posted").to_numpy()
    )
    order = np.lexsort((seq, account))
    account, seq, delta = account[order], seq[order], delta[order]
    running = np.cumsum(delta)
    group_start = np.flatnonzero(np.r_[True, account[1:] != account[:-1]])
    before = np.r_[0, running][group_start]  # cumulative sum before each account's first leg
    lengths = np.diff(np.r_[group_start, len(account)])
    exposure = running - np.repeat(before, lengths) + start[account]
    bad = exposure > 0
    if bad.any():
        first = int(seq[bad].min())
        row = batch.row(first, named=True)
        who = account[bad][np.argmin(seq[bad])]
        held = -int(start[who])
        raise InvalidValue(
            f"transfer {row['id']}.amount",
            f"would overdraw account {accounts.get_column('name')[int(who)]} "
            f"(flagged no-negative; {held} minor units available before this batch)",
            row["amount"],
        )
