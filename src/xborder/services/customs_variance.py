"""Quotes reconciled: what customs or the carrier assessed against the quote kept at declaration.

A declaration keeps the quote it used (``customs_declare``). When customs' tax receipt (China's
CEB816, see ``customs_receipts.apply_tax_receipt``) or the carrier's invoice reports the duties,
taxes and fees actually assessed, ``record_assessment`` stores them next to it, once per
(declaration, source, reference): the same report again changes nothing; the same reference with
different amounts is refused (``Conflict``), a correction comes with its own reference.
``quote_variance`` reports quoted against assessed per lane, market or HS chapter and per tax
currency (amounts of different currencies are never added), summed in SQL.

What is compared: the quote's duties, taxes and fees (``total_tax + fees``; the additional duty is
inside ``total_tax``) against the assessment's sum of its components. Per declaration the
assessment that counts is customs' over the carrier's, the latest recorded of that source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import polars as pl

from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.money import Money, currency_code, minor_units, to_decimal
from xborder.store.customs_variance_repo import COMPONENTS, GROUPINGS, UNPLANNED
from xborder.store.uow import UnitOfWork

SOURCES = ("customs", "carrier")
__all__ = ["GROUPINGS", "SOURCES", "UNPLANNED"]


@dataclass(frozen=True, slots=True)
class RecordAssessment:
    """Duties, taxes and fees assessed for the declaration of ``order_no`` (amounts in the
    declaration's tax currency, decimal text or Decimal; ``currency`` must be that currency)."""

    order_no: str
    source: str  # "customs" (tax receipt, release) or "carrier" (its duty and tax invoice)
    reference: str  # the tax receipt's or invoice's number
    duty: Decimal | str | int = 0
    additional_duty: Decimal | str | int = 0
    vat: Decimal | str | int = 0
    consumption_tax: Decimal | str | int = 0
    fees: Decimal | str | int = 0
    currency: str | None = None  # default: the declaration's tax currency
    reason: str = ""  # e.g. "reclassified 6109 -> 6110", "valuation uplift"


@dataclass(frozen=True, slots=True)
class AssessmentResult:
    order_no: str
    source: str
    reference: str
    currency: str
    quoted_minor: int
    assessed_minor: int
    created: bool  # False: the same assessment was recorded before

    @property
    def variance_minor(self) -> int:
        return self.assessed_minor - self.quoted_minor

    @property
    def quoted(self) -> Money:
        return Money.from_minor(self.quoted_minor, self.currency)

    @property
    def assessed(self) -> Money:
        return Money.from_minor(self.assessed_minor, self.currency)

    @property
    def variance(self) -> Money:
        return Money.from_minor(self.variance_minor, self.currency)


@dataclass(frozen=True, slots=True)
class RecordAssessments:
    """Many assessments at once (all or nothing)."""

    items: Sequence[RecordAssessment]


def record_assessment(uow: UnitOfWork, command: RecordAssessment) -> AssessmentResult:
    """Record one assessment; idempotent by declaration, source and reference."""
    return record_assessments(uow, RecordAssessments((command,)))[0]


def record_assessments(uow: UnitOfWork, command: RecordAssessments) -> list[AssessmentResult]:
    """Record many assessments in one transaction, each checked before anything is written: an
    unknown order (``NotFound``), a bad source, amount or currency (``InvalidValue``), or a
    reference already recorded with other amounts (``Conflict``) leaves the store untouched."""
    items = list(command.items)
    with uow:
        repo = uow.customs
        declarations = repo.get_many([i.order_no for i in items])
        missing = next((i.order_no for i in items if i.order_no not in declarations), None)
        if missing is not None:
            raise NotFound(f"no declaration for order {missing!r}")
        quotes = repo.quotes([int(d["id"]) for d in declarations.values()])
        rows = [_row(i, declarations[i.order_no], n) for n, i in enumerate(items)]
        keys = [(int(r["declaration_id"]), str(r["source"]), str(r["reference"])) for r in rows]
        stored = repo.assessments(keys)
        now = uow.clock.now()
        new: dict[tuple[int, str, str], dict[str, Any]] = {}
        results: list[AssessmentResult] = []
        for item, row, key in zip(items, rows, keys, strict=True):
            before = stored.get(key) or new.get(key)
            if before is not None and any(before[c] != row[c] for c in (*COMPONENTS, "currency")):
                raise Conflict(
                    f"order {item.order_no}: {row['source']} assessment {row['reference']!r} "
                    "was recorded with other amounts (a correction needs its own reference)"
                )
            if before is None:
                new[key] = {**row, "recorded_at": now}
            quote = quotes.get(int(row["declaration_id"]))
            quoted = (
                int(quote["total_tax_minor"]) + int(quote["fees_minor"])
                if quote
                else int(declarations[item.order_no]["total_tax_minor"])
                + int(declarations[item.order_no]["fees_minor"])
            )
            results.append(
                AssessmentResult(item.order_no, str(row["source"]), str(row["reference"]),
                                 str(row["currency"]), quoted, int(row["total_minor"]),
                                 before is None)
            )  # fmt: skip
        repo.insert_assessments(list(new.values()))
        uow.commit()
    return results


def _row(item: RecordAssessment, declaration: dict[str, Any], n: int) -> dict[str, Any]:
    where = f"assessments[{n}]" if n else "assessment"
    if item.source not in SOURCES:
        raise InvalidValue(f"{where}.source", "must be customs or carrier", item.source)
    reference = str(item.reference).strip()
    if not reference or len(reference) > 64:
        raise InvalidValue(f"{where}.reference", "must be 1 to 64 characters", item.reference)
    tax_currency = str(declaration["tax_currency"])
    currency = currency_code(item.currency or tax_currency, f"{where}.currency")
    if currency != tax_currency:
        raise InvalidValue(
            f"{where}.currency",
            f"must be the declaration's tax currency {tax_currency} (amounts of different "
            "currencies are never compared)",
            currency,
        )
    places = minor_units(currency)
    amounts: dict[str, int] = {}
    for name in COMPONENTS:
        field_name = name.removesuffix("_minor")
        value = to_decimal(getattr(item, field_name), f"{where}.{field_name}")
        minor = value.scaleb(places)
        if minor != minor.to_integral_value() or minor < 0:
            raise InvalidValue(
                f"{where}.{field_name}",
                f"must be a non-negative amount in whole {currency} minor units",
                str(value),
            )
        amounts[name] = int(minor)
    return {
        "declaration_id": int(str(declaration["id"])), "source": item.source,
        "reference": reference, "currency": currency, **amounts,
        "total_minor": sum(amounts.values()), "reason": item.reason,
    }  # fmt: skip


# --- the report ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QuoteVarianceQuery:
    """Group the assessed declarations by ``lane`` (the parcel's planned lane, else
    ``unplanned``), ``market`` (destination country) or ``hs_chapter`` (first two digits of the
    lines' HS codes; a declaration spanning chapters is allocated by line value and counts once
    in each); optionally only one ``source``'s assessments and declarations made in [since,
    until]."""

    group_by: Literal["lane", "market", "hs_chapter"] = "market"
    source: str | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True, slots=True)
