"""The four China CBEC import documents of stored, declared orders, for the three-document match.

Order (CEB311) and list (CEB621) come from the stored order and its declaration; the payment
(CEB411) from the order's stored payments, so an unpaid order has no payment document and the
match says so instead of trusting an invented one; the waybill (CEB511) from the order's parcel
(its tracking number, its line-haul carrier's customs code) once it is packed.

Where the store does not know a value yet, the documents carry an illustrative one, named as such:
an order without a parcel gets an illustrative waybill number and logistics code.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from xborder.customs.match import Documents

# A CBEC logistics company registration used where the order has no parcel (and so no carrier)
# yet: illustrative, not a real company's code.
ILLUSTRATIVE_LOGISTICS_CODE = "4403960001"
# Prefix of the illustrative waybill number of an order without a parcel.
ILLUSTRATIVE_WAYBILL_PREFIX = "YT"
# GACC currency code list (CEB messages carry these, not ISO 4217): 142 = RMB. CBEC import is
# settled in RMB, so any other currency stays as its ISO code and the match's format rule flags it.
CEB_CURRENCIES = {"CNY": "142"}


def _amount(column: str) -> pl.Expr:
    """Minor units (a 2-decimal currency) as CEB decimal text."""
    minor = pl.col(column)
    return pl.concat_str(
        (minor // 100).cast(pl.String), pl.lit("."), (minor % 100).cast(pl.String).str.zfill(2)
    )


def _ceb_currency(column: str) -> pl.Expr:
    """The GACC code of an ISO currency; any other stays ISO (the match flags it)."""
    return pl.col(column).replace_strict(
        CEB_CURRENCIES, default=pl.col(column), return_dtype=pl.String
    )


def _payments_per_order(payments: pl.DataFrame, codes: Mapping[str, str]) -> pl.DataFrame:
    """One payment document per paid order: the first payment's provider and transaction, the
    sum of what was paid. ``payCode`` is the provider's customs code when it has one."""
    return payments.group_by("order_id", maintain_order=True).agg(
        pl.col("provider")
        .replace_strict(dict(codes), default=pl.col("provider"), return_dtype=pl.String)
        .first()
        .alias("pay_code"),
        pl.col("transaction_id").first().alias("pay_tx"),
        pl.col("payer_name").first(),
        pl.col("payer_id_number").first(),
        pl.col("amount_minor").sum().alias("amount_paid"),
        pl.col("currency").first().alias("pay_currency"),
    )


