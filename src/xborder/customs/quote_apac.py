"""Regime decisions for Japan, Korea, Canada and Australia, as columns (facts in ``regimes_apac``).

Each order of these regimes gets a channel, a reason code, whether duty and tax are charged
(``_duty_on``, ``_tax_on``), the share of the goods price in the customs value (Japan: 3/5 for
private-use imports) and an error where the quote must be refused: no rule confirmed for the
date, Korea's USD limit without a USD rate (``limit_fx``), or Canada's CUSMA band without the
transport (``transport``: courier or post). Only codes are built here (words in ``quote_decide``).
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from xborder.customs.quote_math import exact
from xborder.customs.regimes import param_expr, rule_id_expr, with_dated
from xborder.customs.regimes_apac import (
    CA_HST_PROVINCES,
    CA_NO_PST,
    CUSMA_ORIGINS,
    LIMIT_CURRENCY,
)
from xborder.refdata import currencies

APAC_COLUMNS = ("_channel", "_reason", "_duty_on", "_tax_on", "_gs_num", "_gs_den", "_error")
KR_LIMIT_CURRENCY = LIMIT_CURRENCY["KR"]


def _kr_limit_in_krw(frame: pl.DataFrame) -> pl.DataFrame:
    """Korea's USD limit in KRW minor units at each order's ``limit_fx``, floored exactly (the
    goods are whole minor units, so ``goods <= limit`` iff ``goods <= floor(limit)``)."""
    pairs = (
        frame.filter(
            (pl.col("regime") == "KR") & pl.col("_kr_lim").is_not_null() & (pl.col("limit_fx") > 0)
        )
        .select("_kr_lim", "limit_fx")
        .unique()
    )
    info = currencies()
    shift = info["KRW"].minor_units - info[KR_LIMIT_CURRENCY].minor_units
    values = [
        int(Fraction(int(lim)) * exact(float(fx)) * Fraction(10) ** shift // 1)
        for lim, fx in pairs.iter_rows()
    ]
    table = pairs.with_columns(pl.Series("_kr_lim_krw", values, dtype=pl.Int64))
    return frame.join(table, on=["_kr_lim", "limit_fx"], how="left", maintain_order="left")


def with_apac_decision(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``APAC_COLUMNS`` (null outside JP, KR, CA, AU). Reads regime, date, origin, currency,
    goods_minor (tax currency, the goods without transport), goods_order_minor (order currency),
    fi_minor, region, transport, limit_fx and kr_general (a line cleared by general clearance)."""
    on = pl.col("date")
    frame = with_dated(
        frame,
        "date",
        {
            "_jp_lim": param_expr("JP", "low_value", "threshold_minor", on, pl.Int64),
            "_jp_num": param_expr("JP", "valuation", "goods_share_num", on, pl.Int64),
            "_jp_den": param_expr("JP", "valuation", "goods_share_den", on, pl.Int64),
            "_kr_base": param_expr("KR", "low_value", "limit_minor", on, pl.Int64),
            "_kr_us": param_expr("KR", "low_value_us", "limit_minor", on, pl.Int64),
            "_ca_lim": param_expr("CA", "low_value", "threshold_minor", on, pl.Int64),
            "_ca_tax": param_expr("CA", "low_value_cusma", "tax_minor", on, pl.Int64),
            "_ca_duty": param_expr("CA", "low_value_cusma", "duty_minor", on, pl.Int64),
            "_au_lim": param_expr("AU", "low_value", "threshold_minor", on, pl.Int64),
            "_au_lvg": rule_id_expr("AU", "vendor_gst", on),
        },
    )
    regime, goods = pl.col("regime"), pl.col("goods_minor")
    frame = frame.with_columns(
        pl.when((pl.col("origin") == "US") & ~pl.col("kr_general") & pl.col("_kr_us").is_not_null())
        .then(pl.col("_kr_us"))
        .otherwise(pl.col("_kr_base"))
        .alias("_kr_lim")
    )
    frame = _kr_limit_in_krw(frame)
    # Japan: customs value = num/den x goods + transport and insurance, compared exactly.
    num, den = pl.col("_jp_num"), pl.col("_jp_den")
    jp_low = num * goods + den * pl.col("fi_minor") <= den * pl.col("_jp_lim")
    kr_low = (
        pl.when(pl.col("currency") == KR_LIMIT_CURRENCY)
        .then(pl.col("goods_order_minor") <= pl.col("_kr_lim"))
        .otherwise(goods <= pl.col("_kr_lim_krw"))
    )
    transport = pl.col("transport").str.to_lowercase()
    cusma = pl.col("origin").is_in(list(CUSMA_ORIGINS)) & pl.col("_ca_tax").is_not_null()
    courier = cusma & (transport == "courier")
    province = pl.col("region").str.strip_chars().str.to_uppercase()
    complete_tax = province.is_in(list(CA_HST_PROVINCES | CA_NO_PST)).fill_null(False)
    ca_channel = (
        pl.when(goods <= pl.col("_ca_lim"))
        .then(pl.lit("low_value_exempt"))
        .when(courier & (goods <= pl.col("_ca_tax")))
        .then(pl.lit("low_value_exempt"))
        .when(courier & (goods <= pl.col("_ca_duty")))
        .then(pl.lit("cusma_duty_free"))
        .otherwise(pl.lit("import"))
    )
    ca_reason = (
        pl.when(goods <= pl.col("_ca_lim"))
        .then(pl.lit("ca_lvs"))
        .when(courier & (goods <= pl.col("_ca_tax")))
        .then(pl.lit("ca_cusma_free"))
        .when(courier & (goods <= pl.col("_ca_duty")))
        .then(pl.lit("ca_cusma_taxes"))
        .otherwise(pl.lit("ca_import"))
    )
    ca_reason = (
        pl.when(complete_tax | ca_reason.is_in(["ca_lvs", "ca_cusma_free"]))
        .then(ca_reason)
        .otherwise(pl.concat_str(ca_reason, pl.lit("_gst")))
    )
    au_low = goods <= pl.col("_au_lim")
    au_lvg = au_low & pl.col("_au_lvg").is_not_null()
    channel = (
        pl.when(regime == "JP")
        .then(pl.when(jp_low).then(pl.lit("small_exempt")).otherwise(pl.lit("import")))
        .when(regime == "KR")
        .then(pl.when(kr_low).then(pl.lit("list_clearance")).otherwise(pl.lit("import")))
        .when(regime == "CA")
        .then(ca_channel)
        .when(regime == "AU")
        .then(
            pl.when(au_lvg)
            .then(pl.lit("point_of_sale"))
            .when(au_low)
            .then(pl.lit("low_value_exempt"))
            .otherwise(pl.lit("import"))
        )
    )
    reason = (
        pl.when(regime == "JP")
        .then(pl.when(jp_low).then(pl.lit("jp_small")).otherwise(pl.lit("jp_import")))
        .when(regime == "KR")
        .then(pl.when(kr_low).then(pl.lit("kr_list")).otherwise(pl.lit("kr_import")))
        .when(regime == "CA")
        .then(ca_reason)
        .when(regime == "AU")
        .then(
            pl.when(au_lvg)
            .then(pl.lit("au_lvg"))
            .when(au_low)
            .then(pl.lit("au_low"))
            .otherwise(pl.lit("au_import"))
        )
    )
    missing_rule = (
        ((regime == "JP") & (pl.col("_jp_lim").is_null() | num.is_null()))
        | ((regime == "KR") & pl.col("_kr_lim").is_null())
        | ((regime == "CA") & pl.col("_ca_lim").is_null())
        | ((regime == "AU") & pl.col("_au_lim").is_null())
    )
    error = (
        pl.when(missing_rule)
        .then(
            pl.format(
                "date: no {} low-value rule confirmed for {} (see xborder.customs.regimes_apac)",
                regime,
                pl.col("date").cast(pl.String),
            )
        )
        .when(
            (regime == "KR")
            & (pl.col("currency") != KR_LIMIT_CURRENCY)
            & pl.col("_kr_lim_krw").is_null()
        )
        .then(
            pl.lit(
                "limit_fx: Korea's de minimis is in USD (150; 200 from the US): "
                "give limit_fx, 1 USD in KRW on the date"
            )
        )
        .when(
            cusma
            & transport.is_null()
            & (goods > pl.col("_ca_lim"))
            & (goods <= pl.col("_ca_duty"))
        )
        .then(
            pl.lit(
                "transport: goods shipped from the US or Mexico to Canada are duty-free up to "
                "CAD 150 (tax-free up to CAD 40) by courier but only up to CAD 20 by post: "
                "give transport (courier or post)"
            )
        )
    )
    exempt = channel.is_in(["small_exempt", "list_clearance", "low_value_exempt"])
    frame = frame.with_columns(
        channel.alias("_channel"),
        reason.alias("_reason"),
        (~exempt & (channel != "point_of_sale") & (channel != "cusma_duty_free")).alias("_duty_on"),
        (~exempt).alias("_tax_on"),
        pl.when(regime == "JP").then(num).otherwise(1).alias("_gs_num"),
        pl.when(regime == "JP").then(den).otherwise(1).alias("_gs_den"),
        pl.when(regime.is_in(["JP", "KR", "CA", "AU"])).then(error).alias("_error"),
    )
    return frame.drop(
        "_jp_lim",
        "_jp_num",
        "_jp_den",
        "_kr_base",
        "_kr_us",
        "_kr_lim",
        "_kr_lim_krw",
        "_ca_lim",
        "_ca_tax",
        "_ca_duty",
        "_au_lim",
        "_au_lvg",
    )
