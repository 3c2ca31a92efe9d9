"""Declare stored orders to customs, and read a buyer's annual CBEC total.

A declaration is quoted by the same kernel as a checkout quote, on the declaration date (default:
the clock's today). China CBEC amounts count into each buyer's annual total in the same
transaction, so a crash never leaves a declaration without its count or the reverse; declaring an
order again is a no-op (idempotent by order number).

The quote each declaration used is kept beside it (``customs_quotes``): its components, the rules
with their versions (valid_from), the measure and fee ids, the tariff data's SHA-256, the FX rate
and the date of the rate, and whether it was an estimate, so a later assessment by customs or the
carrier can be reconciled with exactly what was promised (``customs_variance``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

from xborder.customs.declaration_status import Status
from xborder.customs.regimes import EU_MEMBERS, RULES_BY_ID, applied_rules
from xborder.customs.tariffs import TariffBook, shipped_book
from xborder.domain.errors import InvalidValue
from xborder.domain.money import Money
from xborder.services.customs_quote import kernel_frames, quote_in_waves
from xborder.store.uow import UnitOfWork

MODELLED_DESTINATIONS = EU_MEMBERS | {r.regime for r in RULES_BY_ID.values()} - {"EU"}
ANNUAL_CURRENCY = "CNY"  # the China CBEC annual limit is counted in yuan


def day_of(uow: UnitOfWork, on: date | None, where: str = "on") -> date:
    """``on``, or the clock's today; a date after the clock's today is refused, because what is
    stored for it would be dated in the future."""
    today = uow.clock.now().date()
    if on is None:
        return today
    if on > today:
        raise InvalidValue(where, f"is after today ({today.isoformat()})", on.isoformat())
    return on


@dataclass(frozen=True, slots=True)
class DeclareOrders:
    """Declare these stored orders on ``on`` (default: the clock's today)."""

    order_ids: Sequence[int]
    on: date | None = None
    book: TariffBook | None = None


@dataclass(frozen=True, slots=True)
class DeclareReport:
    """How many orders were declared now, had been declared before, or go to a destination
    without a modelled regime; per-order quote errors; and the quotes of the declared orders."""

    declared: int = 0
    already: int = 0
    not_modelled: int = 0
    errors: tuple[str, ...] = ()
    quotes: pl.DataFrame = field(default_factory=pl.DataFrame)


def declare_orders(uow: UnitOfWork, command: DeclareOrders) -> DeclareReport:
    """Quote and declare stored orders in one transaction: a declaration per order of a modelled
    regime, its first event (receipt ``2``) at the clock's now, and the CBEC amounts counted into
    each buyer's annual total (a buyer's orders count in turn). Idempotent by order number."""
    with uow:
        day = day_of(uow, command.on)
        repo = uow.customs
        order_rows, line_rows = uow.orders.load(list(command.order_ids))
        if order_rows.is_empty():
            return DeclareReport()
        known = repo.declared(order_rows.get_column("external_id").to_list())
        order_rows = order_rows.filter(~pl.col("external_id").is_in(list(known)))
        modelled = pl.col("consignee_country").is_in(list(MODELLED_DESTINATIONS))
        not_modelled = order_rows.filter(~modelled).height
        order_rows = order_rows.filter(modelled)
        if order_rows.is_empty():
            return DeclareReport(already=len(known), not_modelled=not_modelled)
        line_rows = line_rows.filter(
            pl.col("order_id").is_in(order_rows.get_column("id").implode())
        )
        korders, klines = kernel_frames(repo, order_rows, line_rows, day)
        buyers = order_rows.select(
            pl.when(pl.col("consignee_country") == "CN").then(pl.col("buyer_id_number"))
        ).to_series()
        stored = repo.annual_totals([b for b in buyers.to_list() if b], day.year)
        result = quote_in_waves(korders, klines, buyers, stored, command.book)
        res = result.orders.join(
            order_rows.select(
                pl.col("id").alias("rec"),
                pl.col("external_id").alias("order_no"),
                pl.col("buyer_id_number").alias("buyer_id"),
            ),
            on="rec",
            how="left",
        )
        bad = res.filter(pl.col("error").is_not_null())
        errors = tuple(f"{r['order_no']}: {r['error']}" for r in bad.iter_rows(named=True))
        good = res.filter(pl.col("error").is_null()).with_columns(
            pl.when(pl.col("channel").is_in(["cbec", "cbec_full"]))
            .then(pl.col("value_minor"))
            .otherwise(0)
            .alias("counted_minor")
        )
        rows = [
            {
                "order_no": r["order_no"],
                "order_id": r["rec"],
                "regime": r["regime"],
                "destination": r["destination"],
                "channel": r["channel"],
                "customs_mode": None,
                "buyer_id": r["buyer_id"] if r["regime"] == "CN" else None,
                "declared_on": r["date"],
                "tax_currency": r["tax_currency"],
                "customs_value_minor": r["value_minor"],
                "duty_minor": r["duty_minor"],
                "vat_minor": r["vat_minor"],
                "consumption_tax_minor": r["ct_minor"],
                "fees_minor": r["fees_minor"],
                "total_tax_minor": r["total_tax_minor"],
                "landed_minor": r["landed_minor"],
                "counted_minor": r["counted_minor"],
                "incoterm": r["incoterm"],
                "tax_payer": r["tax_payer"],
                "collected_at": r["collected_at"],
                "status": Status.DECLARED.value,
                "released_on": None,
                "rules": json.dumps(
                    list(applied_rules(r["regime"], r["channel"], r["date"], r["origin"]))
                ),
            }
            for r in good.iter_rows(named=True)
        ]
        now = uow.clock.now()
        ids = repo.insert_declarations(rows, now, "2", "declared with the list (CEB621)")
        repo.insert_quotes(
            _kept_quotes(good, korders, ids, tariff_version(command.book), repo.fx_rows(), now)
        )
        counted = (
            good.filter(pl.col("counted_minor") > 0)
            .group_by("buyer_id")
            .agg(pl.col("counted_minor").sum(), pl.len().alias("n"))
        )
        repo.add_annual(day.year, [(str(b), int(m), int(n)) for b, m, n in counted.iter_rows()])
        uow.commit()
    return DeclareReport(len(rows), len(known), not_modelled, errors, good)


# --- the quote kept with each declaration ------------------------------------------------------
_TARIFF_FILES = ("cn.csv", "eu.csv", "gb.csv", "us.csv", "vat_rates.csv")
_VERSIONS: dict[int, tuple[TariffBook, str]] = {}  # id(book) -> (book, SHA-256): a book is frozen


@cache
def _shipped_version() -> str:
    """SHA-256 of the shipped tariff files' text (the source the shipped book is read from)."""
    digest = hashlib.sha256()
    folder = resources.files("xborder").joinpath("data", "tariffs")
    for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".csv")):
        digest.update(name.encode() + b"\0" + folder.joinpath(name).read_bytes() + b"\0")
    return digest.hexdigest()


