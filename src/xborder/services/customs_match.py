"""The three-document match (order, payment, waybill against the declaration list).

``match`` reconciles documents someone hands in (CEB XML or JSON records); ``match_declared``
builds the documents of stored, declared China import orders from what the store knows (the order,
its declaration, its payments, its parcel) and saves the result per order. Both run the columnar
kernel of ``xborder.customs.match``, for one order or a million.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from xborder.customs import match as match_kernel
from xborder.customs.match import Documents
from xborder.services.customs_declare import day_of
from xborder.services.customs_documents import cn_documents
from xborder.store.customs_repo import CustomsRepository
from xborder.store.uow import UnitOfWork

MATCH_STATUSES = ("matched", "mismatch", "incomplete")


def documents_from_records(
    orders: Iterable[Mapping[str, Any]],
    payments: Iterable[Mapping[str, Any]],
    waybills: Iterable[Mapping[str, Any]],
    lists: Iterable[Mapping[str, Any]],
) -> Documents:
    """The documents from parsed records (CEB XML or JSON lines); list goods in ``lines``."""
    return match_kernel.documents(orders, payments, waybills, lists)


@dataclass(frozen=True, slots=True)
class MatchDocuments:
    """Match ``documents`` on ``on`` (default: the clock's today).

    ``use_store``: buyers' annual CBEC totals come from the store; ``save``: the result per
    order is saved too (implies ``use_store``; then ``on`` may not be after today).
    """

    documents: Documents
    on: date | None = None
    use_store: bool = False
    save: bool = False


def match(uow: UnitOfWork, command: MatchDocuments) -> list[dict[str, Any]]:
    """One record per order: ``orderNo``, ``status`` (matched, mismatch, incomplete), ``channel``
    and ``problems`` (rule, field, expected, actual): the match's table, in document order."""
    docs = command.documents
    if not (command.use_store or command.save):
        on = command.on or uow.clock.now().date()
        return match_kernel.result_records(match_kernel.match_documents(docs, on))
    with uow:
        on = day_of(uow, command.on) if command.save else command.on or uow.clock.now().date()
        buyers = docs.orders.get_column("buyerIdNumber").drop_nulls().to_list()
        stored = uow.customs.annual_totals(buyers, on.year).rename({"buyer_id": "buyerIdNumber"})
        results = match_kernel.result_records(match_kernel.match_documents(docs, on, stored))
        if command.save:
            uow.customs.save_matches(results, on)
            uow.commit()
    return results


@dataclass(frozen=True, slots=True)
class MatchDeclared:
    """Match the stored, declared China import orders among ``order_ids`` on ``on`` (default:
    the clock's today); ``examples``: how many problems the report quotes."""

    order_ids: Sequence[int]
    on: date | None = None
    examples: int = 3


@dataclass(frozen=True, slots=True)
class MatchProblem:
    order_no: str
    rule: str
    field: str
    actual: str | None


@dataclass(frozen=True, slots=True)
class MatchReport:
    """Orders matched, and per status how many; the first problem of a few orders as examples."""

    orders: int
    counts: Mapping[str, int]
    examples: tuple[MatchProblem, ...]

    @property
    def matched(self) -> int:
        return self.counts.get("matched", 0)


def match_declared(uow: UnitOfWork, command: MatchDeclared) -> MatchReport:
    """Build the four CEB documents of stored, declared China import orders (regime CN), match
    them and save the result per order (a re-run replaces it).

    The buyer's annual total the limits are checked against is the stored one less what these
    declarations counted into it, so an order is not checked against itself; the buyer's earlier
    orders of the batch count in turn.
    """
    with uow:
        on = day_of(uow, command.on)
        repo = uow.customs
        declared = repo.declared_orders(command.order_ids, regime="CN")
        if declared.is_empty():
            return MatchReport(0, {}, ())
        ids = declared.get_column("order_id").to_list()
        docs = cn_documents(
            declared, repo.customs_codes(), repo.order_lines(ids), repo.order_payments(ids)
        )
        before = _annual_before(repo, declared, on)
        results = match_kernel.result_records(match_kernel.match_documents(docs, on, before))
        repo.save_matches(results, on)
        uow.commit()
    counts: dict[str, int] = {}
    examples: list[MatchProblem] = []
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        if r["problems"] and len(examples) < command.examples:
            p = r["problems"][0]
            examples.append(MatchProblem(r["orderNo"], p["rule"], p["field"], p["actual"]))
    return MatchReport(len(results), counts, tuple(examples))


def _annual_before(repo: CustomsRepository, declared: pl.DataFrame, on: date) -> pl.DataFrame:
    """(buyerIdNumber, total_minor): each buyer's stored total of ``on``'s year without the
    amounts the matched declarations themselves counted into it."""
    buyers = declared.get_column("buyer_id").drop_nulls().unique().to_list()
    stored = repo.annual_totals(buyers, on.year)
    own = (
        declared.filter(pl.col("declared_on").dt.year() == on.year)
        .group_by("buyer_id")
        .agg(pl.col("counted_minor").sum().alias("own"))
    )
    return stored.join(own, on="buyer_id", how="left").select(
        pl.col("buyer_id").alias("buyerIdNumber"),
        (pl.col("total_minor") - pl.col("own").fill_null(0)).clip(lower_bound=0),
    )