def cn_documents(
    declared: pl.DataFrame,
    codes: Mapping[str, str],
    lines: pl.DataFrame,
    payments: pl.DataFrame,
) -> Documents:
    """The CEB311/411/511/621 documents (and the list's goods) of China import orders.

    ``declared``: ``CustomsRepository.declared_orders`` rows; ``codes``: party id -> customs
    code; ``lines``: the orders' lines; ``payments``: their stored payments.
    """
    codes = dict(codes)
    paid = _payments_per_order(payments, codes)
    cn = declared.join(paid, on="order_id", how="left", maintain_order="left").with_columns(
        pl.col("platform_id")
        .replace_strict(codes, default=None, return_dtype=pl.String)
        .alias("ebp"),
        pl.col("carrier_id")
        .replace_strict(codes, default=None, return_dtype=pl.String)
        .alias("carrier_code"),
    )
    cn = cn.with_columns(
        # a seller without a customs registration files through the platform
        pl.col("seller_id")
        .replace_strict(codes, default=None, return_dtype=pl.String)
        .fill_null(pl.col("ebp"))
        .alias("ebc"),
        (
            pl.col("goods_minor")
            + pl.col("freight_minor")
            + pl.col("total_tax_minor")
            - pl.col("discount_minor")
        ).alias("actual_paid"),
        pl.coalesce(
            pl.col("tracking_no"),
            pl.concat_str(
                pl.lit(ILLUSTRATIVE_WAYBILL_PREFIX),
                pl.col("order_id").cast(pl.String).str.zfill(12),
            ),
        ).alias("waybill"),
        pl.when(pl.col("tracking_no").is_not_null())
        .then(pl.col("carrier_code"))
        .fill_null(pl.lit(ILLUSTRATIVE_LOGISTICS_CODE))
        .alias("logistics_code"),
        pl.concat_str(pl.col("consignee_line1"), pl.lit(", "), pl.col("consignee_city")).alias(
            "addr"
        ),
        _ceb_currency("currency").alias("ceb_currency"),
    )
    order_docs = cn.select(
        pl.col("order_no").alias("orderNo"),
        pl.col("ebp").alias("ebpCode"),
        pl.col("ebc").alias("ebcCode"),
        _amount("goods_minor").alias("goodsValue"),
        _amount("freight_minor").alias("freight"),
        _amount("discount_minor").alias("discount"),
        _amount("total_tax_minor").alias("taxTotal"),
        _amount("actual_paid").alias("acturalPaid"),
        pl.col("ceb_currency").alias("currency"),
        pl.col("buyer_name").alias("buyerName"),
        pl.col("buyer_id_type").alias("buyerIdType"),
        pl.col("buyer_id_number").alias("buyerIdNumber"),
        pl.col("buyer_telephone").alias("buyerTelephone"),
        pl.col("consignee_name").alias("consignee"),
        pl.col("consignee_telephone").alias("consigneeTelephone"),
        pl.col("addr").alias("consigneeAddress"),
        pl.col("pay_code").alias("payCode"),
        pl.col("pay_tx").alias("payTransactionId"),
    )
    payment_docs = cn.filter(pl.col("pay_tx").is_not_null()).select(
        pl.col("order_no").alias("orderNo"),
        pl.col("pay_code").alias("payCode"),
        pl.col("pay_tx").alias("payTransactionId"),
        _amount("amount_paid").alias("amountPaid"),
        _ceb_currency("pay_currency").alias("currency"),
        pl.when(pl.col("payer_id_number").is_not_null()).then(pl.lit("1")).alias("payerIdType"),
        pl.col("payer_id_number").alias("payerIdNumber"),
        pl.col("payer_name").alias("payerName"),
    )
    waybill_docs = cn.select(
        pl.col("order_no").alias("orderNo"),
        pl.col("logistics_code").alias("logisticsCode"),
        pl.col("waybill").alias("logisticsNo"),
        _amount("freight_minor").alias("freight"),
        _amount("insurance_minor").alias("insuredFee"),
        pl.col("ceb_currency").alias("currency"),
        pl.col("consignee_name").alias("consignee"),
        pl.col("consignee_telephone").alias("consigneeTelephone"),
        pl.col("addr").alias("consigneeAddress"),
    )
    list_docs = cn.select(
        pl.col("order_no").alias("orderNo"),
        pl.col("ebp").alias("ebpCode"),
        pl.col("ebc").alias("ebcCode"),
        pl.col("logistics_code").alias("logisticsCode"),
        pl.col("waybill").alias("logisticsNo"),
        pl.col("buyer_id_type").alias("buyerIdType"),
        pl.col("buyer_id_number").alias("buyerIdNumber"),
        pl.col("buyer_name").alias("buyerName"),
        pl.col("buyer_telephone").alias("buyerTelephone"),
        _amount("freight_minor").alias("freight"),
        _amount("insurance_minor").alias("insuredFee"),
        pl.col("ceb_currency").alias("currency"),
    )
    list_lines = (
        lines.join(cn.select("order_id", "order_no"), on="order_id")
        .with_columns((pl.col("qty") * pl.col("unit_price_minor")).alias("total_minor"))
        .select(
            pl.col("order_no").alias("orderNo"),
            pl.col("line_no").cast(pl.String).alias("gnum"),
            pl.concat_str(pl.col("hs_code").str.slice(0, 6), pl.lit("0000")).alias("gcode"),
            pl.col("qty").cast(pl.String).alias("qty"),
            _amount("total_minor").alias("totalPrice"),
        )
    )
    return Documents(order_docs, payment_docs, waybill_docs, list_docs, list_lines)
