"""The demo's customs step: declare the day's orders, show landed cost and the three-document match.

Orders into the modelled regimes (China CBEC import, EU, UK, US) are quoted and declared through
``declare_orders`` (China CBEC amounts count into each buyer's annual total). For the China
import orders, the CEB311 order, CEB411 payment, CEB511 waybill and CEB621 list are built from the
stored order (the buyer pays the order total; the waybill carries the consignee) and reconciled
by the match kernel, so the summary shows which orders clear and why the others do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import select

from xborder.customs.match import Documents
from xborder.domain.money import Money
from xborder.services.customs import declare_orders, match
from xborder.store.schema import orders, parties
from xborder.store.schema_customs import customs_declarations
from xborder.store.uow import UnitOfWork

if TYPE_CHECKING:
    from xborder.services.demo import DemoContext, DemoSection

CHUNK = 5_000
LOGISTICS_CODE = "4403960001"  # the demo's CBEC logistics company registration (illustrative)


def _declarations(uow: UnitOfWork, ids: Sequence[int]) -> pl.DataFrame:
    d = customs_declarations.c
    o = orders.c
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), CHUNK):
        query = (
            select(
                d.order_id,
                d.order_no,
                d.regime,
                d.destination,
                d.channel,
                d.tax_currency,
                d.customs_value_minor,
                d.total_tax_minor,
                d.landed_minor,
                o.seller_id,
                o.platform_id,
                o.goods_minor,
                o.freight_minor,
                o.insurance_minor,
                o.discount_minor,
                o.buyer_name,
                o.buyer_telephone,
                o.buyer_id_type,
                o.buyer_id_number,
                o.consignee_name,
                o.consignee_telephone,
                o.consignee_line1,
                o.consignee_city,
                o.line_count,
            )
            .join(orders, orders.c.id == d.order_id)
            .where(d.order_id.in_(list(ids[start : start + CHUNK])))
        )
        rows.extend(tuple(r) for r in uow.connection.execute(query))
    names = [
        "order_id",
        "order_no",
        "regime",
        "destination",
        "channel",
        "tax_currency",
        "value_minor",
        "tax_minor",
        "landed_minor",
        "seller_id",
        "platform_id",
        "goods_minor",
        "freight_minor",
        "insurance_minor",
        "discount_minor",
        "buyer_name",
        "buyer_telephone",
        "buyer_id_type",
        "buyer_id_number",
        "consignee_name",
        "consignee_telephone",
        "consignee_line1",
        "consignee_city",
        "line_count",
    ]
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


def _yuan(column: str) -> pl.Expr:
    minor = pl.col(column)
    return pl.concat_str(
        (minor // 100).cast(pl.String), pl.lit("."), (minor % 100).cast(pl.String).str.zfill(2)
    )


def cn_documents(frame: pl.DataFrame, codes: dict[str, str], lines: pl.DataFrame) -> Documents:
    """The four CEB documents of China import orders, built from the stored orders."""
    fallback = codes.get("platform-cbec-cn", "")
    cn = frame.with_columns(
        pl.col("platform_id").replace_strict(codes, default=fallback).alias("ebp"),
        pl.col("seller_id")
        .replace_strict(codes, default=None)
        .fill_null(pl.col("platform_id").replace_strict(codes, default=fallback))
        .alias("ebc"),
        (
            pl.col("goods_minor")
            + pl.col("freight_minor")
            + pl.col("tax_minor")
            - pl.col("discount_minor")
        ).alias("paid"),
        pl.concat_str(pl.lit("PAY"), pl.col("order_id").cast(pl.String)).alias("tx"),
        pl.concat_str(pl.lit("YT"), pl.col("order_id").cast(pl.String).str.zfill(12)).alias(
            "waybill"
        ),
        pl.concat_str(pl.col("consignee_line1"), pl.lit(", "), pl.col("consignee_city")).alias(
            "addr"
        ),
    )
    order_docs = cn.select(
        pl.col("order_no").alias("orderNo"),
        pl.col("ebp").alias("ebpCode"),
        pl.col("ebc").alias("ebcCode"),
        _yuan("goods_minor").alias("goodsValue"),
        _yuan("freight_minor").alias("freight"),
        _yuan("discount_minor").alias("discount"),
        _yuan("tax_minor").alias("taxTotal"),
        _yuan("paid").alias("acturalPaid"),
        pl.lit("142").alias("currency"),
        pl.col("buyer_name").alias("buyerName"),
        pl.col("buyer_id_type").alias("buyerIdType"),
        pl.col("buyer_id_number").alias("buyerIdNumber"),
        pl.col("buyer_telephone").alias("buyerTelephone"),
        pl.col("consignee_name").alias("consignee"),
        pl.col("consignee_telephone").alias("consigneeTelephone"),
        pl.col("addr").alias("consigneeAddress"),
        pl.col("ebp").alias("payCode"),
        pl.col("tx").alias("payTransactionId"),
    )
    payment_docs = cn.select(
        pl.col("order_no").alias("orderNo"),
        pl.col("ebp").alias("payCode"),
        pl.col("tx").alias("payTransactionId"),
        _yuan("paid").alias("amountPaid"),
        pl.lit("142").alias("currency"),
        pl.col("buyer_id_type").alias("payerIdType"),
        pl.col("buyer_id_number").alias("payerIdNumber"),
        pl.col("buyer_name").alias("payerName"),
    )
    waybill_docs = cn.select(
        pl.col("order_no").alias("orderNo"),
        pl.lit(LOGISTICS_CODE).alias("logisticsCode"),
        pl.col("waybill").alias("logisticsNo"),
        _yuan("freight_minor").alias("freight"),
        _yuan("insurance_minor").alias("insuredFee"),
        pl.lit("142").alias("currency"),
        pl.col("consignee_name").alias("consignee"),
        pl.col("consignee_telephone").alias("consigneeTelephone"),
        pl.col("addr").alias("consigneeAddress"),
    )
    list_docs = cn.select(
        pl.col("order_no").alias("orderNo"),
        pl.col("ebp").alias("ebpCode"),
        pl.col("ebc").alias("ebcCode"),
        pl.lit(LOGISTICS_CODE).alias("logisticsCode"),
        pl.col("waybill").alias("logisticsNo"),
        pl.col("buyer_id_type").alias("buyerIdType"),
        pl.col("buyer_id_number").alias("buyerIdNumber"),
        pl.col("buyer_name").alias("buyerName"),
        pl.col("buyer_telephone").alias("buyerTelephone"),
        _yuan("freight_minor").alias("freight"),
        _yuan("insurance_minor").alias("insuredFee"),
        pl.lit("142").alias("currency"),
    )
    list_lines = lines.join(cn.select("order_id", "order_no"), on="order_id").select(
        pl.col("order_no").alias("orderNo"),
        pl.col("line_no").cast(pl.String).alias("gnum"),
        pl.concat_str(pl.col("hs_code").str.slice(0, 6), pl.lit("0000")).alias("gcode"),
        pl.col("qty").cast(pl.String).alias("qty"),
        _yuan("total_minor").alias("totalPrice"),
    )
    return Documents(order_docs, payment_docs, waybill_docs, list_docs, list_lines)


def step_customs(ctx: DemoContext) -> DemoSection:
    """Declare the day's orders; landed cost per destination; the China three-document match."""
    from xborder.services.demo import DemoSection

    report = declare_orders(ctx.engine, ctx.order_ids, on=ctx.day)
    with UnitOfWork(ctx.engine) as uow:
        decl = _declarations(uow, ctx.order_ids)
        codes = {
            str(r[0]): str(r[1])
            for r in uow.connection.execute(
                select(parties.c.id, parties.c.customs_code).where(
                    parties.c.customs_code.is_not(None)
                )
            )
        }
        cn_ids = decl.filter(pl.col("regime") == "CN").get_column("order_id").to_list()
        _, line_rows = uow.orders.load(cn_ids) if cn_ids else (None, None)
    summary_rows = (
        decl.group_by("destination", "regime", "channel", "tax_currency")
        .agg(
            pl.len().alias("orders"),
            pl.col("value_minor").sum(),
            pl.col("tax_minor").sum(),
            pl.col("landed_minor").mean().round().cast(pl.Int64).alias("mean_landed_minor"),
        )
        .sort(["orders", "destination", "channel"], descending=[True, False, False])
    )
    table = [
        {
            "destination": r["destination"],
            "channel": r["channel"],
            "orders": r["orders"],
            "customs_value": str(Money.from_minor(int(r["value_minor"]), r["tax_currency"])),
            "duties_and_taxes": str(Money.from_minor(int(r["tax_minor"]), r["tax_currency"])),
            "mean_landed_cost": str(
                Money.from_minor(int(r["mean_landed_minor"]), r["tax_currency"])
            ),
        }
        for r in summary_rows.iter_rows(named=True)
    ]
    statuses: dict[str, int] = {}
    examples: list[str] = []
    if cn_ids and line_rows is not None:
        lines = line_rows.with_columns(
            (pl.col("qty") * pl.col("unit_price_minor")).alias("total_minor")
        )
        docs = cn_documents(decl.filter(pl.col("regime") == "CN"), codes, lines)
        results = match(docs, ctx.day)
        for r in results:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            if r["problems"] and len(examples) < 3:
                p = r["problems"][0]
                examples.append(f"{r['orderNo']}: {p['rule']} {p['field']}: {p['actual']}")
    ctx.facts["customs_declared"] = report.declared
    summary: dict[str, Any] = {
        "declared": report.declared,
        "already_declared": report.already,
        "not_modelled": report.not_modelled,
        "errors": len(report.errors),
        "cn_match": ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "none",
        "examples": " | ".join(examples) or "-",
    }
    return DemoSection("Customs: landed cost and three-document match", summary, table)
