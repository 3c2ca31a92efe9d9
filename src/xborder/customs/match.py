"""The three-document match (三单对碰) against the declaration list, as one columnar kernel.

Each order's CEB311 order, CEB411 payment, CEB511 waybill and CEB621 list are joined on
``orderNo`` and checked by the named rules below; the result per order is ``matched``,
``mismatch`` or ``incomplete`` (a document is missing), with every problem as
``{rule, field, expected, actual}``. One order and a million go through the same code.

Rules: ``paid_total`` (acturalPaid = goodsValue + freight + taxTotal - discount),
``payment_amount`` (order acturalPaid = payment amountPaid), ``consignee`` (order vs waybill),
``link`` (missing or duplicated documents, payTransactionId, logisticsCode + logisticsNo,
ebpCode / ebcCode), ``buyer_identity`` (list vs order), ``payer_is_buyer`` (payment vs order
buyer), ``format`` (codes and lengths), ``limits`` (the CBEC decision of ``cbec_china``),
``hs_code`` (list gcode whose 6-digit prefix is not an HS 2022 subheading).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from xborder.customs.cbec_china import reason_text, with_cbec_decision
from xborder.customs.regimes import in_force
from xborder.refdata import hs_subheadings

ORDER_FIELDS = (
    "orderNo",
    "ebpCode",
    "ebcCode",
    "goodsValue",
    "freight",
    "discount",
    "taxTotal",
    "acturalPaid",
    "currency",
    "buyerName",
    "buyerIdType",
    "buyerIdNumber",
    "buyerTelephone",
    "consignee",
    "consigneeTelephone",
    "consigneeAddress",
    "payCode",
    "payTransactionId",
)
PAYMENT_FIELDS = (
    "orderNo",
    "payCode",
    "payTransactionId",
    "amountPaid",
    "currency",
    "payerIdType",
    "payerIdNumber",
    "payerName",
)
WAYBILL_FIELDS = (
    "orderNo",
    "logisticsCode",
    "logisticsNo",
    "freight",
    "insuredFee",
    "currency",
    "consignee",
    "consigneeTelephone",
    "consigneeAddress",
)
LIST_FIELDS = (
    "orderNo",
    "ebpCode",
    "ebcCode",
    "logisticsCode",
    "logisticsNo",
    "buyerIdType",
    "buyerIdNumber",
    "buyerName",
    "buyerTelephone",
    "freight",
    "insuredFee",
    "currency",
)
LIST_LINE_FIELDS = ("orderNo", "gnum", "gcode", "qty", "totalPrice")
PROBLEM_SCHEMA = {
    "orderNo": pl.String,
    "rule": pl.String,
    "field": pl.String,
    "expected": pl.String,
    "actual": pl.String,
}
RULES = (
    "paid_total",
    "payment_amount",
    "consignee",
    "link",
    "buyer_identity",
    "payer_is_buyer",
    "format",
    "limits",
    "hs_code",
)
CURRENCY_RMB = "142"  # GACC currency code list: 142 = RMB (CNY)
_AMOUNT = r"^\d{1,13}(\.\d{1,2})?$"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # GB 11643-1999, ISO 7064 MOD 11-2
_WEIGHTS = np.array(_ID_WEIGHTS, dtype=np.int64)
_CHECKS = np.array(list(_ID_CHECK))


@dataclass(frozen=True, slots=True)
class Documents:
    """The four document kinds as frames of strings (CEB field names)."""

    orders: pl.DataFrame
    payments: pl.DataFrame
    waybills: pl.DataFrame
    lists: pl.DataFrame
    list_lines: pl.DataFrame


def _frame(records: Iterable[Mapping[str, Any]], fields: tuple[str, ...]) -> pl.DataFrame:
    rows = [[None if r.get(f) is None else str(r.get(f)) for f in fields] for r in records]
    return pl.DataFrame(rows, schema={f: pl.String for f in fields}, orient="row")


def documents(
    orders: Iterable[Mapping[str, Any]],
    payments: Iterable[Mapping[str, Any]],
    waybills: Iterable[Mapping[str, Any]],
    lists: Iterable[Mapping[str, Any]],
) -> Documents:
    """Documents from parsed records (CEB XML or JSON lines); list goods come from ``lines``."""
    lists = list(lists)
    lines = [
        {**line, "orderNo": rec.get("orderNo")} for rec in lists for line in rec.get("lines") or []
    ]
    return Documents(
        _frame(orders, ORDER_FIELDS),
        _frame(payments, PAYMENT_FIELDS),
        _frame(waybills, WAYBILL_FIELDS),
        _frame(lists, LIST_FIELDS),
        _frame(lines, LIST_LINE_FIELDS),
    )


def _fen(column: str) -> pl.Expr:
    """Decimal text (yuan, <= 13 digits, <= 2 decimals) as integer fen; null when malformed.

    Exact: the pattern bounds the value below 10^15 fen, where float64 holds every fen and
    rounding the scaled float recovers the integer.
    """
    text = pl.col(column)
    fen = (text.cast(pl.Float64, strict=False) * 100).round().cast(pl.Int64)
    return pl.when(text.str.contains(_AMOUNT)).then(fen)


def resident_id_ok(ids: pl.Series) -> pl.Series:
    """GB 11643 check digit of each ID (null -> False); the weighted digit sum runs in NumPy."""
    text = ids.fill_null("")
    shaped = text.str.contains(r"^\d{17}[\dX]$")
    number = text.str.slice(0, 17).cast(pl.Int64, strict=False).fill_null(0).to_numpy()
    powers = 10 ** np.arange(16, -1, -1, dtype=np.int64)
    total = ((number[:, None] // powers) % 10 * _WEIGHTS).sum(axis=1)
    check = pl.Series(_CHECKS[total % 11])
    return (shaped & (text.str.slice(17, 1) == check)).alias(ids.name)


def _prefixed(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    return frame.rename({c: f"{prefix}{c}" for c in frame.columns if c != "orderNo"})


@dataclass(frozen=True, slots=True)
class Check:
    rule: str
    field: str
    bad: pl.Expr
    expected: pl.Expr
    actual: pl.Expr


def _eq(rule: str, field: str, left: str, right: str, when: pl.Expr) -> Check:
    """``right`` must equal ``left`` where both documents are present."""
    return Check(
        rule, field, when & pl.col(left).ne_missing(pl.col(right)), pl.col(left), pl.col(right)
    )


def _format(field: str, column: str, ok: pl.Expr, expected: str, present: pl.Expr) -> Check:
    return Check("format", field, present & ~ok.fill_null(False), pl.lit(expected), pl.col(column))


def _checks() -> list[Check]:
    has_o, has_p = pl.col("_o").fill_null(False), pl.col("_p").fill_null(False)
    has_w, has_l = pl.col("_w").fill_null(False), pl.col("_l").fill_null(False)
    missing = [
        Check("link", doc, ~flag, pl.lit("present"), pl.lit("missing"))
        for doc, flag in (
            ("CEB311 order", has_o),
            ("CEB411 payment", has_p),
            ("CEB511 waybill", has_w),
            ("CEB621 list", has_l),
        )
    ]
    duplicates = [
        Check(
            "link",
            f"{doc} orderNo",
            pl.col(f"_{k}n").fill_null(1) > 1,
            pl.lit("one document"),
            pl.format("{} documents", pl.col(f"_{k}n")),
        )
        for doc, k in (("CEB311", "o"), ("CEB411", "p"), ("CEB511", "w"), ("CEB621", "l"))
    ]
    paid = pl.col("o_goods") + pl.col("o_freight_f") + pl.col("o_tax") - pl.col("o_discount_f")
    amounts_ok = pl.all_horizontal(
        pl.col(c).is_not_null()
        for c in ("o_goods", "o_freight_f", "o_tax", "o_discount_f", "o_paid")
    )
    fmt_present = [
        (
            "orderNo",
            "orderNo",
            pl.col("orderNo").str.len_chars().is_between(1, 60),
            "1-60 characters",
            pl.lit(True),
        ),
        (
            "CEB311.currency",
            "o_currency",
            pl.col("o_currency") == CURRENCY_RMB,
            CURRENCY_RMB,
            has_o,
        ),
        (
            "CEB411.currency",
            "p_currency",
            pl.col("p_currency") == CURRENCY_RMB,
            CURRENCY_RMB,
            has_p,
        ),
        (
            "CEB511.currency",
            "w_currency",
            pl.col("w_currency") == CURRENCY_RMB,
            CURRENCY_RMB,
            has_w,
        ),
        (
            "CEB621.currency",
            "l_currency",
            pl.col("l_currency") == CURRENCY_RMB,
            CURRENCY_RMB,
            has_l,
        ),
        (
            "CEB311.buyerIdType",
            "o_buyerIdType",
            pl.col("o_buyerIdType") == "1",
            "1 (resident identity card)",
            has_o,
        ),
        (
            "CEB621.buyerIdType",
            "l_buyerIdType",
            pl.col("l_buyerIdType") == "1",
            "1 (resident identity card)",
            has_l,
        ),
        (
            "CEB311.buyerIdNumber",
            "o_buyerIdNumber",
            pl.col("_o_id_ok"),
            "18-character resident ID with a valid check digit",
            has_o,
        ),
        (
            "CEB311.ebpCode",
            "o_ebpCode",
            pl.col("o_ebpCode").str.contains(r"^[0-9A-Z]{10}$"),
            "10-character customs registration code",
            has_o,
        ),
        (
            "CEB311.ebcCode",
            "o_ebcCode",
            pl.col("o_ebcCode").str.contains(r"^[0-9A-Z]{10}$"),
            "10-character customs registration code",
            has_o,
        ),
        (
            "CEB511.logisticsNo",
            "w_logisticsNo",
            pl.col("w_logisticsNo").str.len_chars().is_between(1, 60),
            "1-60 characters",
            has_w,
        ),
        (
            "CEB411.payTransactionId",
            "p_payTransactionId",
            pl.col("p_payTransactionId").str.len_chars().is_between(1, 60),
            "1-60 characters",
            has_p,
        ),
        (
            "CEB311.acturalPaid",
            "o_acturalPaid",
            pl.col("o_paid").is_not_null(),
            "amount with <= 2 decimals",
            has_o,
        ),
        (
            "CEB311.goodsValue",
            "o_goodsValue",
            pl.col("o_goods").is_not_null(),
            "amount with <= 2 decimals",
            has_o,
        ),
        (
            "CEB311.freight",
            "o_freight",
            pl.col("o_freight_f").is_not_null(),
            "amount with <= 2 decimals",
            has_o,
        ),
        (
            "CEB311.taxTotal",
            "o_taxTotal",
            pl.col("o_tax").is_not_null(),
            "amount with <= 2 decimals",
            has_o,
        ),
        (
            "CEB311.discount",
            "o_discount",
            pl.col("o_discount_f").is_not_null(),
            "amount with <= 2 decimals",
            has_o,
        ),
        (
            "CEB411.amountPaid",
            "p_amountPaid",
            pl.col("p_paid").is_not_null(),
            "amount with <= 2 decimals",
            has_p,
        ),
    ]
    return [
        *missing,
        *duplicates,
        _eq(
            "link",
            "payTransactionId",
            "o_payTransactionId",
            "p_payTransactionId",
            has_o & has_p & pl.col("o_payTransactionId").fill_null("").ne(""),
        ),
        _eq("link", "logisticsCode", "w_logisticsCode", "l_logisticsCode", has_w & has_l),
        _eq("link", "logisticsNo", "w_logisticsNo", "l_logisticsNo", has_w & has_l),
        _eq("link", "ebpCode", "o_ebpCode", "l_ebpCode", has_o & has_l),
        _eq("link", "ebcCode", "o_ebcCode", "l_ebcCode", has_o & has_l),
        Check(
            "paid_total",
            "acturalPaid",
            has_o & amounts_ok & (paid != pl.col("o_paid")),
            pl.format("{} (goodsValue + freight + taxTotal - discount)", _yuan_text(paid)),
            pl.col("o_acturalPaid"),
        ),
        Check(
            "payment_amount",
            "amountPaid",
            has_o & has_p & (pl.col("o_paid") != pl.col("p_paid")).fill_null(False),
            pl.col("o_acturalPaid"),
            pl.col("p_amountPaid"),
        ),
        _eq("consignee", "consignee", "o_consignee", "w_consignee", has_o & has_w),
        _eq(
            "consignee",
            "consigneeTelephone",
            "o_consigneeTelephone",
            "w_consigneeTelephone",
            has_o & has_w,
        ),
        _eq(
            "consignee",
            "consigneeAddress",
            "o_consigneeAddress",
            "w_consigneeAddress",
            has_o & has_w,
        ),
        _eq("buyer_identity", "buyerName", "o_buyerName", "l_buyerName", has_o & has_l),
        _eq("buyer_identity", "buyerIdType", "o_buyerIdType", "l_buyerIdType", has_o & has_l),
        _eq("buyer_identity", "buyerIdNumber", "o_buyerIdNumber", "l_buyerIdNumber", has_o & has_l),
        _eq(
            "buyer_identity",
            "buyerTelephone",
            "o_buyerTelephone",
            "l_buyerTelephone",
            has_o & has_l,
        ),
        _eq("payer_is_buyer", "payerName", "o_buyerName", "p_payerName", has_o & has_p),
        _eq("payer_is_buyer", "payerIdNumber", "o_buyerIdNumber", "p_payerIdNumber", has_o & has_p),
        *(
            _format(field, col, ok, expected, present)
            for field, col, ok, expected, present in fmt_present
        ),
        Check(
            "limits",
            "acturalPaid",
            has_o & pl.col("channel").is_not_null() & (pl.col("channel") != "cbec"),
            pl.format(
                "within {} per transaction and {} per year",
                _yuan_text(pl.col("single_minor")),
                _yuan_text(pl.col("annual_minor")),
            ),
            reason_text(),
        ),
    ]


def _yuan_text(minor: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        (minor // 100).cast(pl.String), pl.lit("."), (minor % 100).cast(pl.String).str.zfill(2)
    )


def match_documents(
    docs: Documents,
    on: date,
    annual_before: pl.DataFrame | None = None,
    *,
    payer_check: bool = True,
) -> pl.DataFrame:
    """One row per orderNo: ``status`` and ``problems`` (a list of structs), plus the CBEC
    ``channel`` and the value ``value_minor`` (fen) the limits were checked with.

    ``annual_before``: (``buyerIdNumber``, ``total_minor``) the buyer's CBEC total this year before
    the batch; within the batch the buyer's earlier orders (in input order) add to it.
    """
    keys = docs.orders.select("orderNo").filter(pl.col("orderNo").is_not_null())
    keys = (
        keys.unique(maintain_order=True)
        if keys.get_column("orderNo").is_duplicated().any()
        else keys
    )
    order_keys = keys.get_column("orderNo")
    orphans = (
        pl.concat(
            [
                d.select("orderNo").join(keys, on="orderNo", how="anti")
                for d in (docs.payments, docs.waybills, docs.lists)
                if not (d.height == keys.height and d.get_column("orderNo").equals(order_keys))
            ]
            + [keys.clear()]
        )
        .filter(pl.col("orderNo").is_not_null())
        .unique(maintain_order=True)
    )
    keys = pl.concat([keys, orphans])
    frames = {"o": docs.orders, "p": docs.payments, "w": docs.waybills, "l": docs.lists}
    joined = keys
    key_column = keys.get_column("orderNo")
    for k, frame in frames.items():
        if frame.height == keys.height and frame.get_column("orderNo").equals(key_column):
            # Aligned documents (one row per order, same order): columns side by side, no join.
            joined = joined.hstack(
                _prefixed(frame, f"{k}_")
                .drop("orderNo")
                .with_columns(pl.lit(True).alias(f"_{k}"), pl.lit(1, pl.UInt32).alias(f"_{k}n"))
            )
            continue
        first = frame.filter(pl.col("orderNo").is_not_null())
        if first.get_column("orderNo").is_duplicated().any():
            counts = frame.group_by("orderNo").agg(pl.len().alias(f"_{k}n"))
            first = first.unique("orderNo", keep="first", maintain_order=True).join(
                counts, on="orderNo", how="left"
            )
        else:  # the common case: skip the count join
            first = first.with_columns(pl.lit(1, pl.UInt32).alias(f"_{k}n"))
        joined = joined.join(
            _prefixed(first, f"{k}_")
            .rename({f"{k}__{k}n": f"_{k}n"})
            .with_columns(pl.lit(True).alias(f"_{k}")),
            on="orderNo",
            how="left",
            maintain_order="left",
        )
    joined = joined.with_columns(
        _fen("o_goodsValue").alias("o_goods"),
        _fen("o_freight").alias("o_freight_f"),
        _fen("o_taxTotal").alias("o_tax"),
        pl.when(pl.col("o_discount").fill_null("") == "")
        .then(pl.lit(0, pl.Int64))
        .otherwise(_fen("o_discount"))
        .alias("o_discount_f"),
        _fen("o_acturalPaid").alias("o_paid"),
        _fen("p_amountPaid").alias("p_paid"),
        pl.coalesce(_fen("l_insuredFee"), _fen("w_insuredFee"), pl.lit(0, pl.Int64)).alias(
            "_insured"
        ),
    ).with_columns(
        (pl.col("o_goods") + pl.col("o_freight_f") + pl.col("_insured")).alias("value_minor"),
        pl.lit(on).alias("date"),
        pl.lit(None, pl.String).alias("customs_mode"),
    )
    joined = _with_qty(joined, docs.list_lines, on)
    before = (
        annual_before
        if annual_before is not None
        else pl.DataFrame(schema={"buyerIdNumber": pl.String, "total_minor": pl.Int64})
    )
    if before.is_empty():
        joined = joined.with_columns(pl.lit(0, pl.Int64).alias("_stored"))
    else:
        joined = joined.join(
            before.rename({"buyerIdNumber": "o_buyerIdNumber", "total_minor": "_stored"}),
            on="o_buyerIdNumber",
            how="left",
            maintain_order="left",
        )
    earlier = pl.lit(0, pl.Int64)
    if joined.get_column("o_buyerIdNumber").drop_nulls().is_duplicated().any():
        value = pl.col("value_minor").fill_null(0)
        earlier = value.cum_sum().over("o_buyerIdNumber") - value
    joined = joined.with_columns(
        (pl.col("_stored").fill_null(0) + earlier).alias("annual_before_minor"),
    )
    joined = with_cbec_decision(joined.with_columns(pl.col("value_minor")), value="value_minor")
    joined = joined.with_columns(
        pl.when(pl.col("value_minor").is_not_null()).then(pl.col("channel")).alias("channel")
    )

    joined = joined.with_columns(
        resident_id_ok(joined.get_column("o_buyerIdNumber")).alias("_o_id_ok")
    )
    checks = [c for c in _checks() if payer_check or c.rule != "payer_is_buyer"]
    # Every rule's mask in one parallel pass; problems are built only for the few flagged rows.
    masks = joined.select([c.bad.fill_null(False).alias(f"_bad{i}") for i, c in enumerate(checks)])
    flagged_rows = masks.select(pl.any_horizontal(pl.all())).to_series()
    flagged = pl.concat([joined, masks], how="horizontal").filter(flagged_rows)
    problems = pl.concat(
        [
            flagged.filter(pl.col(f"_bad{i}")).select(
                "orderNo",
                pl.lit(c.rule).alias("rule"),
                pl.lit(c.field).alias("field"),
                c.expected.cast(pl.String).alias("expected"),
                c.actual.cast(pl.String).alias("actual"),
            )
            for i, c in enumerate(checks)
        ]
        + [_hs_problems(docs.list_lines)],
        how="vertical",
    )
    grouped = problems.group_by("orderNo", maintain_order=True).agg(
        pl.struct("rule", "field", "expected", "actual").alias("problems"),
        ((pl.col("rule") == "link") & (pl.col("actual") == "missing")).any().alias("_incomplete"),
    )
    return (
        joined.select(
            "orderNo", "channel", "value_minor", "annual_before_minor", "annual_after_minor"
        )
        .join(grouped, on="orderNo", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_incomplete").fill_null(False))
            .then(pl.lit("incomplete"))
            .when(pl.col("problems").is_not_null())
            .then(pl.lit("mismatch"))
            .otherwise(pl.lit("matched"))
            .alias("status"),
        )
        .drop("_incomplete")
        .select(
            "orderNo",
            "status",
            "problems",
            "channel",
            "value_minor",
            "annual_before_minor",
            "annual_after_minor",
        )
    )


def _with_qty(joined: pl.DataFrame, lines: pl.DataFrame, on: date) -> pl.DataFrame:
    """Articles per order from the list's goods, needed only where the value passes the single-
    transaction limit in force (the single-item rule), so only those orders are counted."""
    rule = in_force("CN", "cbec", on)
    keys = joined.select("orderNo", "value_minor")
    over = (
        keys.filter(pl.col("value_minor") > int(str(rule.params["single_minor"])))
        if rule is not None
        else keys.clear()
    )
    if over.is_empty():
        return joined.with_columns(pl.lit(0, pl.Int64).alias("qty_total"))
    qty = (
        lines.join(over, on="orderNo", how="semi")
        .group_by("orderNo")
        .agg(pl.col("qty").cast(pl.Float64, strict=False).sum().cast(pl.Int64).alias("qty_total"))
    )
    counted = keys.select("orderNo").join(qty, on="orderNo", how="left", maintain_order="left")
    return joined.with_columns(counted.get_column("qty_total").fill_null(0))


def _hs_problems(lines: pl.DataFrame) -> pl.DataFrame:
    known = pl.Series(sorted(hs_subheadings()), dtype=pl.String)
    code = pl.col("gcode").fill_null("")
    bad = ~code.str.contains(r"^\d{10}$") | ~code.str.slice(0, 6).is_in(known.implode())
    return lines.filter(bad).select(
        "orderNo",
        pl.lit("hs_code").alias("rule"),
        pl.format("lines[{}].gcode", pl.col("gnum").fill_null("?")).alias("field"),
        pl.lit("10-digit code whose first 6 digits are an HS 2022 subheading").alias("expected"),
        pl.col("gcode").alias("actual"),
    )


def result_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Match rows as JSON-ready dicts."""
    return [
        {
            "orderNo": r["orderNo"],
            "status": r["status"],
            "channel": r["channel"],
            "problems": r["problems"] or [],
        }
        for r in frame.iter_rows(named=True)
    ]
