"""Customs use cases: quote landed cost, declare stored orders, record receipts, returns, match.

Each use case that touches the store runs in one unit of work. Quotes and matches go through the
columnar kernels of ``xborder.customs`` whether they concern one order or a million.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine, select

from xborder.customs import match as match_kernel
from xborder.customs.declaration_status import COUNTED, Status, advance
from xborder.customs.quote_input import frames, parse_request, result_records
from xborder.customs.quote_kernel import ORDER_SCHEMA, QuoteResult, quote_frames
from xborder.customs.regimes import EU_MEMBERS, TAX_CURRENCY, applied_rules, in_force
from xborder.customs.tariffs import TariffBook
from xborder.domain.errors import Conflict, DomainError, InvalidValue, MissingRate, NotFound
from xborder.domain.money import FxRate, FxTable
from xborder.store.customs_repo import CustomsRepository
from xborder.store.schema import fx_rates, products
from xborder.store.uow import UnitOfWork


def _tax_currency(destination: str) -> str | None:
    if destination in EU_MEMBERS:
        return TAX_CURRENCY["EU"]
    return TAX_CURRENCY.get(destination)


def _fill_fx(order: dict[str, Any], fx: FxTable | None) -> None:
    target = _tax_currency(order["destination"])
    if order["fx"] is not None or fx is None or target is None or target == order["currency"]:
        return
    with suppress(MissingRate):  # the kernel reports a missing rate, naming the field
        order["fx"] = float(fx.rate(order["currency"], target, order["date"]))


def quote(
    request: Any,
    on: date | None = None,
    *,
    fx: FxTable | None = None,
    book: TariffBook | None = None,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Quote one order (the same kernel as the bulk path); bad input raises ``InvalidValue``.

    With a store (``engine``), an order to China with a ``buyer_id`` and no
    ``buyer_annual_total_before`` is checked against the buyer's stored annual CBEC total.
    """
    order, lines = parse_request(request, 0, on or date.today())
    _fill_fx(order, fx)
    buyer = request.get("buyer_id") if isinstance(request, Mapping) else None
    if (
        engine is not None
        and buyer
        and order["destination"] == "CN"
        and (order["annual_before_minor"] is None)
    ):
        order["annual_before_minor"] = annual_total(engine, str(buyer), order["date"].year)
    result = result_records(quote_frames(*frames([order], lines), book))[0]
    if result.get("error"):
        field_name, _, reason = str(result["error"]).partition(": ")
        raise InvalidValue(field_name, reason)
    del result["rec"]
    return result


def quote_many(
    requests: Iterable[Any],
    on: date | None = None,
    *,
    fx: FxTable | None = None,
    book: TariffBook | None = None,
) -> list[dict[str, Any]]:
    """Quote many orders in one kernel call; a bad record gives ``{"record": i, "error": ...}``."""
    default = on or date.today()
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    out: dict[int, dict[str, Any]] = {}
    count = 0
    for i, raw in enumerate(requests):
        count = i + 1
        try:
            order, order_lines = parse_request(raw, i, default)
        except DomainError as exc:
            out[i] = {"record": i, "error": str(exc)}
            continue
        _fill_fx(order, fx)
        orders.append(order)
        lines.extend(order_lines)
    if orders:
        for row in result_records(quote_frames(*frames(orders, lines), book)):
            rec = row.pop("rec")
            out[rec] = {"record": rec, **row}
    return [out[i] for i in range(count)]


# --- declarations -----------------------------------------------------------------------------
@dataclass
class DeclareReport:
    declared: int = 0
    already: int = 0
    not_modelled: int = 0
    errors: list[str] = field(default_factory=list)
    quotes: pl.DataFrame = field(default_factory=pl.DataFrame)


def _fx_table(uow: UnitOfWork) -> FxTable:
    return FxTable.of(
        FxRate(r["valid_from"], r["base"], r["quote"], r["rate"], r["source"])
        for r in uow.world.rows(fx_rates)
    )