class VarianceRow:
    group: str
    currency: str
    declarations: int
    differ: int  # declarations whose assessment is not the quote
    quoted_minor: int
    assessed_minor: int
    variance_minor: int  # assessed - quoted
    abs_variance_minor: int

    @property
    def quoted(self) -> Money:
        return Money.from_minor(self.quoted_minor, self.currency)

    @property
    def assessed(self) -> Money:
        return Money.from_minor(self.assessed_minor, self.currency)

    @property
    def variance(self) -> Money:
        return Money.from_minor(self.variance_minor, self.currency)

    @property
    def variance_rate(self) -> float | None:
        """Variance over the quoted total (None when nothing was quoted)."""
        return self.variance_minor / self.quoted_minor if self.quoted_minor else None

    @property
    def abs_variance_rate(self) -> float | None:
        return self.abs_variance_minor / self.quoted_minor if self.quoted_minor else None


@dataclass(frozen=True, slots=True)
class QuoteVarianceReport:
    group_by: str
    rows: tuple[VarianceRow, ...]

    def frame(self) -> pl.DataFrame:
        """The rows as a frame (minor units, with the rates)."""
        names = list(VarianceRow.__dataclass_fields__)
        records = []
        for r in self.rows:
            record: dict[str, Any] = {name: getattr(r, name) for name in names}
            record["variance_rate"] = r.variance_rate
            record["abs_variance_rate"] = r.abs_variance_rate
            records.append(record)
        return pl.DataFrame(records)


def quote_variance(uow: UnitOfWork, command: QuoteVarianceQuery) -> QuoteVarianceReport:
    """Quoted against assessed per group and tax currency (read-only)."""
    if command.group_by not in GROUPINGS:
        raise InvalidValue("group_by", "must be lane, market or hs_chapter", command.group_by)
    if command.source is not None and command.source not in SOURCES:
        raise InvalidValue("source", "must be customs or carrier", command.source)
    if command.since and command.until and command.since > command.until:
        raise InvalidValue("since", f"is after until ({command.until})", str(command.since))
    with uow:
        frame = uow.customs.variance(command.group_by, command.source, command.since, command.until)
    rows = tuple(VarianceRow(**r) for r in frame.iter_rows(named=True))
    return QuoteVarianceReport(command.group_by, rows)


# --- what a party has still to assess (the simulator's customs) ----------------------------------
@dataclass(frozen=True, slots=True)
class AssessmentDue:
    source: str = "customs"
    statuses: tuple[str, ...] = ("released",)
    limit: int = 100_000


def assessment_due(uow: UnitOfWork, command: AssessmentDue) -> pl.DataFrame:
    """Declarations in ``statuses`` with a kept quote and no assessment from ``source`` yet:
    declaration_id, order_no, order_id, destination, currency and the quoted components (minor
    units), oldest first (a frame: the answer is a table)."""
    if command.source not in SOURCES:
        raise InvalidValue("source", "must be customs or carrier", command.source)
    with uow:
        return uow.customs.assessment_due(command.source, command.statuses, command.limit)
