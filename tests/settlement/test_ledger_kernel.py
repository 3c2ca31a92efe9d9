"""The pure ledger kernel: order within a batch, in-batch two-phase, duplicates, field errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from xborder.domain.errors import Conflict, InvalidValue
from xborder.settlement.ledger import (
    ACCOUNT_SCHEMA,
    BATCH_SCHEMA,
    CONTENT,
    Flags,
    check_batch,
)

NOW = datetime(2026, 11, 24, tzinfo=UTC)
# account 1: buyers (free), 2: escrow (no-negative, empty), 3: seller (free)
ACCOUNTS = pl.DataFrame(
    [(1, "EUR", 0, 0, 0, 0, 0, "b:funds:EUR"), (2, "EUR", int(Flags.NO_NEGATIVE), 0, 0, 0, 0,
     "x:escrow:EUR"), (3, "EUR", 0, 0, 0, 0, 0, "s:proceeds:EUR")],
    schema=ACCOUNT_SCHEMA, orient="row",
)  # fmt: skip
NO_STORED = pl.DataFrame(schema={"id": pl.String, **{c: BATCH_SCHEMA[c] for c in CONTENT}})
NO_PENDINGS = pl.DataFrame(schema={"id": pl.String, "debit": pl.Int64, "credit": pl.Int64,
                                   "amount": pl.Int64, "currency": pl.String,
                                   "resolved": pl.Boolean})  # fmt: skip


def batch(*rows: tuple[Any, ...]) -> pl.DataFrame:
    """rows: (id, debit, credit, amount, kind, pending_id[, currency])"""
    full = [(r[0], r[1], r[2], r[3], r[6] if len(r) > 6 else "EUR", r[4], r[5], "test", None, NOW)
            for r in rows]  # fmt: skip
    return pl.DataFrame(full, schema=BATCH_SCHEMA, orient="row")


def run(frame: pl.DataFrame) -> dict[int, list[int]]:
    result = check_batch(frame, ACCOUNTS, NO_STORED, NO_PENDINGS)
    return {r[0]: list(r[1:]) for r in result.deltas.rows()}


def test_order_within_the_batch_decides_an_overdraft() -> None:
    fund = ("f", 1, 2, 1000, "posted", None)
    spend = ("s", 2, 3, 800, "posted", None)
    assert run(batch(fund, spend))[2] == [800, 1000, 0, 0]
    with pytest.raises(InvalidValue) as exc:
        run(batch(spend, fund))  # spending before the money arrives is refused
    assert exc.value.field == "transfer s.amount" and "x:escrow:EUR" in exc.value.reason


def test_pending_and_its_post_in_one_batch_and_pending_debits_count() -> None:
    rows = batch(("f", 1, 2, 1000, "posted", None), ("p", 2, 3, 700, "pending", None),
                 ("q", None, None, 500, "post", "p", None))  # fmt: skip
    deltas = run(rows)
    assert deltas[2] == [500, 1000, 0, 0] and deltas[3] == [0, 500, 0, 0]
    with pytest.raises(InvalidValue):  # 700 reserved leaves 300 free
        run(batch(("f", 1, 2, 1000, "posted", None), ("p", 2, 3, 700, "pending", None),
                  ("s", 2, 3, 301, "posted", None)))  # fmt: skip
    with pytest.raises(InvalidValue) as early:  # a post before its pending
        run(batch(("q", None, None, 0, "post", "p", None), ("p", 1, 3, 700, "pending", None)))
    assert "no such pending" in early.value.reason


def test_duplicates_in_a_batch_collapse_or_conflict() -> None:
    same = ("f", 1, 2, 1000, "posted", None)
    assert run(batch(same, same))[2] == [0, 1000, 0, 0]
    with pytest.raises(Conflict):
        run(batch(same, ("f", 1, 2, 999, "posted", None)))


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (("", 1, 2, 5, "posted", None), "id"),
        (("a", 1, 2, 5, "sideways", None), "kind"),
        (("a", 1, 2, 0, "posted", None), "amount"),
        (("a", 1, 2, 10**16, "posted", None), "amount"),
        (("a", 1, None, 5, "posted", None), "account"),
        (("a", 1, 2, 5, "posted", None, None), "currency"),
        (("a", 1, 2, 5, "posted", "x"), "pending_id"),
        (("a", None, None, 5, "void", "x", None), "amount"),
        (("a", 1, 1, 5, "posted", None), "credit"),
        (("a", 1, 9, 5, "posted", None), "credit"),
        (("a", 1, 2, 5, "posted", None, "USD"), "currency"),
    ],
)
def test_each_bad_field_is_named(row: tuple[Any, ...], field: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        run(batch(row))
    assert exc.value.field == f"transfer {row[0]}.{field}"
