"""Landed-cost quotes: one order, many orders, and the kernel frames of stored orders.

A single quote and a million go through the same columnar kernel (``xborder.customs``). A quote
is a calculation, so it writes nothing; with the store (``use_store``) a China buyer's annual CBEC
total and the stored FX rates come in through the unit of work. The date a quote is for defaults
to the clock's today, never the host's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from xborder.customs.explain import FxUsed
from xborder.customs.quote_input import frames, parse_request, result_records
from xborder.customs.quote_kernel import (
    OPTIONAL_ORDER_SCHEMA,
    ORDER_SCHEMA,
    QuoteResult,
    quote_frames,
)
from xborder.customs.regimes import EU_MEMBERS, TAX_CURRENCY
from xborder.customs.regimes_apac import LIMIT_CURRENCY
from xborder.customs.tariffs import TariffBook
from xborder.domain.errors import DomainError, InvalidValue, MissingRate
from xborder.domain.money import CROSS_PIVOTS, FxRate, FxTable
from xborder.store.customs_repo import CustomsRepository
from xborder.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class QuoteOrder:
    """Quote one order given as a JSON request (see ``xborder.customs.quote_input``).

    ``on``: the date when the request has none (default: the clock's today). ``use_store``: take a
    China buyer's annual total (``buyer_id``, unless ``buyer_annual_total_before`` is given) and,
    when ``fx`` is not given, the FX rates from the store.
    """

    request: Mapping[str, Any]
    on: date | None = None
    fx: FxTable | None = None
    book: TariffBook | None = None
    use_store: bool = False


def tax_currency(destination: str) -> str | None:
    """The currency duties and taxes are computed in for a destination (None: no regime)."""
    if destination in EU_MEMBERS:
        return TAX_CURRENCY["EU"]
    return TAX_CURRENCY.get(destination)


def _latest(fx: FxTable, base: str, quote: str, on: date) -> FxRate | None:
    found = [r for r in fx if r.base == base and r.quote == quote and r.valid_from <= on]
    return max(found, key=lambda r: r.valid_from) if found else None


def rate_used(fx: FxTable, base: str, quote: str, on: date) -> FxUsed:
    """The rate ``FxTable.rate`` gives, with the date and source of the table rows it came from
    (direct, inverse, or a cross rate through a pivot: then the older of the two dates)."""
    rate = fx.rate(base, quote, on)  # raises MissingRate as the table does
    direct = _latest(fx, base, quote, on) or _latest(fx, quote, base, on)
    if direct is not None:
        return FxUsed(base, quote, rate, direct.valid_from, direct.source)
    for pivot in CROSS_PIVOTS:
        legs = [
            _latest(fx, a, b, on) or _latest(fx, b, a, on)
            for a, b in ((base, pivot), (pivot, quote))
        ]
        if pivot not in (base, quote) and all(legs):
            dated = [leg for leg in legs if leg is not None]
            oldest = min(dated, key=lambda r: r.valid_from)
            via = f"cross rate via {pivot}: " + "; ".join(r.source for r in dated if r.source)
            return FxUsed(base, quote, rate, oldest.valid_from, via)
    return FxUsed(base, quote, rate, None, "")


def _fill_fx(
    order: dict[str, Any],
    fx: FxTable | None,
    seen: dict[tuple[str, str, date], FxUsed | None] | None = None,
) -> FxUsed | None:
    """Set the order's rate from the table when the request gives none; the rate used, dated
    (``seen`` caches the look-ups of a batch)."""
    target = tax_currency(order["destination"])
    if target is None or target == order["currency"]:
        _fill_limit_fx(order, fx)
        return None
    if order["fx"] is not None:
        _fill_limit_fx(order, fx)
        given = Decimal(repr(order["fx"]))
        return FxUsed(order["currency"], target, given, None, "given in the request")
    if fx is None:
        return None
    key = (order["currency"], target, order["date"])
    if seen is None or key not in seen:
        try:
            found: FxUsed | None = rate_used(fx, *key)
        except MissingRate:  # the kernel reports a missing rate, naming the field
            found = None
        if seen is not None:
            seen[key] = found
    else:
        found = seen[key]
    if found is not None:
        order["fx"] = float(found.rate)
    _fill_limit_fx(order, fx)
    return found


def _fill_limit_fx(order: dict[str, Any], fx: FxTable | None) -> None:
    """Set ``limit_fx`` (1 unit of the regime's limit currency in its tax currency, e.g. 1 USD in
    KRW for Korea's USD 150 limit) from the table; the kernel refuses the order without it."""
    limit = LIMIT_CURRENCY.get(order["destination"])
    target = tax_currency(order["destination"])
    if limit is None or target is None or fx is None or order.get("limit_fx") is not None:
        return
    with suppress(MissingRate):
        order["limit_fx"] = float(fx.rate(limit, target, order["date"]))


def stored_fx(repo: CustomsRepository) -> FxTable:
    """The store's dated FX rates as a table."""
    return FxTable.of(
        FxRate(r["valid_from"], r["base"], r["quote"], r["rate"], r["source"])
        for r in repo.fx_rows()
    )


def quote(uow: UnitOfWork, command: QuoteOrder) -> dict[str, Any]:
    """Quote one order (the bulk kernel on a batch of one); bad input raises ``InvalidValue``.

    The result is the JSON record of the quote (amounts as exact decimal text in the tax
    currency, the lines, the rules applied with their sources): the same record a bulk quote
    gives per order, so it stays a mapping.
    """
    request = command.request
    order, lines = parse_request(request, 0, command.on or uow.clock.now().date())
    fx = command.fx
    if command.use_store:
        buyer = request.get("buyer_id") if isinstance(request, Mapping) else None
        with uow:
            if fx is None:
                fx = stored_fx(uow.customs)
            if buyer and order["destination"] == "CN" and order["annual_before_minor"] is None:
                totals = uow.customs.annual_totals([str(buyer)], order["date"].year)
                order["annual_before_minor"] = (
                    int(totals.get_column("total_minor")[0]) if totals.height else 0
                )
    used = _fill_fx(order, fx)
    rates = {0: used} if used is not None else None
    result = result_records(quote_frames(*frames([order], lines), command.book), rates)[0]
    if result.get("error"):
        field_name, _, reason = str(result["error"]).partition(": ")
        raise InvalidValue(field_name, reason)
    del result["rec"]
    return result


def quote_many(
    requests: Iterable[Any],
    on: date,
    *,
    fx: FxTable | None = None,
    book: TariffBook | None = None,
) -> list[dict[str, Any]]:
    """Quote many orders in one kernel call (pure: no store, no clock; ``on`` is the date of a
    request without one). A bad record gives ``{"record": i, "error": ...}`` in its place."""
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    out: dict[int, dict[str, Any]] = {}
    rates: dict[int, FxUsed] = {}
    seen: dict[tuple[str, str, date], FxUsed | None] = {}
    count = 0
    for i, raw in enumerate(requests):
        count = i + 1
        try:
            order, order_lines = parse_request(raw, i, on)
        except DomainError as exc:
            out[i] = {"record": i, "error": str(exc)}
            continue
        used = _fill_fx(order, fx, seen)
        if used is not None:
            rates[i] = used
        orders.append(order)
        lines.extend(order_lines)
    if orders:
        for row in result_records(quote_frames(*frames(orders, lines), book), rates):
            rec = row.pop("rec")
            out[rec] = {"record": rec, **row}
    return [out[i] for i in range(count)]


# --- stored orders into the kernel ------------------------------------------------------------
def kernel_frames(
    repo: CustomsRepository, order_rows: pl.DataFrame, line_rows: pl.DataFrame, on: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The quote kernel's order and line frames for stored orders, quoted on ``on`` (FX from the
    store's dated rates, the high-end flag from the stored products)."""
    fx = stored_fx(repo)
    high_end = repo.high_end_skus()
    orders = order_rows.select(
        pl.col("id").alias("rec"),
        pl.lit(on).alias("date"),
        pl.col("origin_country").alias("origin"),
        pl.col("consignee_country").alias("destination"),
        "incoterm",
        "currency",
        pl.lit(None, pl.Float64).alias("fx"),
        "freight_minor",
        "insurance_minor",
        pl.lit(None, pl.String).alias("customs_mode"),
        pl.lit(None, pl.Int64).alias("annual_before_minor"),
        pl.col("consignee_region").alias("region"),
        pl.lit(None, pl.String).alias("transport"),  # not known before planning
        pl.lit(None, pl.Float64).alias("limit_fx"),
    )
    limits = []
    for dest in orders.get_column("destination").unique().to_list():
        limit, target = LIMIT_CURRENCY.get(dest), tax_currency(dest)
        if limit is not None and target is not None:
            with suppress(MissingRate):
                limits.append((dest, float(fx.rate(limit, target, on))))
    if limits:
        limit_frame = pl.DataFrame(
            limits, schema={"destination": pl.String, "_limit_fx": pl.Float64}, orient="row"
        )
        orders = (
            orders.join(limit_frame, on="destination", how="left", maintain_order="left")
            .with_columns(pl.col("_limit_fx").alias("limit_fx"))
            .drop("_limit_fx")
        )
    rates = []
    for cur, dest in orders.select("currency", "destination").unique().iter_rows():
        target = tax_currency(dest)
        rate = None
        if target is not None:
            with suppress(MissingRate):
                rate = float(fx.rate(cur, target, on))
        rates.append((cur, dest, rate))
    rate_frame = pl.DataFrame(
        rates,
        schema={"currency": pl.String, "destination": pl.String, "fx_rate": pl.Float64},
        orient="row",
    )
    orders = (
        orders.join(rate_frame, on=["currency", "destination"], how="left", maintain_order="left")
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
            part.select([c for c in (*ORDER_SCHEMA, *OPTIONAL_ORDER_SCHEMA) if c in part.columns]),
            lines.filter(pl.col("rec").is_in(recs.implode())),
            book,
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
