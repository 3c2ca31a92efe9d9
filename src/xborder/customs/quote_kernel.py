"""The landed-cost quote as one columnar kernel: one order and a million take the same path.

Input: an orders frame (``ORDER_SCHEMA``, plus the optional ``OPTIONAL_ORDER_SCHEMA`` columns)
and a lines frame (``LINE_SCHEMA``), amounts in integer minor units of the order currency, ``fx``
converting the order currency into the regime's tax currency (CNY, EUR, GBP, USD, JPY, KRW, CAD,
AUD). Output: ``QuoteResult`` with one row per order and per line, tax amounts in integer minor
units of the tax currency.

Formula (``quote_math.tax_components``), per line with customs value B (the line's goods times
the regime's goods share -- 3/5 for Japanese private-use imports, else 1 -- plus its value-weighted
share of freight and insurance where the regime values CIF), E (its share of freight and insurance
where only the VAT base includes them: Australia), duty rate d, consumption-tax rate c, VAT rate v
and factor f (0.7 for China CBEC): ``duty = B*d``, ``CT = (B+duty+E)/(1-c)*c*f``,
``VAT = (B+duty+E)/(1-c)*v*f``. Additional duties (``measures.with_additional_duties``: Section 301,
IEEPA...) are assessed on B and do NOT enter the VAT base in this model (they are US measures, and
the US has no VAT); fees (``fees.with_fees``) come after the taxes.
Rounding: each component of each line is rounded half-up to the minor unit; the order's duty, VAT,
consumption tax and additional duty are sums of the rounded line components and ``total_tax`` is
their sum; ``landed`` adds goods, freight, insurance and fees. Bases use unrounded amounts. Floats
are used where provably exact enough; every other value is recomputed with ``fractions.Fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from xborder.customs import quote_output
from xborder.customs.quote_decide import REASONS as REASONS
from xborder.customs.quote_decide import decide
from xborder.customs.quote_decide import with_reason_text as with_reason_text
from xborder.customs.quote_lines import customs_value, line_taxes
from xborder.customs.quote_math import convert
from xborder.customs.quote_math import exact as exact
from xborder.customs.quote_math import round_half_up as round_half_up
from xborder.customs.quote_math import tax_components as tax_components
from xborder.customs.regimes import MODELLED, TAX_CURRENCY, regime_expr
from xborder.customs.regimes_apac import (
    APAC_EXCISE_PREFIXES,
    CA_HST_PROVINCES,
    JP_EXEMPTION_EXCLUDED,
    KR_GENERAL_CLEARANCE_CHAPTERS,
)
from xborder.customs.tariffs import EXACT_DIGITS, TariffBook, shipped_book
from xborder.domain.errors import InvalidValue
from xborder.refdata import countries, currencies

ORDER_SCHEMA = pl.Schema(
    {
        "rec": pl.Int64,
        "date": pl.Date,
        "origin": pl.String,
        "destination": pl.String,
        "incoterm": pl.String,
        "currency": pl.String,
        "fx": pl.Float64,
        "freight_minor": pl.Int64,
        "insurance_minor": pl.Int64,
        "customs_mode": pl.String,
        "annual_before_minor": pl.Int64,
    }
)
# Optional order columns (null when absent): ``region`` the consignee's province or state
# (Canada: HST), ``transport`` courier or post (Canada's CUSMA thresholds), ``limit_fx`` 1 unit of
# the regime's limit currency in the tax currency (Korea: 1 USD in KRW).
OPTIONAL_ORDER_SCHEMA = pl.Schema(
    {"region": pl.String, "transport": pl.String, "limit_fx": pl.Float64}
)
LINE_SCHEMA = pl.Schema(
    {
        "rec": pl.Int64,
        "line": pl.Int64,
        "hs_code": pl.String,
        "qty": pl.Int64,
        "unit_minor": pl.Int64,
        "duty_rate": pl.Float64,
        "vat_rate": pl.Float64,
        "ct_rate": pl.Float64,
        "high_end": pl.Boolean,
    }
)
APAC = ("JP", "KR", "CA", "AU")


@dataclass(frozen=True, slots=True)
class QuoteResult:
    orders: pl.DataFrame
    lines: pl.DataFrame


def _digits(code: pl.Expr) -> pl.Expr:
    table = {c: info.minor_units for c, info in currencies().items()}
    return code.replace_strict(table, default=None, return_dtype=pl.Int64)


def _prefix_in(hs: pl.Expr, prefixes: tuple[str, ...] | frozenset[str]) -> pl.Expr:
    """Whether an HS code starts with one of ``prefixes`` (one ``is_in`` per prefix length)."""
    result = pl.lit(False)
    for length in sorted({len(p) for p in prefixes}):
        result = result | hs.str.slice(0, length).is_in([p for p in prefixes if len(p) == length])
    return result


def _prepare_orders(orders: pl.DataFrame) -> pl.DataFrame:
    regime = pl.col("regime")
    province = pl.col("region").str.strip_chars().str.to_uppercase()
    frame = orders.with_columns(regime_expr(pl.col("destination")).alias("regime"))
    frame = frame.with_columns(
        regime.replace_strict(dict(TAX_CURRENCY), default=None).alias("tax_currency"),
        pl.when(regime == "EU")
        .then(pl.col("destination"))
        .when((regime == "CA") & province.is_in(list(CA_HST_PROVINCES)))
        .then(pl.concat_str(pl.lit("CA-"), province))
        .otherwise(regime)
        .alias("vat_jurisdiction"),
    ).with_columns(
        (_digits(pl.col("tax_currency")) - _digits(pl.col("currency"))).alias("shift"),
        pl.when(pl.col("currency") == pl.col("tax_currency"))
        .then(pl.lit(1.0))
        .otherwise(pl.col("fx"))
        .alias("fx_eff"),
    )
    return frame.with_columns(
        (pl.col("fx_eff") * pl.lit(10.0).pow(pl.col("shift"))).alias("conv"),
        pl.when(regime.is_null())
        .then(
            pl.concat_str(
                pl.lit("destination: no customs regime modelled for "),
                pl.col("destination"),
                pl.lit(f" ({MODELLED})"),
            )
        )
        .when(pl.col("fx_eff").is_null() | (pl.col("fx_eff") <= 0))
        .then(
            pl.concat_str(
                pl.lit("fx: no rate from "),
                pl.col("currency"),
                pl.lit(" to "),
                pl.col("tax_currency"),
                pl.lit(" for the date"),
            )
        )
        .alias("error"),
    )


def _line_error_text() -> pl.Expr:
    where = pl.format("lines[{}]", pl.col("line"))
    code = pl.col("line_error")
    return (
        pl.when(code == "no_tariff")
        .then(
            pl.format(
                "{}.hs_code: no tariff row for {} in {} on the date; give duty_rate and vat_rate",
                where,
                pl.col("hs_code"),
                pl.col("jurisdiction"),
            )
        )
        .when(code == "no_duty")
        .then(
            pl.format(
                "{}.duty_rate: no ad valorem duty for {} in {} (specific duty); give duty_rate",
                where,
                pl.col("hs_code"),
                pl.col("jurisdiction"),
            )
        )
        .when(code == "no_vat")
        .then(
            pl.format(
                "{}.vat_rate: no VAT rate for {} on the date; give vat_rate",
                where,
                pl.col("vat_jurisdiction"),
            )
        )
        .when(code == "excise")
        .then(
            pl.format(
                "{}.hs_code: {} is liquor or tobacco: excise taxes in {} are not modelled",
                where,
                pl.col("hs_code"),
                pl.col("jurisdiction"),
            )
        )
        .otherwise(pl.format("{}.consumption_tax_rate: must be below 1", where))
    )


def _rates(lines: pl.DataFrame, book: TariffBook) -> pl.DataFrame:
    """Join each line's rates, resolved once per distinct (date, jurisdictions, HS code)."""
    # Join the rates on two integers (context, HS code) rather than four text/date columns.
    names = [*sorted(countries()), "EU", *sorted(f"CA-{p}" for p in CA_HST_PROVINCES)]
    codes = {c: i for i, c in enumerate(names)}
    lines = lines.with_columns(
        (
            pl.col("date").cast(pl.Int32).cast(pl.Int64) * 1_000_000
            + pl.col("jurisdiction").replace_strict(codes, default=999, return_dtype=pl.Int64)
            * 1000
            + pl.col("vat_jurisdiction").replace_strict(codes, default=999, return_dtype=pl.Int64)
        ).alias("_ctx"),
        (
            pl.col("hs_code").cast(pl.Int64, strict=False) * 16 + pl.col("hs_code").str.len_bytes()
        ).alias("_hs"),
    )
    keys = (
        lines.filter(pl.col("regime").is_not_null())
        .select("_ctx", "_hs", "jurisdiction", "vat_jurisdiction", "hs_code", "date")
        .unique(subset=["_ctx", "_hs"])
    )
    rates = keys.join(
        book.resolve(keys.drop("_ctx", "_hs")),
        on=["jurisdiction", "vat_jurisdiction", "hs_code", "date"],
        how="left",
    ).drop("jurisdiction", "vat_jurisdiction", "hs_code", "date")
    return lines.join(rates, on=["_ctx", "_hs"], how="left", maintain_order="left")