def tariff_version(book: TariffBook | None) -> str:
    """The version of the tariff data a quote used: SHA-256 of the shipped tariff files, or, for
    a book given by the caller (a full national schedule), of its rows as CSV; computed once per
    book."""
    if book is None or book is shipped_book():
        return _shipped_version()
    known = _VERSIONS.get(id(book))
    if known is not None and known[0] is book:
        return known[1]
    digest = hashlib.sha256(book.tariffs.write_csv().encode())
    digest.update(book.vat.write_csv().encode())
    if len(_VERSIONS) > 16:
        _VERSIONS.clear()
    _VERSIONS[id(book)] = (book, digest.hexdigest())
    return _VERSIONS[id(book)][1]


def _fx_date(rows: list[dict[str, Any]], base: str, quote: str, on: date) -> date | None:
    """The date of the rate a conversion on ``on`` used: the latest dated rate of the pair (or
    its inverse) on or before ``on``; for a cross rate, the later of the two legs' dates."""

    def latest(a: str, b: str) -> date | None:
        days = [r["valid_from"] for r in rows if {r["base"], r["quote"]} == {a, b}]
        return max((d for d in days if d <= on), default=None)

    direct = latest(base, quote)
    if direct is not None:
        return direct
    legs = [
        (latest(base, pivot), latest(pivot, quote)) for pivot in ("CNY", "USD", "EUR")
        if pivot not in (base, quote)
    ]  # fmt: skip
    return max((max(a, b) for a, b in legs if a is not None and b is not None), default=None)


