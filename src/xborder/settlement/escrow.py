"""The escrow lifecycle of orders as ledger transfers, columnar: a row per order in, transfers out.

Money flows (accounts ``party:purpose:CCY``; ``P`` the buyers' side, ``X`` the third-party
payment platform that holds the escrow):

1. capture: ``P:funds -> X:escrow`` what the buyer paid.
2. withhold (DDP): pending ``X:escrow -> <authority>:tax``; remit at clearance posts it; an order
   that never ships voids it.
3. delivered: pending ``X:escrow -> seller:proceeds`` (held less fee and tax) and pending
   ``X:escrow -> X:fees`` (the platform fee on the goods value). The buyer's confirmation, or the
   automatic confirmation N days after the delivered event, posts both; a return before that
   voids them and refunds.
4. partners (by contract rate card): ``seller:proceeds -> partner:receivable``, through the
   platform's FX accounts when the contract is in another currency. The seller owes its partners
   whether or not the buyer paid: an unpaid order's partner pay leaves the seller's proceeds
   negative (a payable to the platform), with no escrow movement.
5. refund: whatever the order still holds in escrow goes back, ``X:escrow -> P:funds``; a
   return after release is corrected from ``seller:proceeds`` and ``X:fees``.

Transfer ids are ``o<order>:<step>``, so replaying a step is a harmless retry (idempotent ledger).
Every function takes a frame of orders and returns a frame of transfers in the service's coded
schema; a single order is a one-row frame through the same code. ``at`` is one time for the whole
frame or an expression over it (each milestone dated by its own fact).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.settlement.ledger import CODED_SCHEMA, Kind, Purpose

When = datetime | pl.Expr  # one time for every row, or an expression over the frame


@dataclass(frozen=True, slots=True)
class EscrowTerms:
    """The platform's contract terms (parameters, not real-world facts: set per deployment)."""

    platform: str  # the third-party payment platform: holds the escrow, earns the fee
    buyers: str = "buyers"  # the buyers' side: where paid money comes from and refunds go
    fee_rate: Decimal = Decimal("0.05")  # of the goods value
    auto_confirm_days: int = 7  # buyer confirmation deemed given N days after delivery

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.fee_rate < Decimal(1):
            raise InvalidValue("fee_rate", "must be in [0, 1)", str(self.fee_rate))
        if self.auto_confirm_days < 0:
            raise InvalidValue("auto_confirm_days", "must be >= 0", self.auto_confirm_days)


def account(party: pl.Expr, purpose: Purpose, currency: pl.Expr | None = None) -> pl.Expr:
    """The account code ``party:purpose:CCY`` as an expression (currency: the row's)."""
    cur = pl.col("currency") if currency is None else currency
    return pl.concat_str(party, pl.lit(purpose.value), cur, separator=":")


def transfers_for(
    orders: pl.DataFrame, step: str, debit: pl.Expr | None, credit: pl.Expr | None,
    amount: pl.Expr, kind: Kind, code: str | pl.Expr, at: When, pending: str | None = None,
) -> pl.DataFrame:  # fmt: skip
    oid = pl.col("order_id").cast(pl.String)
    frame = orders.select(
        pl.concat_str(pl.lit("o"), oid, pl.lit(f":{step}")).alias("id"),
        (debit if debit is not None else pl.lit(None, pl.String)).alias("debit"),
        (credit if credit is not None else pl.lit(None, pl.String)).alias("credit"),
        amount.cast(pl.Int64).alias("amount"),
        (pl.col("currency") if "currency" in orders.columns else pl.lit(None, pl.String))
        .alias("currency"),
        pl.lit(kind.value).alias("kind"),
        (pl.concat_str(pl.lit("o"), oid, pl.lit(f":{pending}")) if pending
         else pl.lit(None, pl.String)).alias("pending_id"),
        (code if isinstance(code, pl.Expr) else pl.lit(code)).alias("code"),
        pl.col("order_id").cast(pl.Int64),
        (at if isinstance(at, pl.Expr) else pl.lit(at)).dt.convert_time_zone("UTC").alias("at"),
    )  # fmt: skip
    return frame.cast(CODED_SCHEMA)  # type: ignore[arg-type]


def _require(orders: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in orders.columns]
    if missing:
        raise InvalidValue(what, f"needs columns {missing}")


