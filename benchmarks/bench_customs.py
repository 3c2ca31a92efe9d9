"""Customs quote + three-document match in bulk, against a per-row loop over the same code path.

Goal (DESIGN.md): >= 100,000 declarations/s and >= 20x a per-row Python loop.
Measured: ``quote_frames`` (the landed-cost kernel) on N generated orders (CN, DE, FR, GB, US; 1-3
lines each) plus ``match_documents`` (the three-document match) on N generated CEB311/411/511/621
document sets (about 2 % with a deliberate defect). Setup (generating the frames) is not timed.
Baseline: a Python loop calling the same two kernels one order at a time, which is how a per-order
service would use them; it is timed on a sample (``--sample``) and its rate extrapolated to N.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xborder.customs.match import Documents, match_documents
from xborder.customs.quote_kernel import LINE_SCHEMA, ORDER_SCHEMA, quote_frames

DAY = date(2026, 7, 15)
DESTS = np.array(["CN", "DE", "FR", "GB", "US"])
CURRENCY = {"CN": "CNY", "DE": "EUR", "FR": "EUR", "GB": "GBP", "US": "USD"}
HS = np.array(
    [
        "330499",
        "610910",
        "620342",
        "851830",
        "847130",
        "950300",
        "210690",
        "190110",
        "392490",
        "691200",
        "940360",
        "940540",
        "630231",
        "910211",
        "711719",
        "640411",
    ]
)
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))


def quote_input(n: int, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    dest = rng.choice(DESTS, n, p=[0.4, 0.15, 0.1, 0.15, 0.2])
    lines_per = rng.integers(1, 4, n)
    rec = np.repeat(np.arange(n), lines_per)
    orders = (
        pl.DataFrame(
            {
                "rec": np.arange(n),
                "date": np.full(n, np.datetime64(DAY)),
                "origin": rng.choice(np.array(["CN", "JP", "DE", "AU"]), n),
                "destination": dest,
                "incoterm": rng.choice(np.array(["DDP", "DAP"]), n),
                "currency": pl.Series(dest).replace_strict(CURRENCY),
                "fx": np.full(n, np.nan),
                "freight_minor": rng.integers(0, 3000, n),
                "insurance_minor": np.zeros(n, dtype=np.int64),
                "customs_mode": pl.Series([None] * n, dtype=pl.String),
                "annual_before_minor": rng.integers(0, 2_000_000, n),
            }
        )
        .with_columns(pl.col("fx").fill_nan(None))
        .cast(ORDER_SCHEMA)
    )
    lines = pl.DataFrame(
        {
            "rec": rec,
            "line": np.arange(rec.size) - np.repeat(np.cumsum(lines_per) - lines_per, lines_per),
            "hs_code": rng.choice(HS, rec.size),
            "qty": rng.integers(1, 3, rec.size),
            "unit_minor": (rng.lognormal(8.5, 1.0, rec.size)).astype(np.int64) + 1,
            "duty_rate": pl.Series([None] * rec.size, dtype=pl.Float64),
            "vat_rate": pl.Series([None] * rec.size, dtype=pl.Float64),
            "ct_rate": pl.Series([None] * rec.size, dtype=pl.Float64),
            "high_end": rng.random(rec.size) < 0.05,
        }
    ).cast(LINE_SCHEMA)
    return orders, lines


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    digits = rng.integers(0, 10, (n, 17))
    digits[:, 0] = rng.integers(1, 7, n)
    check = ID_CHECK[(digits * ID_WEIGHTS).sum(axis=1) % 11]
    body = np.char.zfill((digits * 10 ** np.arange(16, -1, -1)).sum(axis=1).astype(str), 17)
    return np.char.add(body, check)


def _yuan(minor: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        (minor // 100).cast(pl.String), pl.lit("."), (minor % 100).cast(pl.String).str.zfill(2)
    )


def match_input(n: int, rng: np.random.Generator) -> Documents:
    goods = rng.integers(1000, 400_000, n)
    freight = rng.integers(0, 3000, n)
    tax = (goods + freight) * 91 // 1000
    paid = goods + freight + tax
    defect = rng.random(n) < 0.02
    base = pl.DataFrame(
        {
            "i": np.arange(n),
            "goods": goods,
            "freight": freight,
            "tax": tax,
            "paid": paid,
            "paid_pay": np.where(defect, paid + 1, paid),
            "id": _ids(rng, n),
            "name": np.char.add("Buyer ", rng.integers(0, 10**6, n).astype(str)),
        }
    ).with_columns(
        pl.concat_str(pl.lit("O"), pl.col("i").cast(pl.String).str.zfill(10)).alias("orderNo"),
        pl.concat_str(pl.lit("T"), pl.col("i").cast(pl.String)).alias("tx"),
        pl.concat_str(pl.lit("YT"), pl.col("i").cast(pl.String)).alias("waybill"),
        pl.concat_str(pl.lit("138"), (pl.col("i") % 10**8).cast(pl.String).str.zfill(8)).alias(
            "tel"
        ),
        pl.concat_str(pl.col("i").cast(pl.String), pl.lit(" Renmin Road, Zhengzhou")).alias("addr"),
    )
    lit = pl.lit
    orders = base.select(
        "orderNo",
        lit("4101969905").alias("ebpCode"),
        lit("3307969903").alias("ebcCode"),
        _yuan(pl.col("goods")).alias("goodsValue"),
        _yuan(pl.col("freight")).alias("freight"),
        lit("0").alias("discount"),
        _yuan(pl.col("tax")).alias("taxTotal"),
        _yuan(pl.col("paid")).alias("acturalPaid"),
        lit("142").alias("currency"),
        pl.col("name").alias("buyerName"),
        lit("1").alias("buyerIdType"),
        pl.col("id").alias("buyerIdNumber"),
        pl.col("tel").alias("buyerTelephone"),
        pl.col("name").alias("consignee"),
        pl.col("tel").alias("consigneeTelephone"),
        pl.col("addr").alias("consigneeAddress"),
        lit("4403969901").alias("payCode"),
        pl.col("tx").alias("payTransactionId"),
    )
    payments = base.select(
        "orderNo",
        lit("4403969901").alias("payCode"),
        pl.col("tx").alias("payTransactionId"),
        _yuan(pl.col("paid_pay")).alias("amountPaid"),
        lit("142").alias("currency"),
        lit("1").alias("payerIdType"),
        pl.col("id").alias("payerIdNumber"),
        pl.col("name").alias("payerName"),
    )
    waybills = base.select(
        "orderNo",
        lit("4403960001").alias("logisticsCode"),
        pl.col("waybill").alias("logisticsNo"),
        _yuan(pl.col("freight")).alias("freight"),
        lit("0").alias("insuredFee"),
        lit("142").alias("currency"),
        pl.col("name").alias("consignee"),
        pl.col("tel").alias("consigneeTelephone"),
        pl.col("addr").alias("consigneeAddress"),
    )
    lists = base.select(
        "orderNo",
        lit("4101969905").alias("ebpCode"),
        lit("3307969903").alias("ebcCode"),
        lit("4403960001").alias("logisticsCode"),
        pl.col("waybill").alias("logisticsNo"),
        lit("1").alias("buyerIdType"),
        pl.col("id").alias("buyerIdNumber"),
        pl.col("name").alias("buyerName"),
        pl.col("tel").alias("buyerTelephone"),
        _yuan(pl.col("freight")).alias("freight"),
        lit("0").alias("insuredFee"),
        lit("142").alias("currency"),
    )
    list_lines = base.select(
        "orderNo",
        lit("1").alias("gnum"),
        lit("3304990099").alias("gcode"),
        lit("1").alias("qty"),
        _yuan(pl.col("goods")).alias("totalPrice"),
    )
    return Documents(orders, payments, waybills, lists, list_lines)


def _slice_docs(docs: Documents, i: int) -> Documents:
    return Documents(
        *(
            getattr(docs, f).slice(i, 1)
            for f in ("orders", "payments", "waybills", "lists", "list_lines")
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the bulk run")
    parser.add_argument(
        "--sample", type=int, default=2_000, help="orders timed in the per-row loop"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.orders

    t0 = time.perf_counter()
    orders, lines = quote_input(n, rng)
    docs = match_input(n, rng)
    setup = time.perf_counter() - t0
    print(
        f"setup (not timed): {n:,} orders, {lines.height:,} lines, {n:,} CEB document sets "
        f"in {setup:.1f} s"
    )

    load_before = os.getloadavg()[0]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    quoted = quote_frames(orders, lines)
    t_quote = time.perf_counter() - t0
    t0 = time.perf_counter()
    matched = match_documents(docs, DAY)
    t_match = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    total = t_quote + t_match
    errors = quoted.orders.get_column("error").is_not_null().sum()
    status = matched.get_column("status").value_counts(sort=True)
    print(f"bulk quote : {t_quote:7.2f} s  {n / t_quote:12,.0f} orders/s  (errors: {errors})")
    print(
        f"bulk match : {t_match:7.2f} s  {n / t_match:12,.0f} orders/s  {dict(status.iter_rows())}"
    )
    bulk_rate = n / total
    print(
        f"bulk quote+match: {total:.2f} s = {bulk_rate:,.0f} declarations/s "
        f"(process CPU {cpu:.2f} s on {os.cpu_count()} cores; 1-min load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after: other work shares the machine)"
    )

    sample = min(args.sample, n)
    line_groups = lines.filter(pl.col("rec") < sample).partition_by("rec", as_dict=True)
    t0 = time.perf_counter()
    for i in range(sample):
        quote_frames(orders.slice(i, 1), line_groups[(i,)])
        match_documents(_slice_docs(docs, i), DAY)
    t_loop = time.perf_counter() - t0
    loop_rate = sample / t_loop
    print(
        f"per-row loop (same kernels, one order per call): {sample:,} orders in {t_loop:.2f} s "
        f"= {loop_rate:,.0f} declarations/s -> {n / loop_rate:,.0f} s extrapolated to {n:,}"
    )
    print(
        f"speed-up: {bulk_rate / loop_rate:,.0f}x  (goal >= 20x; goal >= 100,000 declarations/s: "
        f"{'met' if bulk_rate >= 100_000 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
