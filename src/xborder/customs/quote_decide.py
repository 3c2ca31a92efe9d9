"""The regime decision of each order (channel, reason, what is charged), and the reasons' words.

Only codes and numbers are built for the batch (``with_reason_text`` words the orders actually
shown): building text for every row would dominate the kernel's time. China's decision lives in
``cbec_china``, Japan's, Korea's, Canada's and Australia's in ``quote_apac``; the facts of all of
them in ``regimes`` / ``regimes_apac``.
"""

from __future__ import annotations

import polars as pl

from xborder.customs.cbec_china import reason_text, with_cbec_decision
from xborder.customs.quote_apac import APAC_COLUMNS, with_apac_decision
from xborder.customs.regimes import param_expr, rule_id_expr, with_dated

ELIGIBLE = (
    "cbec",
    "cbec_full",
    "ioss",
    "point_of_sale",
    "de_minimis",
    "small_exempt",
    "list_clearance",
    "low_value_exempt",
    "cusma_duty_free",
)
POINT_OF_SALE = ("cbec", "cbec_full", "ioss", "point_of_sale")
APAC = ("JP", "KR", "CA", "AU")


def decide(orders: pl.DataFrame) -> pl.DataFrame:
    """Regime decision per order: ``channel``, ``reason_code``, ``eligible``, ``point_of_sale``,
    ``factor``, ``annual_after_minor``, ``duty_on`` and ``tax_on`` (whether duty and VAT are
    charged at all), ``flat_per_class_minor``, ``fi_in_base`` (transport and insurance in the
    customs value), ``fi_in_vat_base`` (in the VAT base), ``gs_num``/``gs_den`` (share of the
    goods price in the customs value) and ``error`` (with the APAC refusals)."""
    on = pl.col("date")
    frame = with_cbec_decision(orders, value="value_minor")
    frame = with_apac_decision(frame)
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
    apac = regime.is_in(list(APAC))
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
        .when(apac)
        .then(pl.col("_channel"))
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
        .when(apac)
        .then(pl.col("_reason"))
    )
    frame = frame.with_columns(channel.alias("channel"), reason.alias("reason_code"))
    ch = pl.col("channel")
    # ad valorem duty applies: not under CBEC 70 %, not under low-value relief or flat duty
    core_duty_on = ~(
        ch.is_in(["cbec", "point_of_sale", "de_minimis"])
        | ((ch == "ioss") & eu_mode.is_in(["relief", "flat"]))
    )
    return frame.with_columns(
        ch.is_in(list(ELIGIBLE)).alias("eligible"),
        ch.is_in(list(POINT_OF_SALE)).alias("point_of_sale"),
        pl.when(regime == "CN").then(pl.col("factor")).otherwise(1.0).alias("factor"),
        pl.when(regime == "CN")
        .then(pl.col("annual_after_minor"))
        .otherwise(pl.col("annual_before_minor"))
        .alias("annual_after_minor"),
        pl.when(apac).then(pl.col("_duty_on")).otherwise(core_duty_on).alias("duty_on"),
        pl.when(apac).then(pl.col("_tax_on")).otherwise(True).alias("tax_on"),
        pl.when((regime == "EU") & eu_low & (eu_mode == "flat"))
        .then(pl.col("_eu_flat"))
        .otherwise(0)
        .alias("flat_per_class_minor"),
        (~regime.is_in(["US", "CA", "AU"])).fill_null(True).alias("fi_in_base"),
        (~regime.is_in(["US", "CA"])).fill_null(True).alias("fi_in_vat_base"),
        pl.col("_gs_num").fill_null(1).alias("gs_num"),
        pl.col("_gs_den").fill_null(1).alias("gs_den"),
        pl.coalesce("error", "_error").alias("error"),
    ).drop(
        *APAC_COLUMNS,
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
    "jp_small": "customs value <= JPY 10,000: customs duty and consumption tax exempt (except "
    "designated goods: knitted clothing, footwear, leather bags, milk, grains...)",
    "jp_import": "customs value over JPY 10,000: customs duty and import consumption tax",
    "kr_list": "goods price <= USD 150 (USD 200 from the US by list clearance): duty and VAT "
    "exempt",
    "kr_import": "goods price over the de minimis: customs duty and VAT on the CIF value",
    "ca_lvs": "value for duty <= CAD 20: duties and taxes remitted",
    "ca_cusma_free": "courier from the US or Mexico, value for duty <= CAD 40: duty and tax free",
    "ca_cusma_taxes": "courier from the US or Mexico, value for duty <= CAD 150: duty free, "
    "GST/HST charged",
    "ca_cusma_taxes_gst": "courier from the US or Mexico, value for duty <= CAD 150: duty free, "
    "GST 5 % only (province not given or with PST: provincial tax not included)",
    "ca_import": "value for duty over the de minimis: customs duty and GST/HST",
    "ca_import_gst": "value for duty over the de minimis: customs duty and GST 5 % only "
    "(province not given or with PST: provincial tax not included)",
    "au_lvg": "customs value <= AUD 1,000: GST charged by the vendor at sale; no duty",
    "au_low": "customs value <= AUD 1,000: no duty and no GST at the border",
    "au_import": "customs value over AUD 1,000: duty on the customs value, GST on customs "
    "value + duty + transport and insurance",
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