def capture(orders: pl.DataFrame, terms: EscrowTerms, at: When) -> pl.DataFrame:
    """``orders``: order_id, currency, paid (minor units)."""
    _require(orders, ("order_id", "currency", "paid"), "capture")
    bad = orders.filter(pl.col("paid") <= 0)
    if bad.height:
        raise InvalidValue(f"order {bad['order_id'][0]}.paid", "must be positive", bad["paid"][0])
    return transfers_for(orders, "capture", account(pl.lit(terms.buyers), Purpose.FUNDS),
                      account(pl.lit(terms.platform), Purpose.ESCROW), pl.col("paid"),
                      Kind.POSTED, "escrow.capture", at)  # fmt: skip


def withhold_tax(orders: pl.DataFrame, terms: EscrowTerms, at: When) -> pl.DataFrame:
    """DDP orders: order_id, currency, tax (minor), authority (party). Reserves it in escrow."""
    _require(orders, ("order_id", "currency", "tax", "authority"), "withhold_tax")
    orders = orders.filter(pl.col("tax") > 0)
    return transfers_for(orders, "tax", account(pl.lit(terms.platform), Purpose.ESCROW),
                      account(pl.col("authority"), Purpose.TAX), pl.col("tax"), Kind.PENDING,
                      "tax.withhold", at)  # fmt: skip


def remit_tax(orders: pl.DataFrame, at: When) -> pl.DataFrame:
    """Clearance: post the withheld tax to the authority (``orders``: order_id)."""
    return transfers_for(orders, "tax.remit", None, None, pl.lit(0), Kind.POST, "tax.remit", at,
                      pending="tax")  # fmt: skip


def fee(goods: pl.Expr, terms: EscrowTerms) -> pl.Expr:
    """Platform fee in minor units, half-up (integer arithmetic on the rate's exact decimal)."""
    num, den = terms.fee_rate.as_integer_ratio()
    return (goods * num * 2 + den) // (den * 2)


def deliver(orders: pl.DataFrame, terms: EscrowTerms) -> pl.DataFrame:
    """Delivered: reserve the seller's release and the fee, dated at the delivered event (the
    automatic confirmation counts from it). ``orders``: order_id, seller, currency, goods,
    held (minor units the order has free in escrow), delivered_at."""
    _require(orders, ("order_id", "seller", "currency", "goods", "held", "delivered_at"),
             "deliver")  # fmt: skip
    at = pl.col("delivered_at").cast(pl.Datetime("us", "UTC"))
    frame = orders.with_columns(pl.min_horizontal(fee(pl.col("goods"), terms), pl.col("held"))
                                .alias("fee"))  # fmt: skip
    release = transfers_for(frame.filter(pl.col("held") > pl.col("fee")), "release",
                         account(pl.lit(terms.platform), Purpose.ESCROW),
                         account(pl.col("seller"), Purpose.PROCEEDS),
                         pl.col("held") - pl.col("fee"), Kind.PENDING, "escrow.release",
                         at)  # fmt: skip
    fees = transfers_for(frame.filter(pl.col("fee") > 0), "fee",
                      account(pl.lit(terms.platform), Purpose.ESCROW),
                      account(pl.lit(terms.platform), Purpose.FEES), pl.col("fee"), Kind.PENDING,
                      "escrow.fee", at)  # fmt: skip
    return pl.concat([release, fees])


CONFIRM_CODES = ("escrow.confirm", "escrow.fee.post")  # the buyer confirmed
AUTO_CONFIRM_CODES = ("escrow.auto_confirm", "escrow.fee.auto")  # N days passed without a word


def confirm(orders: pl.DataFrame, at: When, auto: bool = False) -> pl.DataFrame:
    """Post the reserved release and fee (``orders``: order_id, has_release, has_fee). The ids
    are the same either way (one confirmation per order); the code says who confirmed."""
    release_code, fee_code = AUTO_CONFIRM_CODES if auto else CONFIRM_CODES
    posts = [
        transfers_for(orders.filter(pl.col(flag)), f"{step}.post", None, None, pl.lit(0), Kind.POST,
                      code, at, pending=step)
        for step, flag, code in (("release", "has_release", release_code),
                                 ("fee", "has_fee", fee_code))
    ]  # fmt: skip
    return pl.concat(posts)


