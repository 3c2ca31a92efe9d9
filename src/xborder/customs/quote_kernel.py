"""The landed-cost quote as one columnar kernel: one order and a million take the same path.

Input: an orders frame (``ORDER_SCHEMA``) and a lines frame (``LINE_SCHEMA``), amounts in integer
minor units of the order currency, ``fx`` converting the order currency into the regime's tax
currency (CNY, EUR, GBP, USD). Output: ``QuoteResult`` with one row per order and per line, tax
amounts in integer minor units of the tax currency.

Formula (``tax_components``, the one place the arithmetic lives), per line with base B (the line's
customs value: its goods plus its value-weighted share of freight and insurance where the regime
values CIF), duty rate d, consumption-tax rate c, VAT rate v and factor f (0.7 for China CBEC):
``duty = B*d``, ``CT = (B+duty)/(1-c)*c*f``, ``VAT = (B+duty)/(1-c)*v*f``.
Rounding: each component of each line is rounded half-up to the minor unit; the order's duty, VAT
and consumption tax are the sums of the rounded line components and ``total_tax`` is the sum of the
rounded components. Bases use unrounded amounts. Floats are used where they are provably exact
enough (|x| < 1e8 minor units and not within 1e-6 of a half); every other value is recomputed
exactly with ``fractions.Fraction`` through the same ``tax_components``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

import numpy as np
import polars as pl

from xborder.customs.cbec_china import reason_text, with_cbec_decision
from xborder.customs.regimes import (
    TAX_CURRENCY,
    param_expr,
    regime_expr,
    rule_id_expr,
    with_dated,
)
from xborder.customs.tariffs import TariffBook, shipped_book
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
SAFE_MAGNITUDE = 1e8  # below this, float error of the formula stays under 1e-7 minor units
TIE_WINDOW = 1e-6

T = TypeVar("T")


def tax_components(base: T, duty_rate: T, ct_rate: T, vat_rate: T, factor: T) -> tuple[T, T, T]:
    """Duty, consumption tax and VAT of one base (works on NumPy arrays and on Fractions)."""
    duty = base * duty_rate  # type: ignore[operator]
    composite = (base + duty) / (1 - ct_rate)  # type: ignore[operator]
    return duty, composite * ct_rate * factor, composite * vat_rate * factor


@dataclass(frozen=True, slots=True)
class QuoteResult:
    orders: pl.DataFrame
    lines: pl.DataFrame


def exact(value: float) -> Fraction:
    """A rate or FX float as the short decimal it was parsed from (0.13 -> 13/100)."""
    return Fraction(Decimal(repr(value)))


def _half_up(value: Fraction) -> int:
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def round_half_up(x: np.ndarray, exact_at: Callable[[int], Fraction]) -> np.ndarray:
    """Round non-negative floats half-up; risky entries are recomputed exactly by ``exact_at``."""
    out = np.floor(x + 0.5)
    risky = (np.abs(x - np.floor(x) - 0.5) < TIE_WINDOW) | (np.abs(x) >= SAFE_MAGNITUDE)
    result = np.where(np.isfinite(out), out, 0).astype(np.int64)
    for i in np.flatnonzero(risky & np.isfinite(x)):
        result[i] = _half_up(exact_at(int(i)))
    return result


def _convert(
    minor: np.ndarray, factor: np.ndarray, fx: np.ndarray, shift: np.ndarray
) -> np.ndarray:
    """Order-currency minor units into tax-currency minor units, rounded half-up."""
    same = factor == 1.0
    x = minor.astype(np.float64) * factor

    def exact_at(i: int) -> Fraction:
        return Fraction(int(minor[i])) * exact(float(fx[i])) * Fraction(10) ** int(shift[i])

    return np.where(same, minor, round_half_up(np.where(same, 0.0, x), exact_at))


def _digits(code: pl.Expr) -> pl.Expr:
    table = {c: info.minor_units for c, info in currencies().items()}
    return code.replace_strict(table, default=None, return_dtype=pl.Int64)


def _prepare_orders(orders: pl.DataFrame) -> pl.DataFrame:
    frame = orders.with_columns(regime_expr(pl.col("destination")).alias("regime"))
    frame = frame.with_columns(
        pl.col("regime").replace_strict(dict(TAX_CURRENCY), default=None).alias("tax_currency"),
    ).with_columns(
        (_digits(pl.col("tax_currency")) - _digits(pl.col("currency"))).alias("shift"),
        pl.when(pl.col("currency") == pl.col("tax_currency"))
        .then(pl.lit(1.0))
        .otherwise(pl.col("fx"))
        .alias("fx_eff"),
    )
    return frame.with_columns(
        (pl.col("fx_eff") * pl.lit(10.0).pow(pl.col("shift"))).alias("conv"),
        pl.when(pl.col("regime").is_null())
        .then(
            pl.concat_str(
                pl.lit("destination: no customs regime modelled for "),
                pl.col("destination"),
                pl.lit(" (CN, EU members, GB, US)"),
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
        .otherwise(pl.format("{}.consumption_tax_rate: must be below 1", where))
    )


def _decide(orders: pl.DataFrame) -> pl.DataFrame:
    """Regime decision per order: channel, a reason code, eligibility and factors.

    Only codes and numbers are built here (``reason_text`` and ``applied_rules`` word them for
    the orders actually shown): building text for every row would dominate the kernel's time.
    """
    on = pl.col("date")
    frame = with_cbec_decision(orders, value="value_minor")
    regime = pl.col("regime")
    goods = pl.col("goods_minor")
    frame = with_dated(
        frame,
        "date",
        {
            "_eu_limit": param_expr("EU", "low_value", "threshold_minor", on, pl.Int64),
            "_eu_mode": param_expr("EU", "low_value_duty", "mode", on, pl.String),
            "_eu_flat": param_expr("EU", "low_value_duty", "per_class_minor", on, pl.Int64),
            "_gb_limit": param_expr("GB", "low_value", "threshold_minor", on, pl.Int64),
            "_us_limit": param_expr("US", "low_value", "threshold_minor", on, pl.Int64),
            "_us_susp": rule_id_expr("US", "suspension", on),
        },
    ).with_columns(
        (goods <= pl.col("_eu_limit")).fill_null(False).alias("_eu_low"),
        (goods <= pl.col("_gb_limit")).fill_null(False).alias("_gb_low"),
        (goods <= pl.col("_us_limit")).fill_null(False).alias("_us_low"),
    )
    us_suspended = (
        (pl.col("_us_susp") == "US.SUSPEND.ALL")
        | ((pl.col("_us_susp") == "US.SUSPEND.CNHK") & pl.col("origin").is_in(["CN", "HK"]))
    ).fill_null(False)
    eu_low, eu_mode = pl.col("_eu_low"), pl.col("_eu_mode")
    channel = (
        pl.when(regime == "EU")
        .then(pl.when(eu_low).then(pl.lit("ioss")).otherwise(pl.lit("import")))
        .when(regime == "GB")
        .then(pl.when(pl.col("_gb_low")).then(pl.lit("point_of_sale")).otherwise(pl.lit("import")))
        .when(regime == "US")
        .then(
            pl.when(pl.col("_us_low") & ~us_suspended)
            .then(pl.lit("de_minimis"))
            .otherwise(pl.lit("entry"))
        )
        .otherwise(pl.col("channel"))
    )
    reason = (
        pl.when(regime == "CN")
        .then(pl.col("cbec_reason"))
        .when(regime == "EU")
        .then(
            pl.when(eu_low)
            .then(pl.concat_str(pl.lit("eu_ioss_"), eu_mode.fill_null("normal")))
            .otherwise(pl.lit("eu_import"))
        )
        .when(regime == "GB")
        .then(pl.when(pl.col("_gb_low")).then(pl.lit("gb_low")).otherwise(pl.lit("gb_import")))
        .when(regime == "US")
        .then(
            pl.when(pl.col("_us_low") & ~us_suspended)
            .then(pl.lit("us_de_minimis"))
            .when(pl.col("_us_low"))
            .then(pl.lit("us_suspended"))
            .otherwise(pl.lit("us_over"))
        )
    )
    frame = frame.with_columns(channel.alias("channel"), reason.alias("reason_code"))
    ch = pl.col("channel")
    return frame.with_columns(
        ch.is_in(["cbec", "cbec_full", "ioss", "point_of_sale", "de_minimis"]).alias("eligible"),
        ch.is_in(["cbec", "cbec_full", "ioss", "point_of_sale"]).alias("point_of_sale"),
        pl.when(regime == "CN").then(pl.col("factor")).otherwise(1.0).alias("factor"),
        pl.when(regime == "CN")
        .then(pl.col("annual_after_minor"))
        .otherwise(pl.col("annual_before_minor"))
        .alias("annual_after_minor"),
        # ad valorem duty applies: not under CBEC 70 %, not under low-value relief or flat duty
        (
            ~(
                ch.is_in(["cbec", "point_of_sale", "de_minimis"])
                | ((ch == "ioss") & eu_mode.is_in(["relief", "flat"]))
            )
        ).alias("duty_on"),
        pl.when((regime == "EU") & eu_low & (eu_mode == "flat"))
        .then(pl.col("_eu_flat"))
        .otherwise(0)
        .alias("flat_per_class_minor"),
        (regime != "US").alias("fi_in_base"),
    ).drop(
        "_eu_low",
        "_eu_mode",
        "_gb_low",
        "_us_low",
        "_us_susp",
        "_eu_limit",
        "_eu_flat",
        "_gb_limit",
        "_us_limit",
    )


REASONS = {
    "eu_ioss_relief": "intrinsic value <= EUR 150: IOSS, VAT at the destination rate charged at "
    "sale; customs-duty relief",
    "eu_ioss_flat": "intrinsic value <= EUR 150: IOSS, VAT at the destination rate charged at "
    "sale; flat EUR 3 duty per distinct tariff classification",
    "eu_ioss_normal": "intrinsic value <= EUR 150: IOSS, VAT at the destination rate charged at "
    "sale; normal duty",
    "eu_import": "intrinsic value over EUR 150: customs duty and import VAT",
    "gb_low": "consignment <= GBP 135: VAT at the point of sale, no customs duty",
    "gb_import": "consignment over GBP 135: customs duty and import VAT",
    "us_de_minimis": "Section 321 de minimis (<= USD 800): duty-free",
    "us_suspended": "de minimis suspended for this origin on the date: duty at the HTS rate",
    "us_over": "over the USD 800 de minimis: duty at the HTS rate",
}


def with_reason_text(orders: pl.DataFrame) -> pl.DataFrame:
    """Word the reason codes of a (shown) result frame."""
    return orders.with_columns(
        pl.when(pl.col("regime") == "CN")
        .then(reason_text())
        .otherwise(
            pl.col("reason_code").replace_strict(REASONS, default=None, return_dtype=pl.String)
        )
        .alias("reason")
    )


def quote_frames(
    orders: pl.DataFrame, lines: pl.DataFrame, book: TariffBook | None = None
) -> QuoteResult:
    """Quote every order of the batch (see the module docstring for the formula and rounding)."""
    book = book or shipped_book()
    orders = _prepare_orders(orders.select(list(ORDER_SCHEMA)).cast(ORDER_SCHEMA).sort("rec"))
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
    ctx = orders.select("date", "regime", "destination", "conv", "fx_eff", "shift")
    lines = lines.hstack(ctx[positions]).with_columns(
        pl.col("regime").alias("jurisdiction"),
        pl.when(pl.col("regime") == "EU")
        .then(pl.col("destination"))
        .otherwise(pl.col("regime"))
        .alias("vat_jurisdiction"),
    )
    # Join the rates on two integers (context, HS code) rather than four text/date columns.
    codes = {c: i for i, c in enumerate([*sorted(countries()), "EU"])}
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
    lines = lines.join(rates, on=["_ctx", "_hs"], how="left", maintain_order="left").with_columns(
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
    code = (
        pl.when(pl.col("regime").is_null())
        .then(pl.lit(None, pl.String))
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
    lines = lines.with_columns(code.alias("line_error"))
    if lines.get_column("line_error").is_not_null().any():  # word the (few) errors only
        lines = lines.with_columns(
            pl.when(pl.col("line_error").is_not_null()).then(_line_error_text()).alias("line_error")
        )

    value = (lines.get_column("qty") * lines.get_column("unit_minor")).to_numpy()
    conv = lines.get_column("conv").fill_null(1.0).to_numpy()
    fx = lines.get_column("fx_eff").fill_null(1.0).to_numpy()
    shift = lines.get_column("shift").fill_null(0).to_numpy()
    line_value = _convert(value, conv, fx, shift)
    lines = lines.with_columns(pl.Series("value_minor", line_value))

    n = orders.height
    goods = np.bincount(pos, weights=line_value, minlength=n).astype(np.int64)  # exact < 2^53
    qty_total = np.bincount(pos, weights=lines.get_column("qty").to_numpy(), minlength=n)
    freight, insurance = orders.get_column("freight_minor"), orders.get_column("insurance_minor")
    o_conv = orders.get_column("conv").fill_null(1.0).to_numpy()
    o_fx = orders.get_column("fx_eff").fill_null(1.0).to_numpy()
    o_shift = orders.get_column("shift").fill_null(0).to_numpy()
    fi = _convert(freight.fill_null(0).to_numpy(), o_conv, o_fx, o_shift) + _convert(
        insurance.fill_null(0).to_numpy(), o_conv, o_fx, o_shift
    )
    orders = orders.with_columns(
        pl.Series("fi_minor", fi),
        pl.Series("goods_minor", goods),
        pl.Series("qty_total", qty_total.astype(np.int64)),
    )
    bad_lines = lines.filter(pl.col("line_error").is_not_null())
    if bad_lines.height:
        first_error = bad_lines.group_by("rec").agg(pl.col("line_error").first())
        orders = orders.join(first_error, on="rec", how="left", maintain_order="left")
        orders = orders.with_columns(pl.coalesce("error", "line_error").alias("error"))
    orders = orders.with_columns((pl.col("goods_minor") + pl.col("fi_minor")).alias("value_minor"))
    orders = _decide(orders)

    per_order = orders.select(
        "rec",
        "goods_minor",
        "fi_minor",
        "factor",
        "duty_on",
        "flat_per_class_minor",
        "fi_in_base",
        pl.col("error").alias("order_error"),
    )
    lines = lines.hstack(per_order.drop("rec")[positions])
    lines = _line_taxes(lines)
    orders = (
        orders.with_columns(
            pl.Series(
                name,
                np.bincount(pos, weights=lines.get_column(name).to_numpy(), minlength=n).astype(
                    np.int64
                ),
            )
            for name in ("duty_minor", "vat_minor", "ct_minor")
        )
        .with_columns(
            pl.lit(0, pl.Int64).alias("fees_minor"),
        )
        .with_columns(
            (pl.col("duty_minor") + pl.col("vat_minor") + pl.col("ct_minor")).alias(
                "total_tax_minor"
            ),
        )
        .with_columns(
            (pl.col("value_minor") + pl.col("total_tax_minor") + pl.col("fees_minor")).alias(
                "landed_minor"
            ),
            pl.when(pl.col("point_of_sale") | (pl.col("incoterm") == "DDP"))
            .then(pl.lit("checkout"))
            .otherwise(pl.lit("delivery"))
            .alias("collected_at"),
            pl.when(pl.col("incoterm") == "DDP")
            .then(pl.lit("seller"))
            .otherwise(pl.lit("buyer"))
            .alias("tax_payer"),
        )
    )
    amount_cols = [
        "duty_minor",
        "vat_minor",
        "ct_minor",
        "fees_minor",
        "total_tax_minor",
        "landed_minor",
        "channel",
        "eligible",
        "reason_code",
        "annual_after_minor",
        "collected_at",
        "tax_payer",
    ]
    orders = orders.with_columns(
        [pl.when(pl.col("error").is_null()).then(pl.col(c)) for c in amount_cols]
    ).select(
        "rec",
        "date",
        "regime",
        "destination",
        "channel",
        "eligible",
        "reason_code",
        "cbec_reason",
        "single_minor",
        "annual_minor",
        "origin",
        "tax_currency",
        "goods_minor",
        "fi_minor",
        "value_minor",
        pl.when(pl.col("fi_in_base"))
        .then(pl.col("value_minor"))
        .otherwise(pl.col("goods_minor"))
        .alias("customs_value_minor"),
        "qty_total",
        "duty_minor",
        "vat_minor",
        "ct_minor",
        "fees_minor",
        "total_tax_minor",
        "landed_minor",
        "annual_before_minor",
        "annual_after_minor",
        "collected_at",
        "tax_payer",
        "incoterm",
        "error",
    )
    out_lines = lines.select(
        "rec",
        "line",
        "hs_code",
        "qty",
        "value_minor",
        "base_minor",
        "duty_eff",
        "vat_eff",
        "ct_eff",
        "duty_minor",
        "vat_minor",
        "ct_minor",
        "tariff_source",
        "vat_source",
    )
    return QuoteResult(orders, out_lines)


def _line_taxes(lines: pl.DataFrame) -> pl.DataFrame:
    """Per-line duty, consumption tax and VAT via ``tax_components``, rounded half-up exactly."""
    v = lines.get_column("value_minor").to_numpy()
    goods = lines.get_column("goods_minor").fill_null(0).to_numpy()
    fi_all = lines.get_column("fi_minor").fill_null(0).to_numpy()
    fi = np.where(lines.get_column("fi_in_base").fill_null(True).to_numpy(), fi_all, 0)
    first_line = lines.get_column("rec").is_first_distinct().to_numpy()
    ok = (
        lines.get_column("order_error").is_null() & lines.get_column("line_error").is_null()
    ).to_numpy()
    duty_on = lines.get_column("duty_on").fill_null(True).to_numpy()
    d = np.where(duty_on, lines.get_column("duty_eff").fill_null(0.0).to_numpy(), 0.0)
    c = lines.get_column("ct_eff").fill_null(0.0).to_numpy()
    c = np.where(ok & (c < 1), c, 0.0)
    vr = lines.get_column("vat_eff").fill_null(0.0).to_numpy()
    f = lines.get_column("factor").fill_null(1.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        base = np.where(
            goods > 0,
            v * ((goods + fi) / np.where(goods > 0, goods, 1)),
            np.where(first_line, fi, 0),
        ).astype(np.float64)

    def base_exact(i: int) -> Fraction:
        if goods[i] > 0:
            return Fraction(int(v[i]) * int(goods[i] + fi[i]), int(goods[i]))
        return Fraction(int(fi[i]) if first_line[i] else 0)

    def component(k: int) -> Callable[[int], Fraction]:
        def at(i: int) -> Fraction:
            parts = tax_components(
                base_exact(i),
                exact(float(d[i])),
                exact(float(c[i])),
                exact(float(vr[i])),
                exact(float(f[i])),
            )
            return parts[k]

        return at

    duty_x, ct_x, vat_x = tax_components(base, d, c, vr, f)
    duty = round_half_up(duty_x, component(0))
    ct = round_half_up(ct_x, component(1))
    vat = round_half_up(vat_x, component(2))
    per_class = lines.get_column("flat_per_class_minor").fill_null(0).to_numpy()
    flat = np.zeros_like(per_class)
    if per_class.any():  # EU flat duty: once per distinct classification in the consignment
        idx = np.flatnonzero(per_class)
        sub = lines[pl.Series(idx)].select(pl.struct("rec", "hs_code").is_first_distinct())
        flat[idx] = np.where(sub.to_series().to_numpy(), per_class[idx], 0)
    base_minor = round_half_up(base, base_exact)
    zero = np.zeros_like(duty)
    return lines.with_columns(
        pl.Series("base_minor", base_minor),
        pl.Series("duty_minor", np.where(ok, duty + flat, zero)),
        pl.Series("ct_minor", np.where(ok, ct, zero)),
        pl.Series("vat_minor", np.where(ok, vat, zero)),
    )