def _kernel_frames(
    uow: UnitOfWork, order_rows: pl.DataFrame, line_rows: pl.DataFrame, on: date | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    fx = _fx_table(uow)
    high_end = {
        str(r[0]): bool(r[1])
        for r in uow.connection.execute(select(products.c.sku, products.c.consumption_tax))
    }
    orders = order_rows.select(
        pl.col("id").alias("rec"),
        (pl.lit(on) if on else pl.col("placed_at").dt.date()).alias("date"),
        pl.col("origin_country").alias("origin"),
        pl.col("consignee_country").alias("destination"),
        "incoterm",
        "currency",
        pl.lit(None, pl.Float64).alias("fx"),
        "freight_minor",
        "insurance_minor",
        pl.lit(None, pl.String).alias("customs_mode"),
        pl.lit(None, pl.Int64).alias("annual_before_minor"),
    )
    pairs = orders.select("currency", "destination", "date").unique()
    rates = []
    for cur, dest, day in pairs.iter_rows():
        target = _tax_currency(dest)
        rate = None
        if target is not None:
            try:
                rate = float(fx.rate(cur, target, day))
            except MissingRate:
                rate = None
        rates.append((cur, dest, day, rate))
    rate_frame = pl.DataFrame(
        rates,
        schema={
            "currency": pl.String,
            "destination": pl.String,
            "date": pl.Date,
            "fx_rate": pl.Float64,
        },
        orient="row",
    )
    orders = (
        orders.join(
            rate_frame, on=["currency", "destination", "date"], how="left", maintain_order="left"
        )
        .with_columns(pl.col("fx_rate").alias("fx"))
        .drop("fx_rate")
    )
    lines = line_rows.select(
        pl.col("order_id").alias("rec"),
        pl.col("line_no").alias("line"),
        "hs_code",
        "qty",
        pl.col("unit_price_minor").alias("unit_minor"),
        pl.lit(None, pl.Float64).alias("duty_rate"),
        pl.lit(None, pl.Float64).alias("vat_rate"),
        pl.lit(None, pl.Float64).alias("ct_rate"),
        pl.col("sku")
        .replace_strict(high_end, default=False, return_dtype=pl.Boolean)
        .alias("high_end"),
    )
    return orders, lines


def quote_in_waves(
    orders: pl.DataFrame,
    lines: pl.DataFrame,
    buyers: pl.Series,
    stored: pl.DataFrame,
    book: TariffBook | None = None,
) -> QuoteResult:
    """Quote China CBEC orders so that each buyer's orders count in turn against the annual limit.

    Wave k holds every buyer's k-th order of the batch; the annual totals carried into wave k+1
    include what wave k counted. Exact, and columnar within each wave.
    """
    frame = orders.with_columns(buyers.alias("_buyer")).with_columns(
        pl.when(pl.col("_buyer").is_null())
        .then(0)
        .otherwise(pl.int_range(pl.len()).over("_buyer"))
        .alias("_wave")
    )
    totals = stored.rename({"buyer_id": "_buyer", "total_minor": "_total"})
    parts_o, parts_l = [], []
    waves = int(frame.select(pl.col("_wave").max()).item() or 0) + 1
    for wave in range(waves):
        part = frame.filter(pl.col("_wave") == wave).join(
            totals, on="_buyer", how="left", maintain_order="left"
        )
        part = part.with_columns(pl.col("_total").fill_null(0).alias("annual_before_minor"))
        recs = part.get_column("rec")
        result = quote_frames(
            part.select(list(ORDER_SCHEMA)), lines.filter(pl.col("rec").is_in(recs.implode())), book
        )
        parts_o.append(result.orders.join(part.select("rec", "_buyer"), on="rec", how="left"))
        parts_l.append(result.lines)
        counted = parts_o[-1].filter(
            pl.col("_buyer").is_not_null() & pl.col("annual_after_minor").is_not_null()
        )
        totals = (
            pl.concat(
                [totals, counted.select("_buyer", pl.col("annual_after_minor").alias("_total"))]
            )
            .group_by("_buyer", maintain_order=True)
            .agg(pl.col("_total").last())
        )
    return QuoteResult(pl.concat(parts_o).drop("_buyer"), pl.concat(parts_l))


def declare_orders(
    engine: Engine, order_ids: Sequence[int], on: date | None = None, book: TariffBook | None = None
) -> DeclareReport:
    """Quote and declare stored orders (one transaction): a declaration per order of a modelled
    regime, the CBEC amounts counted into each buyer's annual total. Idempotent by order number."""
    report = DeclareReport()
    with UnitOfWork(engine) as uow:
        repo = CustomsRepository(uow.connection)
        order_rows, line_rows = uow.orders.load(list(order_ids))
        if order_rows.is_empty():
            return report
        known = repo.declared(order_rows.get_column("external_id").to_list())
        report.already = len(known)
        order_rows = order_rows.filter(~pl.col("external_id").is_in(list(known)))
        modelled = pl.col("consignee_country").is_in(list(EU_MEMBERS | {"CN", "GB", "US"}))
        report.not_modelled = order_rows.filter(~modelled).height
        order_rows = order_rows.filter(modelled)
        if order_rows.is_empty():
            uow.commit()
            return report
        line_rows = line_rows.filter(
            pl.col("order_id").is_in(order_rows.get_column("id").implode())
        )
        korders, klines = _kernel_frames(uow, order_rows, line_rows, on)
        day = on or date.today()
        buyers = order_rows.select(
            pl.when(pl.col("consignee_country") == "CN").then(pl.col("buyer_id_number"))
        )
        stored = repo.annual_totals([b for b in buyers.to_series().to_list() if b], day.year)
        result = quote_in_waves(korders, klines, buyers.to_series(), stored, book)
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
        report.errors = [f"{r['order_no']}: {r['error']}" for r in bad.iter_rows(named=True)]
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
        repo.insert_declarations(rows, datetime.now(UTC), "2", "declared with the list (CEB621)")
        counted = (
            good.filter(pl.col("counted_minor") > 0)
            .group_by("buyer_id")
            .agg(pl.col("counted_minor").sum(), pl.len().alias("n"))
        )
        repo.add_annual(day.year, [(str(b), int(m), int(n)) for b, m, n in counted.iter_rows()])
        uow.commit()
    report.declared = len(rows)
    report.quotes = good
    return report


def _restore_annual(repo: CustomsRepository, decl: dict[str, Any]) -> None:
    if decl["counted_minor"] and decl["buyer_id"]:
        repo.add_annual(
            decl["declared_on"].year, [(decl["buyer_id"], -int(decl["counted_minor"]), -1)]
        )
        repo.update(decl["id"], counted_minor=0)


def record_receipt(
    engine: Engine, order_no: str, code: str, at: datetime | None = None, note: str = ""
) -> dict[str, Any]:
    """Apply a customs receipt code to a declaration; rejection or return restores the quota."""
    at = at or datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        repo = CustomsRepository(uow.connection)
        decl = repo.get(order_no)
        if decl is None:
            raise NotFound(f"no declaration for order {order_no!r}")
        current = Status(decl["status"])
        target = advance(current, code)
        if target != current:
            values: dict[str, Any] = {"status": target.value}
            if target == Status.RELEASED:
                values["released_on"] = at.date()
            repo.update(decl["id"], **values)
            repo.add_event(decl["id"], str(code), target.value, at, note)
            if target in (Status.REJECTED, Status.RETURNED):
                _restore_annual(repo, decl)
        uow.commit()
    return {"order_no": order_no, "status": target.value, "previous": current.value}


def return_goods(engine: Engine, order_no: str, on: date) -> dict[str, Any]:
    """A CBEC buyer's return within the window: tax given back, annual total restored."""
    with UnitOfWork(engine) as uow:
        repo = CustomsRepository(uow.connection)
        decl = repo.get(order_no)
        if decl is None:
            raise NotFound(f"no declaration for order {order_no!r}")
        if Status(decl["status"]) not in COUNTED or decl["released_on"] is None:
            raise Conflict(
                f"order {order_no}: only released goods can be returned (status {decl['status']})"
            )
        rule = in_force("CN", "return", on) if decl["regime"] == "CN" else None
        if rule is None:
            raise Conflict(f"order {order_no}: no return rule for regime {decl['regime']} on {on}")
        window = int(str(rule.params["window_days"]))
        if on > decl["released_on"] + timedelta(days=window) or on < decl["released_on"]:
            raise Conflict(
                f"order {order_no}: return on {on} is outside the {window}-day window after "
                f"release on {decl['released_on']} ({rule.source})"
            )
        refund = int(decl["total_tax_minor"])
        repo.update(decl["id"], status=Status.REFUNDED.value)
        repo.add_event(
            decl["id"],
            None,
            Status.REFUNDED.value,
            datetime.now(UTC),
            f"returned within {window} days: tax {refund} refunded ({rule.id})",
        )
        _restore_annual(repo, decl)
        uow.commit()
    return {
        "order_no": order_no,
        "status": Status.REFUNDED.value,
        "refund_minor": refund,
        "currency": decl["tax_currency"],
        "rule": rule.id,
    }


def annual_total(engine: Engine, buyer_id: str, year: int) -> int:
    with UnitOfWork(engine) as uow:
        frame = CustomsRepository(uow.connection).annual_totals([buyer_id], year)
    return int(frame.get_column("total_minor")[0]) if frame.height else 0


# --- three-document match ---------------------------------------------------------------------
def match(
    docs: match_kernel.Documents, on: date, engine: Engine | None = None, *, save: bool = False
) -> list[dict[str, Any]]:
    """Match documents; with a store, buyers' annual totals come from it (and results are saved)."""
    stored = None
    if engine is not None:
        buyers = docs.orders.get_column("buyerIdNumber").drop_nulls().to_list()
        with UnitOfWork(engine) as uow:
            stored = CustomsRepository(uow.connection).annual_totals(buyers, on.year)
        stored = stored.rename({"buyer_id": "buyerIdNumber"})
    results = match_kernel.result_records(match_kernel.match_documents(docs, on, stored))
    if engine is not None and save:
        with UnitOfWork(engine) as uow:
            CustomsRepository(uow.connection).save_matches(results, on)
            uow.commit()
    return results


def documents_from_records(
    orders: Iterable[Mapping[str, Any]],
    payments: Iterable[Mapping[str, Any]],
    waybills: Iterable[Mapping[str, Any]],
    lists: Iterable[Mapping[str, Any]],
) -> match_kernel.Documents:
    return match_kernel.documents(orders, payments, waybills, lists)
