"""China CBEC retail import: the single and annual limits, the 70 % rule and the channel decision.

One columnar decision (``with_cbec_decision``) is shared by the quote kernel and by the ``limits``
rule of the three-document match, so both always agree on which channel an order takes:

- ``cbec``: within both limits: duty 0 %, VAT and consumption tax at 70 % of the statutory amount;
- ``cbec_full``: a single-item order over the single limit but within the annual limit (from
  2019-01-01): still the CBEC channel, at full duty, VAT and consumption tax, counted in the total;
- ``general``: anything else over a limit, a requested general-trade declaration, or a date
  without the CBEC regime: general trade at full rates, not counted in the buyer's annual total.
"""

from __future__ import annotations

import polars as pl

from xborder.customs.regimes import param_expr, rule_id_expr, with_dated

CBEC_MODES = frozenset({"9610", "1210", "1239"})
GENERAL_MODES = frozenset({"general", "0110"})
MODES = CBEC_MODES | GENERAL_MODES


def yuan(minor: pl.Expr) -> pl.Expr:
    """Integer fen as ``RMB 1234.50`` text (for reasons and problem reports)."""
    whole = (minor // 100).cast(pl.String)
    frac = (minor % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str(pl.lit("RMB "), whole, pl.lit("."), frac)


def with_cbec_decision(
    frame: pl.DataFrame,
    *,
    value: str = "value_minor",
    before: str = "annual_before_minor",
    qty: str = "qty_total",
    on: str = "date",
    mode: str = "customs_mode",
) -> pl.DataFrame:
    """Add ``cbec_rule``, ``single_minor``, ``annual_minor``, ``channel``, ``cbec_reason`` (a
    code: ``reason_text`` words it), ``factor`` and ``annual_after_minor`` to orders for China.

    ``value`` is the customs value P in fen (goods + freight + insurance), ``before`` the buyer's
    annual CBEC total before this order in fen, ``qty`` the number of articles in the order.
    """
    date = pl.col(on)
    frame = with_dated(
        frame,
        on,
        {
            "cbec_rule": rule_id_expr("CN", "cbec", date),
            "single_minor": param_expr("CN", "cbec", "single_minor", date, pl.Int64),
            "annual_minor": param_expr("CN", "cbec", "annual_minor", date, pl.Int64),
            "cbec_factor": param_expr("CN", "cbec", "factor", date, pl.Float64),
            "single_item_ok": param_expr("CN", "cbec", "single_item_full_rate", date, pl.Boolean),
        },
    ).with_columns(pl.col(before).fill_null(0).alias("_before"))
    p, prior = pl.col(value), pl.col("_before")
    requested_general = pl.col(mode).is_in(list(GENERAL_MODES)).fill_null(False)
    no_regime = pl.col("cbec_rule").is_null()
    within_single = p <= pl.col("single_minor")
    within_annual = prior + p <= pl.col("annual_minor")
    single_item = (pl.col(qty) == 1) & pl.col("single_item_ok")
    channel = (
        pl.when(requested_general | no_regime)
        .then(pl.lit("general"))
        .when(within_single & within_annual)
        .then(pl.lit("cbec"))
        .when(single_item & within_annual)
        .then(pl.lit("cbec_full"))
        .otherwise(pl.lit("general"))
    )
    reason = (
        pl.when(requested_general)
        .then(pl.lit("requested_general"))
        .when(no_regime)
        .then(pl.lit("no_regime"))
        .when(within_single & within_annual)
        .then(pl.lit("within"))
        .when(single_item & within_annual)
        .then(pl.lit("single_item_full"))
        .when(~within_single)
        .then(pl.lit("single_over"))
        .otherwise(pl.lit("annual_over"))
    )
    return (
        frame.with_columns(channel.alias("channel"), reason.alias("cbec_reason"))
        .with_columns(
            pl.when(pl.col("channel") == "cbec")
            .then(pl.col("cbec_factor"))
            .otherwise(1.0)
            .alias("factor"),
            pl.when(pl.col("channel").is_in(["cbec", "cbec_full"]))
            .then(prior + p)
            .otherwise(prior)
            .alias("annual_after_minor"),
        )
        .drop("cbec_factor", "single_item_ok", "_before")
    )


def reason_text(value: str = "value_minor", before: str = "annual_before_minor") -> pl.Expr:
    """The words for ``cbec_reason`` (built only where shown: text is costly per row)."""
    p, prior = pl.col(value), pl.col(before).fill_null(0)
    single, annual = yuan(pl.col("single_minor")), yuan(pl.col("annual_minor"))
    code = pl.col("cbec_reason")
    within = "): duty 0 %, VAT and consumption tax at 70 %"
    full = " but within the annual limit: CBEC channel at full duty, VAT and consumption tax"
    return (
        pl.when(code == "requested_general")
        .then(pl.lit("general trade requested (customs_mode)"))
        .when(code == "no_regime")
        .then(pl.lit("no CBEC retail import regime in force on the date: general trade"))
        .when(code == "within")
        .then(
            pl.concat_str(
                pl.lit("within the CBEC limits (single <= "),
                single,
                pl.lit(", annual <= "),
                annual,
                pl.lit(within),
            )
        )
        .when(code == "single_item_full")
        .then(
            pl.concat_str(
                pl.lit("single-item order of "),
                yuan(p),
                pl.lit(" over the single-transaction limit "),
                single,
                pl.lit(full),
            )
        )
        .when(code == "single_over")
        .then(
            pl.concat_str(
                pl.lit("single-transaction limit "),
                single,
                pl.lit(" exceeded ("),
                yuan(p),
                pl.lit("): general trade at full rates"),
            )
        )
        .when(code == "annual_over")
        .then(
            pl.concat_str(
                pl.lit("annual limit "),
                annual,
                pl.lit(" exceeded ("),
                yuan(prior),
                pl.lit(" before + "),
                yuan(p),
                pl.lit("): general trade at full rates"),
            )
        )
    )