def _rule_versions(row: dict[str, Any]) -> list[dict[str, str | None]]:
    ids = applied_rules(row["regime"], row["channel"], row["date"], row["origin"])
    out: list[dict[str, str | None]] = []
    for rule_id in ids:
        rule = RULES_BY_ID.get(rule_id)
        out.append({"id": rule_id, "kind": rule.kind if rule else "rule",
                    "valid_from": rule.valid_from.isoformat() if rule else None})  # fmt: skip
    for kind, column in (("measure", "measure_ids"), ("fee", "fee_ids")):
        out += [{"id": i, "kind": kind, "valid_from": None} for i in _ids(row.get(column))]
    return out


def _ids(value: Any) -> list[str]:
    return [i for i in str(value).split(",") if i] if value else []


def _kept_quotes(
    good: pl.DataFrame,
    korders: pl.DataFrame,
    ids: dict[str, int],
    version: str,
    fx_rows: list[dict[str, Any]],
    now: Any,
) -> list[dict[str, Any]]:
    """The ``customs_quotes`` rows of the declared orders. Columns the kernel adds later
    (additional duty, measure and fee ids, the effective FX rate, exact tariff) are used when
    present; without ``exact_tariff`` every quote is an estimate (the shipped tables are
    headings, not national tariff lines)."""
    frame = good.join(
        korders.select("rec", pl.col("currency").alias("_currency"), pl.col("fx").alias("_fx_in")),
        on="rec",
        how="left",
    )
    has = frame.columns.__contains__
    out = []
    dates: dict[tuple[str, str, date], date | None] = {}
    for r in frame.iter_rows(named=True):
        pair = (r["_currency"], r["tax_currency"], r["date"])
        rate = r["fx_rate"] if has("fx_rate") else r["_fx_in"]
        fx_rate = Decimal(repr(rate)) if pair[0] != pair[1] and rate is not None else None
        if fx_rate is not None and pair not in dates:
            dates[pair] = _fx_date(fx_rows, *pair)
        fx_date = dates.get(pair) if fx_rate is not None else None
        out.append({
            "declaration_id": ids[r["order_no"]], "order_id": r["rec"], "quoted_on": r["date"],
            "currency": r["tax_currency"], "duty_minor": r["duty_minor"],
            "additional_duty_minor": int(r["additional_duty_minor"] or 0)
            if has("additional_duty_minor") else 0,
            "vat_minor": r["vat_minor"], "consumption_tax_minor": r["ct_minor"],
            "fees_minor": r["fees_minor"], "total_tax_minor": r["total_tax_minor"],
            "landed_minor": r["landed_minor"], "rules": json.dumps(_rule_versions(r)),
            "measure_ids": ",".join(_ids(r.get("measure_ids"))),
            "fee_ids": ",".join(_ids(r.get("fee_ids"))), "tariff_version": version,
            "fx_rate": fx_rate, "fx_date": fx_date,
            "estimate": not bool(r["exact_tariff"]) if has("exact_tariff") else True,
            "quoted_at": now,
        })  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class BuyerAnnualTotal:
    """A China buyer (resident ID number) and the year (default: the clock's year)."""

    buyer_id: str
    year: int | None = None


@dataclass(frozen=True, slots=True)
class AnnualTotal:
    """What the buyer's CBEC purchases count against the annual limit this year (CNY fen)."""

    buyer_id: str
    year: int
    total_minor: int

    @property
    def total(self) -> Money:
        return Money.from_minor(self.total_minor, ANNUAL_CURRENCY)


def annual_total(uow: UnitOfWork, command: BuyerAnnualTotal) -> AnnualTotal:
    """The buyer's stored annual CBEC total (zero when nothing is counted)."""
    year = command.year if command.year is not None else uow.clock.now().year
    with uow:
        frame = uow.customs.annual_totals([command.buyer_id], year)
    total = int(frame.get_column("total_minor")[0]) if frame.height else 0
    return AnnualTotal(command.buyer_id, year, total)