def quote_frames(
    orders: pl.DataFrame, lines: pl.DataFrame, book: TariffBook | None = None
) -> QuoteResult:
    """Quote every order of the batch (see the module docstring for the formula and rounding)."""
    # Imported here: measures and fees use this module's arithmetic helpers (a cycle at import).
    from xborder.customs import fees, measures

    book = book or shipped_book()
    absent = [pl.lit(None, t).alias(n) for n, t in OPTIONAL_ORDER_SCHEMA.items() if n not in orders]
    schema = pl.Schema({**ORDER_SCHEMA, **OPTIONAL_ORDER_SCHEMA})
    orders = orders.with_columns(absent).select(list(schema)).cast(schema).sort("rec")
    orders = _prepare_orders(orders)
    lines = lines.select(list(LINE_SCHEMA)).cast(LINE_SCHEMA).sort("rec", "line")
    recs = orders.get_column("rec").to_numpy()
    if recs.size > 1 and not (np.diff(recs) > 0).all():
        raise InvalidValue("rec", "order records must be unique")
    line_recs = lines.get_column("rec").to_numpy()
    pos = np.searchsorted(recs, line_recs)
    known_rec = (pos < recs.size) & (recs[np.minimum(pos, max(recs.size - 1, 0))] == line_recs)
    if not known_rec.all():
        lines, pos = lines.filter(pl.Series(known_rec)), pos[known_rec]
    positions = pl.Series("_pos", pos, dtype=pl.UInt32)
    ctx = orders.select(
        "date", "regime", "destination", "origin", "vat_jurisdiction", "conv", "fx_eff", "shift"
    )
    lines = lines.hstack(ctx[positions]).with_columns(pl.col("regime").alias("jurisdiction"))
    lines = _rates(lines, book).with_columns(
        pl.coalesce("duty_rate", "duty_rate_right").alias("duty_eff"),
        pl.coalesce("vat_rate", "vat_rate_right").alias("vat_eff"),
        pl.coalesce(
            "ct_rate",
            pl.when(pl.col("high_end").fill_null(False))
            .then(pl.col("ct_high_end_rate"))
            .otherwise(pl.col("ct_rate_right")),
            pl.lit(0.0),
        ).alias("ct_eff"),
    )
    regime, hs = pl.col("regime"), pl.col("hs_code")
    code = (
        pl.when(regime.is_null())
        .then(pl.lit(None, pl.String))
        .when(regime.is_in(list(APAC)) & _prefix_in(hs, APAC_EXCISE_PREFIXES))
        .then(pl.lit("excise"))
        .when(
            pl.col("tariff_source").is_null()
            & (pl.col("duty_rate").is_null() | pl.col("vat_rate").is_null())
        )
        .then(pl.lit("no_tariff"))
        .when(pl.col("duty_eff").is_null())
        .then(pl.lit("no_duty"))
        .when(pl.col("vat_eff").is_null())
        .then(pl.lit("no_vat"))
        .when(pl.col("ct_eff") >= 1)
        .then(pl.lit("ct"))
    )
    lines = lines.with_columns(
        code.alias("line_error"),
        ((regime == "JP") & _prefix_in(hs, JP_EXEMPTION_EXCLUDED)).alias("jp_excluded"),
        ((regime == "KR") & hs.str.slice(0, 2).is_in(list(KR_GENERAL_CLEARANCE_CHAPTERS))).alias(
            "kr_general"
        ),
        (
            pl.col("duty_rate").is_not_null()
            | (pl.col("tariff_digits").fill_null(0) >= EXACT_DIGITS)
        ).alias("exact_line"),
    )
    if lines.get_column("line_error").is_not_null().any():  # word the (few) errors only
        lines = lines.with_columns(
            pl.when(pl.col("line_error").is_not_null()).then(_line_error_text()).alias("line_error")
        )

    value = (lines.get_column("qty") * lines.get_column("unit_minor")).to_numpy()
    conv = lines.get_column("conv").fill_null(1.0).to_numpy()
    fx = lines.get_column("fx_eff").fill_null(1.0).to_numpy()
    shift = lines.get_column("shift").fill_null(0).to_numpy()
    line_value = convert(value, conv, fx, shift)
    lines = lines.with_columns(pl.Series("value_minor", line_value))

    n = orders.height

    def per_order(weights: np.ndarray) -> np.ndarray:
        return np.bincount(pos, weights=weights, minlength=n).astype(np.int64)  # exact < 2^53

    freight, insurance = orders.get_column("freight_minor"), orders.get_column("insurance_minor")
    o_conv = orders.get_column("conv").fill_null(1.0).to_numpy()
    o_fx = orders.get_column("fx_eff").fill_null(1.0).to_numpy()
    o_shift = orders.get_column("shift").fill_null(0).to_numpy()
    fi = convert(freight.fill_null(0).to_numpy(), o_conv, o_fx, o_shift) + convert(
        insurance.fill_null(0).to_numpy(), o_conv, o_fx, o_shift
    )
    orders = orders.with_columns(
        pl.Series("fi_minor", fi),
        pl.Series("goods_minor", per_order(line_value)),
        pl.Series("goods_order_minor", per_order(value)),
        pl.Series("qty_total", per_order(lines.get_column("qty").to_numpy())),
        pl.Series("kr_general", per_order(lines.get_column("kr_general").to_numpy()) > 0),
        pl.Series("exact_tariff", per_order((~lines.get_column("exact_line")).to_numpy()) == 0),
    )
    bad_lines = lines.filter(pl.col("line_error").is_not_null())
    if bad_lines.height:
        first_error = bad_lines.group_by("rec").agg(pl.col("line_error").first())
        orders = orders.join(first_error, on="rec", how="left", maintain_order="left")
        orders = orders.with_columns(pl.coalesce("error", "line_error").alias("error"))
    orders = orders.with_columns((pl.col("goods_minor") + pl.col("fi_minor")).alias("value_minor"))
    orders = decide(orders)

    per_order_cols = orders.select(
        "goods_minor",
        "fi_minor",
        "factor",
        "channel",
        "duty_on",
        "tax_on",
        "flat_per_class_minor",
        "fi_in_base",
        "fi_in_vat_base",
        "gs_num",
        "gs_den",
        pl.col("error").alias("order_error"),
    )
    lines = lines.hstack(per_order_cols[positions])
    lines = line_taxes(lines)
    lines = measures.with_additional_duties(lines)
    lines = lines.with_columns(
        pl.when(pl.col("ok")).then(pl.col("additional_duty_minor")).otherwise(0).fill_null(0)
    )
    orders = orders.with_columns(
        pl.Series(name, per_order(lines.get_column(name).to_numpy()))
        for name in ("duty_minor", "vat_minor", "ct_minor", "additional_duty_minor")
    )
    orders = quote_output.with_measure_ids(orders, lines)
    orders = orders.with_columns(customs_value(orders), _fx_rate())
    orders = orders.with_columns(
        (
            pl.col("duty_minor")
            + pl.col("vat_minor")
            + pl.col("ct_minor")
            + pl.col("additional_duty_minor")
        ).alias("total_tax_minor"),
    )
    orders = fees.with_fees(orders)
    return QuoteResult(quote_output.order_output(orders), quote_output.line_output(lines))


def _fx_rate() -> pl.Expr:
    """The FX rate the quote converted with (null when the order is in the tax currency)."""
    return (
        pl.when(pl.col("currency") != pl.col("tax_currency"))
        .then(pl.col("fx_eff"))
        .otherwise(pl.lit(None, pl.Float64))
        .alias("fx_rate")
    )