def refund(orders: pl.DataFrame, terms: EscrowTerms, reason: str, at: When) -> pl.DataFrame:
    """Void what is still reserved and return what the order holds in escrow to the buyer.

    ``orders``: order_id, currency, refundable (minor units, after the voids), and booleans
    void_release, void_fee, void_tax for the reservations still pending."""
    _require(orders, ("order_id", "currency", "refundable", "void_release", "void_fee",
                      "void_tax"), "refund")  # fmt: skip
    voids = [
        transfers_for(orders.filter(pl.col(flag)), f"{step}.void", None, None, pl.lit(0), Kind.VOID,
                   f"{reason}.void", at, pending=step)
        for step, flag in (("release", "void_release"), ("fee", "void_fee"), ("tax", "void_tax"))
    ]  # fmt: skip
    back = transfers_for(orders.filter(pl.col("refundable") > 0), "refund",
                      account(pl.lit(terms.platform), Purpose.ESCROW),
                      account(pl.lit(terms.buyers), Purpose.FUNDS),
                      pl.col("refundable"), Kind.POSTED, reason, at)  # fmt: skip
    return pl.concat([*voids, back])


def refund_released(orders: pl.DataFrame, terms: EscrowTerms, at: When) -> pl.DataFrame:
    """A return after release: correcting transfers give the buyer back what the seller got and
    the fee (``orders``: order_id, seller, currency, released, fee_posted)."""
    _require(orders, ("order_id", "seller", "currency", "released", "fee_posted"),
             "refund_released")  # fmt: skip
    seller = transfers_for(orders.filter(pl.col("released") > 0), "refund.seller",
                           account(pl.col("seller"), Purpose.PROCEEDS),
                           account(pl.lit(terms.buyers), Purpose.FUNDS), pl.col("released"),
                           Kind.POSTED, "refund.return.seller", at)  # fmt: skip
    fees = transfers_for(orders.filter(pl.col("fee_posted") > 0), "refund.fee",
                         account(pl.lit(terms.platform), Purpose.FEES),
                         account(pl.lit(terms.buyers), Purpose.FUNDS), pl.col("fee_posted"),
                         Kind.POSTED, "refund.return.fee", at)  # fmt: skip
    return pl.concat([seller, fees])


def partner_payments(charges: pl.DataFrame, terms: EscrowTerms, at: When) -> pl.DataFrame:
    """Pay partners from the seller's proceeds by their contracts.

    ``charges``: order_id, seller, partner, role (lane/warehouse/last_mile), currency (the
    order's), amount (order currency, minor), partner_currency, partner_amount (minor). A charge
    in another currency goes through the platform's FX accounts: seller -> X:fx in the order's
    currency, X:fx -> partner in the contract's, so each currency still balances. Codes:
    ``partner.pay.<role>`` (to the partner) and ``partner.fx.<role>`` (into the FX account)."""
    _require(charges, ("order_id", "seller", "partner", "role", "currency", "amount",
                       "partner_currency", "partner_amount"), "partner_payments")  # fmt: skip
    charges = charges.filter(pl.col("partner_amount") > 0)
    code = pl.concat_str(pl.lit("partner.pay."), pl.col("role"))  # one code per role
    fx_code = pl.concat_str(pl.lit("partner.fx."), pl.col("role"))  # the leg into the FX account
    same = charges.filter(pl.col("currency") == pl.col("partner_currency"))
    other = charges.filter(pl.col("currency") != pl.col("partner_currency"))

    def step(suffix: str) -> pl.Expr:
        return pl.concat_str(pl.lit("pay."), pl.col("role"), pl.lit(suffix))

    direct = _with_ids(same, step(""), transfers_for(
        same, "x", account(pl.col("seller"), Purpose.PROCEEDS),
        account(pl.col("partner"), Purpose.RECEIVABLE), pl.col("amount"), Kind.POSTED, code,
        at))  # fmt: skip
    paid_in = other.filter(pl.col("amount") > 0)  # a charge worth less than a minor unit here
    into_fx = _with_ids(paid_in, step(".fx"), transfers_for(
        paid_in, "x", account(pl.col("seller"), Purpose.PROCEEDS),
        account(pl.lit(terms.platform), Purpose.FX), pl.col("amount"), Kind.POSTED, fx_code,
        at))  # fmt: skip
    out_fx = _with_ids(other, step(""), transfers_for(
        other.with_columns(pl.col("partner_currency").alias("currency")), "x",
        account(pl.lit(terms.platform), Purpose.FX), account(pl.col("partner"), Purpose.RECEIVABLE),
        pl.col("partner_amount"), Kind.POSTED, code, at))  # fmt: skip
    return pl.concat([direct, into_fx, out_fx])


def _with_ids(source: pl.DataFrame, step: pl.Expr, frame: pl.DataFrame) -> pl.DataFrame:
    ids = source.select(pl.concat_str(pl.lit("o"), pl.col("order_id").cast(pl.String),
                                      pl.lit(":"), step).alias("id"))  # fmt: skip
    return frame.with_columns(ids.get_column("id"))
