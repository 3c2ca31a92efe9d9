"""Quotes kept and reconciled: the SQL of ``customs_quotes`` and ``customs_assessments``.

A mixin of ``CustomsRepository`` (``uow.customs``), split out by purpose to keep each module
small. The variance report is one set-wise statement per grouping (SQLAlchemy Core, the same on
SQLite and PostgreSQL): the assessment that counts for each declaration is chosen with a window
function, amounts are summed per group and tax currency in SQL, never across currencies.

HS chapter: a declaration whose lines span several chapters has its quoted and assessed totals
allocated to the chapters in proportion to the lines' value (goods value, qty x unit price),
exactly in integer minor units (cumulative allocation: ``floor(T*c_k/V) - floor(T*c_{k-1}/V)``
over the chapters in order, so the parts add up to ``T``); it counts once in each chapter it has
lines in. Exact while ``T*V`` stays below 2**63 (e.g. 1 million tax on a 1 billion order, in
minor units).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from xborder.store.chunks import chunks
from xborder.store.schema import order_lines
from xborder.store.schema_customs import customs_assessments, customs_declarations, customs_quotes
from xborder.store.schema_planning import parcels

CHUNK = 500
COMPONENTS = ("duty_minor", "additional_duty_minor", "vat_minor", "consumption_tax_minor",
              "fees_minor")  # fmt: skip
GROUPINGS = ("lane", "market", "hs_chapter")
UNPLANNED = "unplanned"
VARIANCE_SCHEMA: dict[str, Any] = {
    "group": pl.String, "currency": pl.String, "declarations": pl.Int64, "differ": pl.Int64,
    "quoted_minor": pl.Int64, "assessed_minor": pl.Int64, "variance_minor": pl.Int64,
    "abs_variance_minor": pl.Int64,
}  # fmt: skip
DUE_SCHEMA: dict[str, Any] = {
    "declaration_id": pl.Int64, "order_no": pl.String, "order_id": pl.Int64,
    "destination": pl.String, "currency": pl.String, "duty_minor": pl.Int64,
    "additional_duty_minor": pl.Int64, "vat_minor": pl.Int64, "consumption_tax_minor": pl.Int64,
    "fees_minor": pl.Int64,
}  # fmt: skip


def chosen_assessments(source: str | None = None) -> Select[Any]:
    """Per assessed declaration, the assessment that counts: of ``source`` only when given, else
    customs' over the carrier's; the latest recorded of that source. Columns: declaration_id,
    source, total_minor, currency."""
    a = customs_assessments.c
    rank = func.row_number().over(
        partition_by=a.declaration_id,
        order_by=(case((a.source == "customs", 0), else_=1), a.id.desc()),
    )
    inner = select(a.declaration_id, a.source, a.total_minor, a.currency, rank.label("rank"))
    if source is not None:
        inner = inner.where(a.source == source)
    ranked = inner.subquery("ranked")
    return select(
        ranked.c.declaration_id, ranked.c.source, ranked.c.total_minor, ranked.c.currency
    ).where(ranked.c.rank == 1)


def quoted_total(q: Any = customs_quotes.c) -> ColumnElement[Any]:
    """What a kept quote said the buyer or seller pays on top of the goods: duties, taxes, fees
    (the kernel's ``total_tax_minor`` holds the additional duty once R's kernel adds it)."""
    return cast(q.total_tax_minor + q.fees_minor, BigInteger)


class QuotesAndAssessments:
    """``customs_quotes`` and ``customs_assessments`` (a mixin of ``CustomsRepository``)."""

    connection: Connection

    # --- quotes -----------------------------------------------------------------------------
    def insert_quotes(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(customs_quotes.insert(), list(rows))

    def quotes(self, declaration_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The kept quotes of these declarations, by declaration id."""
        q = customs_quotes.c
        found: dict[int, dict[str, Any]] = {}
        for chunk in chunks(sorted(set(declaration_ids)), CHUNK):
            rows = self.connection.execute(
                select(customs_quotes).where(q.declaration_id.in_(chunk))
            )
            found.update((int(r["declaration_id"]), dict(r)) for r in rows.mappings())
        return found

    # --- the customs list number a tax receipt names ------------------------------------------
    def set_invt_nos(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Remember customs' list number (``invtNo`` of a CEB622) per declaration id."""
        if pairs:
            d = customs_declarations.c
            statement = (
                update(customs_declarations)
                .where(d.id == bindparam("b_id"))
                .values(invt_no=bindparam("b_invt"))
            )
            self.connection.execute(statement, [{"b_id": i, "b_invt": n} for i, n in pairs])

    def by_invt_nos(self, invt_nos: Sequence[str]) -> dict[str, dict[str, Any]]:
        d = customs_declarations.c
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(sorted(set(invt_nos)), CHUNK):
            rows = self.connection.execute(select(customs_declarations).where(d.invt_no.in_(chunk)))
            found.update((str(r["invt_no"]), dict(r)) for r in rows.mappings())
        return found

    # --- assessments --------------------------------------------------------------------------
    def assessments(self, keys: Sequence[tuple[int, str, str]]) -> dict[tuple[int, str, str], Any]:
        """The stored assessments of these (declaration_id, source, reference) keys."""
        a = customs_assessments.c
        found: dict[tuple[int, str, str], Any] = {}
        for chunk in chunks(sorted(set(keys)), CHUNK):
            query = select(customs_assessments).where(
                tuple_(a.declaration_id, a.source, a.reference).in_(chunk)
            )
            for r in self.connection.execute(query).mappings():
                found[(int(r["declaration_id"]), str(r["source"]), str(r["reference"]))] = dict(r)
        return found

    def insert_assessments(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(customs_assessments.insert(), list(rows))

    def assessment_due(self, source: str, statuses: Sequence[str], limit: int) -> pl.DataFrame:
        """Declarations in one of ``statuses`` with a kept quote and no assessment from
        ``source`` yet (oldest first, at most ``limit``): what that party has still to assess."""
        d, q, a = customs_declarations.c, customs_quotes.c, customs_assessments.c
        assessed = select(a.declaration_id).where(a.source == source)
        query = (
            select(d.id, d.order_no, d.order_id, d.destination, q.currency,
                   *(q[name] for name in COMPONENTS))
            .join_from(customs_declarations, customs_quotes, q.declaration_id == d.id)
            .where(d.status.in_(list(statuses)), d.id.not_in(assessed))
            .order_by(d.id)
            .limit(limit)
        )  # fmt: skip
        rows = [tuple(r) for r in self.connection.execute(query)]
        return pl.DataFrame(rows, schema=DUE_SCHEMA, orient="row")

    # --- the variance report ------------------------------------------------------------------
    def variance(
        self,
        group_by: str,
        source: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> pl.DataFrame:
        """Quoted against assessed duties, taxes and fees per group and tax currency
        (VARIANCE_SCHEMA; minor units), over the assessed declarations declared in
        [since, until]; ``group_by`` one of GROUPINGS."""
        if group_by not in GROUPINGS:
            raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
        d, q = customs_declarations.c, customs_quotes.c
        chosen = chosen_assessments(source).subquery("chosen")
        base = (
            select(
                d.id.label("declaration_id"), d.order_id, q.currency,
                quoted_total().label("quoted"), chosen.c.total_minor.label("assessed"),
                d.destination.label("market"),
                func.coalesce(parcels.c.lane_id, literal(UNPLANNED)).label("lane"),
            )
            .join_from(customs_declarations, customs_quotes, q.declaration_id == d.id)
            .join(chosen, chosen.c.declaration_id == d.id)
            .outerjoin(parcels, parcels.c.order_id == d.order_id)
        )  # fmt: skip
        if since is not None:
            base = base.where(d.declared_on >= since)
        if until is not None:
            base = base.where(d.declared_on <= until)
        facts = base.subquery("facts")
        if group_by == "hs_chapter":
            facts = _by_chapter(facts)
            key: Any = facts.c.chapter
        else:
            key = facts.c[group_by]
        diff = facts.c.assessed - facts.c.quoted
        query = (
            select(
                key, facts.c.currency, func.count(), func.sum(case((diff != 0, 1), else_=0)),
                cast(func.sum(facts.c.quoted), BigInteger),
                cast(func.sum(facts.c.assessed), BigInteger),
                cast(func.sum(diff), BigInteger), cast(func.sum(func.abs(diff)), BigInteger),
            )
            .group_by(key, facts.c.currency)
            .order_by(key, facts.c.currency)
        )  # fmt: skip
        rows = [tuple(r) for r in self.connection.execute(query)]
        return pl.DataFrame(rows, schema=VARIANCE_SCHEMA, orient="row")


def _by_chapter(facts: Any) -> Any:
    """``facts`` with one row per (declaration, HS chapter of its lines): quoted and assessed
    allocated by line value (see the module docstring); ``chapter`` the first two digits."""
    ln = order_lines.c
    chapter = func.substr(ln.hs_code, 1, 2)
    per_chapter = (
        select(
            ln.order_id, chapter.label("chapter"),
            cast(func.sum(ln.qty * ln.unit_price_minor), BigInteger).label("value"),
        )
        .where(ln.order_id.in_(select(facts.c.order_id)))
        .group_by(ln.order_id, chapter)
        .subquery("per_chapter")
    )  # fmt: skip
    window = {"partition_by": facts.c.declaration_id, "order_by": per_chapter.c.chapter}
    cum = func.sum(per_chapter.c.value).over(**window, rows=(None, 0))
    ranked = (
        select(
            facts.c.declaration_id, facts.c.currency, facts.c.quoted, facts.c.assessed,
            per_chapter.c.chapter, per_chapter.c.value, cum.label("cum"),
            func.sum(per_chapter.c.value).over(partition_by=facts.c.declaration_id).label("whole"),
            func.row_number().over(**window).label("k"),
        )
        .join_from(facts, per_chapter, per_chapter.c.order_id == facts.c.order_id)
        .subquery("ranked")
    )  # fmt: skip
    r = ranked.c

    def share(total: Any) -> ColumnElement[Any]:
        whole = case((r.whole > 0, r.whole), else_=1)
        exact = total * r.cum // whole - total * (r.cum - r.value) // whole
        first_only = case((r.k == 1, total), else_=0)  # no value to weigh by: the first chapter
        return cast(case((r.whole > 0, exact), else_=first_only), BigInteger)

    return select(
        r.declaration_id, r.currency, r.chapter, share(r.quoted).label("quoted"),
        share(r.assessed).label("assessed"),
    ).subquery("by_chapter")  # fmt: skip


__all__ = [
    "COMPONENTS",
    "GROUPINGS",
    "UNPLANNED",
    "QuotesAndAssessments",
    "chosen_assessments",
    "quoted_total",
]
