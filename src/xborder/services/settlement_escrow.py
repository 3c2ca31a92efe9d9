"""The escrow lifecycle of orders: capture, DDP tax, delivery, confirmation, refunds.

Each use case is ``verb(uow, command) -> PostResult``: it opens the unit of work (joining the
caller's when nested), posts through ``settlement_posting.post`` and commits. The steps they share
with the lifecycle settlement (``capture``, ``withhold``, ``remit``, ``deliver``, ``confirm``,
``refund``) work inside an open unit of work on frames that carry an ``at`` column, so each
transfer can be dated by its own milestone. Times default to the clock's now; a time after it is
refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.domain.money import Money, to_decimal
from xborder.services.settlement_posting import Posted, PostResult, facts, post, stamp
from xborder.settlement import escrow
from xborder.settlement import sla as sla_rules
from xborder.settlement.escrow import EscrowTerms
from xborder.settlement.milestones import describe
from xborder.settlement.sla import SlaTerms
from xborder.store.uow import UnitOfWork

STEP_STATE = {  # transfer id suffix -> state column
    "capture": "captured", "tax": "tax", "tax.remit": "tax_remitted", "tax.void": "tax_voided",
    "release": "release", "release.post": "released", "release.void": "release_voided",
    "fee": "fee", "fee.post": "fee_posted", "fee.void": "fee_voided", "refund": "refunded",
    "refund.seller": "seller_refunded", "refund.fee": "fee_refunded",
}  # fmt: skip
UTC_TIME = pl.Datetime("us", "UTC")


# --- queries --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EscrowState:
    order_ids: Sequence[int]


@dataclass(frozen=True, slots=True)
class OrderTransfers:
    order_ids: Sequence[int]


def escrow_state(uow: UnitOfWork, query: EscrowState) -> pl.DataFrame:
    """Per order, from its transfers: what was captured, reserved, paid out, refunded, and
    ``held`` (still in escrow, posted) and ``free`` (held and not reserved)."""
    with uow:
        return state(uow, query.order_ids)


def order_transfers(uow: UnitOfWork, query: OrderTransfers) -> pl.DataFrame:
    """Every transfer of these orders, in posting order (accounts as party:purpose:CCY), each
    with a plain description."""
    with uow:
        ids = list(dict.fromkeys(int(i) for i in query.order_ids))
        moves = uow.ledger.order_transfers(ids)
        return moves.with_columns(describe(moves, facts(uow).order_facts(ids)))


def state(uow: UnitOfWork, order_ids: Sequence[int]) -> pl.DataFrame:
    steps = uow.ledger.escrow_steps(list(order_ids)).filter(pl.col("step").is_in(list(STEP_STATE)))
    wide = steps.with_columns(pl.col("step").replace_strict(STEP_STATE).alias("state")).pivot(
        on="state", index="order_id", values="amount", aggregate_function="sum"
    )
    delivered = steps.filter(pl.col("step") == "release").select(
        "order_id", pl.col("at").alias("delivered_at")
    )
    present = steps.group_by("order_id").agg(
        [(pl.col("step") == step).any().alias(f"has_{col}") for step, col in STEP_STATE.items()]
    )
    base = pl.DataFrame({"order_id": list(order_ids)}, schema={"order_id": pl.Int64})
    frame = (
        base.join(wide, on="order_id", how="left")
        .join(present, on="order_id", how="left")
        .join(delivered, on="order_id", how="left")
    )
    for col in STEP_STATE.values():
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Int64).alias(col))
    frame = frame.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) for c in STEP_STATE.values()]
        + [pl.col(f"has_{c}").fill_null(False) for c in STEP_STATE.values()]
    )
    has = {c: pl.col(f"has_{c}") for c in STEP_STATE.values()}
    return frame.with_columns(
        (has["tax"] & ~has["tax_remitted"] & ~has["tax_voided"]).alias("tax_open"),
        (has["release"] & ~has["released"] & ~has["release_voided"]).alias("release_open"),
        (has["fee"] & ~has["fee_posted"] & ~has["fee_voided"]).alias("fee_open"),
        (pl.col("captured") - pl.col("tax_remitted") - pl.col("released") - pl.col("fee_posted")
         - pl.col("refunded")).alias("held"),
    ).with_columns(
        (pl.col("held")
         - pl.when(pl.col("tax_open")).then(pl.col("tax")).otherwise(0)
         - pl.when(pl.col("release_open")).then(pl.col("release")).otherwise(0)
         - pl.when(pl.col("fee_open")).then(pl.col("fee")).otherwise(0)).alias("free"),
    ).drop([f"has_{c}" for c in STEP_STATE.values()]).sort("order_id")  # fmt: skip


def orders_money(uow: UnitOfWork, order_ids: Sequence[int]) -> pl.DataFrame:
    """Seller, currency, incoterm, goods, due, paid, promised_by, status of existing orders."""
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    frame = uow.ledger.order_money(ids)
    if frame.height != len(ids):
        missing = sorted(set(ids) - set(frame.get_column("order_id").to_list()))
        raise InvalidValue("order_id", "no such order", missing[0])
    return frame


def _dated(order_ids: Sequence[int], at: datetime) -> pl.DataFrame:
    return pl.DataFrame(
        {"order_id": list(dict.fromkeys(int(i) for i in order_ids)), "at": at},
        schema={"order_id": pl.Int64, "at": UTC_TIME},
    )


# --- the steps, inside an open unit of work (frames carry ``at``) --------------------------------
def capture(uow: UnitOfWork, terms: EscrowTerms, paid: pl.DataFrame) -> Posted:
    """``paid``: order_id, currency, paid (minor units), at."""
    return post(uow, escrow.capture(paid, terms, pl.col("at")))


def withhold(uow: UnitOfWork, terms: EscrowTerms, taxes: pl.DataFrame) -> Posted:
    """DDP: reserve duties and taxes in escrow. ``taxes``: order_id, tax (minor), authority, at."""
    orders = orders_money(uow, taxes.get_column("order_id").to_list())
    ids = taxes.join(orders.select("order_id"), on="order_id").get_column("order_id").to_list()
    return withhold_known(uow, terms, taxes, orders, state(uow, ids))


def withhold_known(
    uow: UnitOfWork, terms: EscrowTerms, taxes: pl.DataFrame, orders: pl.DataFrame,
    escrow_now: pl.DataFrame,
) -> Posted:  # fmt: skip
    """``withhold`` with the orders' money (``orders_money``) and escrow (``state``) already
    read by the caller, in the same transaction and with nothing posted since: the lifecycle
    settlement reads both once per run instead of once per step."""
    frame = taxes.select("order_id", "tax", "authority", "at").join(orders, on="order_id")
    dap = frame.filter(pl.col("incoterm") != "DDP")
    if dap.height:
        raise InvalidValue(f"order {dap['order_id'][0]}.incoterm",
                           "taxes are withheld only under DDP (under DAP the buyer pays them)",
                           dap["incoterm"][0])  # fmt: skip
    held = escrow_now.select("order_id", pl.col("tax").alias("withheld"), "free")
    short = frame.join(held, on="order_id").filter(
        (pl.col("withheld") == 0) & (pl.col("tax") > pl.col("free"))
    )
    if short.height:
        raise InvalidValue(f"order {short['order_id'][0]}.tax", "exceeds what the order holds in "
                           f"escrow ({short['free'][0]} minor units free)",
                           short["tax"][0])  # fmt: skip
    return post(uow, escrow.withhold_tax(frame, terms, pl.col("at")))


def remit(uow: UnitOfWork, orders: pl.DataFrame) -> Posted:
    """Clearance: pay the withheld taxes to the authority (``orders``: order_id, at)."""
    held = state(uow, orders.get_column("order_id").to_list()).filter(
        pl.col("tax_open") | (pl.col("tax_remitted") > 0)
    )
    frame = held.select("order_id").join(orders.select("order_id", "at"), on="order_id")
    return post(uow, escrow.remit_tax(frame, pl.col("at")))


def deliver(
    uow: UnitOfWork, terms: EscrowTerms, deliveries: pl.DataFrame, skip_unpaid: bool = False
) -> Posted:
    """Reserve the seller's release and the fee, dated at the delivery (``deliveries``:
    order_id, delivered_at). An order with nothing captured in escrow is refused, or with
    ``skip_unpaid`` left alone (it has nothing to release)."""
    ids = deliveries.get_column("order_id").to_list()
    frame = (
        orders_money(uow, ids)
        .join(state(uow, ids).drop("delivered_at"), on="order_id")
        .join(deliveries.select("order_id", "delivered_at"), on="order_id")
    )
    uncaptured = frame.filter(pl.col("captured") == 0)
    if skip_unpaid:
        frame = frame.filter(pl.col("captured") > 0)
    elif uncaptured.height:
        raise InvalidValue(f"order {uncaptured['order_id'][0]}", "has nothing in escrow to release")
    return post(uow, escrow.deliver(
        frame.filter(pl.col("release") == 0).select(
            "order_id", "seller", "currency", "goods", pl.col("free").alias("held"), "delivered_at"
        ), terms,
    ))  # fmt: skip


def penalize(uow: UnitOfWork, sla: SlaTerms, late: pl.DataFrame) -> Posted:
    """Lateness penalties, dated at the delivery (``late``: order_id, seller, currency,
    promised_by, delivered_at, responsible)."""
    return post(uow, penalty_transfers(sla, late))


def penalty_transfers(sla: SlaTerms, late: pl.DataFrame) -> pl.DataFrame:
    """The transfers ``penalize`` posts (the lifecycle settlement posts them in one batch with
    the next step's)."""
    frame = late.filter(pl.col("responsible").is_not_null()).select(
        "order_id", "seller", "currency", "promised_by", "responsible", "delivered_at",
        pl.col("delivered_at").cast(UTC_TIME).dt.date().alias("delivered_on"),
    )  # fmt: skip
    return sla_rules.late_penalties(frame, sla, pl.col("delivered_at"))


def confirm(uow: UnitOfWork, order_ids: Sequence[int], at: datetime, auto: bool = False) -> Posted:
    """Post the reserved release and fee of the orders that still have them open."""
    open_ = state(uow, order_ids).filter(pl.col("release_open") | pl.col("fee_open"))
    frame = open_.select("order_id", pl.col("release_open").alias("has_release"),
                         pl.col("fee_open").alias("has_fee"))  # fmt: skip
    return post(uow, escrow.confirm(frame, at, auto))


def confirm_due(uow: UnitOfWork, terms: EscrowTerms, now: datetime) -> Posted:
    """Confirm every delivery reserved at least the terms' N days before ``now``."""
    return post(uow, confirm_due_transfers(uow, terms, now))


def confirm_due_transfers(uow: UnitOfWork, terms: EscrowTerms, now: datetime) -> pl.DataFrame:
    """The transfers ``confirm_due`` posts, read from the reservations stored now."""
    due = uow.ledger.open_pendings(
        ("escrow.release", "escrow.fee"), now - timedelta(days=terms.auto_confirm_days)
    )  # the open reservations themselves: no need to rebuild the orders' escrow state
    step = pl.col("id").str.split_exact(":", 1).struct.field("field_1")
    frame = due.group_by("order_id").agg(
        (step == "release").any().alias("has_release"), (step == "fee").any().alias("has_fee")
    ).sort("order_id")  # fmt: skip
    return escrow.confirm(frame, now, auto=True)


def refund(uow: UnitOfWork, terms: EscrowTerms, dated: pl.DataFrame, reason: str) -> Posted:
    """Void the reservations and return what the orders hold (``dated``: order_id, at).

    A return after the money was released (``refund.return`` only) is corrected with new
    transfers: the seller's proceeds and the platform fee go back to the buyer (remitted tax
    stays with the authority). Orders that never shipped or were lost cannot be released."""
    ids = dated.get_column("order_id").to_list()
    orders = orders_money(uow, ids).select("order_id", "seller", "currency")
    held = state(uow, ids).join(dated.select("order_id", "at"), on="order_id")
    released = held.filter(pl.col("released") > 0)
    if released.height and reason != "refund.return":
        raise InvalidValue(
            f"order {released['order_id'][0]}",
            f"was already released to the seller: {reason} does not apply",
        )
    frame = held.join(orders, on="order_id").select(
        "order_id", "currency", "at",
        pl.col("held").alias("refundable"),
        pl.col("release_open").alias("void_release"), pl.col("fee_open").alias("void_fee"),
        pl.col("tax_open").alias("void_tax"),
    ).filter(pl.col("refundable") > 0)  # fmt: skip
    parts = [escrow.refund(frame, terms, reason, pl.col("at"))]
    if released.height:
        parts.append(escrow.refund_released(
            released.join(orders, on="order_id").filter(pl.col("seller_refunded") == 0),
            terms, pl.col("at"),
        ))  # fmt: skip
    return post(uow, pl.concat(parts))


# --- use cases ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CapturePaid:
    terms: EscrowTerms
    order_ids: Sequence[int]
    at: datetime | None = None


def capture_paid(uow: UnitOfWork, command: CapturePaid) -> PostResult:
    """Capture into escrow what was paid for each fully paid order (others are skipped)."""
    with uow:
        at = stamp(uow, command.at)
        paid = orders_money(uow, command.order_ids).filter(
            (pl.col("paid") >= pl.col("due")) & (pl.col("paid") > 0)
        )
        result = capture(uow, command.terms, paid.with_columns(pl.lit(at).alias("at"))).result
        uow.commit()
        return result


@dataclass(frozen=True, slots=True)
class WithholdTaxes:
    terms: EscrowTerms
    taxes: pl.DataFrame  # order_id, tax (minor units of the order's currency), authority
    at: datetime | None = None


def withhold_taxes(uow: UnitOfWork, command: WithholdTaxes) -> PostResult:
    """DDP: reserve duties and taxes in escrow, to be remitted at clearance."""
    with uow:
        at = stamp(uow, command.at)
        result = withhold(uow, command.terms, command.taxes.with_columns(pl.lit(at).alias("at")))
        uow.commit()
        return result.result


@dataclass(frozen=True, slots=True)
class WithholdTax:
    terms: EscrowTerms
    order_id: int
    amount: str  # a decimal amount in the order's currency
    authority: str
    at: datetime | None = None


def withhold_tax_for(uow: UnitOfWork, command: WithholdTax) -> PostResult:
    """One order's DDP tax given as a decimal amount in the order's currency."""
    with uow:
        currency = orders_money(uow, [command.order_id]).get_column("currency")[0]
        money = Money(to_decimal(command.amount, "amount"), currency)
        if money.amount <= 0:
            raise InvalidValue("amount", "must be positive", command.amount)
        if money.rounded().amount != money.amount:
            raise InvalidValue("amount", f"has more decimal places than {currency} allows",
                               command.amount)  # fmt: skip
        taxes = pl.DataFrame({"order_id": [command.order_id], "tax": [money.minor],
                              "authority": [command.authority]})  # fmt: skip
        result = withhold_taxes(uow, WithholdTaxes(command.terms, taxes, command.at))
        uow.commit()
        return result


@dataclass(frozen=True, slots=True)
class RemitTaxes:
    order_ids: Sequence[int]
    at: datetime | None = None


def remit_taxes(uow: UnitOfWork, command: RemitTaxes) -> PostResult:
    """Clearance: pay the withheld taxes to the authority."""
    with uow:
        result = remit(uow, _dated(command.order_ids, stamp(uow, command.at))).result
        uow.commit()
        return result


@dataclass(frozen=True, slots=True)
class MarkDelivered:
    terms: EscrowTerms
    deliveries: pl.DataFrame  # order_id, delivered_at (null: now), optionally responsible
    sla: SlaTerms | None = None


def mark_delivered(uow: UnitOfWork, command: MarkDelivered) -> PostResult:
    """Delivered orders: reserve the seller's release and the fee; charge lateness penalties to
    ``responsible`` (the party whose SLA covers the delivery, e.g. the trace record's custodian),
    each dated at its delivery."""
    with uow:
        now = uow.clock.now()
        deliveries = command.deliveries.with_columns(
            pl.col("delivered_at").cast(UTC_TIME).fill_null(now)
        )
        late = deliveries.filter(pl.col("delivered_at") > now)
        if late.height:
            raise InvalidValue(f"order {late['order_id'][0]}.delivered_at",
                               f"is after the clock's now ({now.isoformat()})",
                               late["delivered_at"][0].isoformat())  # fmt: skip
        result = deliver(uow, command.terms, deliveries).result
        if command.sla is not None and "responsible" in deliveries.columns:
            orders = orders_money(uow, deliveries.get_column("order_id").to_list())
            frame = orders.select("order_id", "seller", "currency", "promised_by").join(
                deliveries.select("order_id", "delivered_at", "responsible"), on="order_id"
            )
            result = result + penalize(uow, command.sla, frame).result
        uow.commit()
        return result


@dataclass(frozen=True, slots=True)
class ConfirmDelivery:
    order_ids: Sequence[int]
    at: datetime | None = None


def confirm_delivery(uow: UnitOfWork, command: ConfirmDelivery) -> PostResult:
    """The buyer confirms: release the seller's proceeds and the platform fee."""
    with uow:
        result = confirm(uow, command.order_ids, stamp(uow, command.at)).result
        uow.commit()
        return result


@dataclass(frozen=True, slots=True)
class AutoConfirm:
    terms: EscrowTerms
    now: datetime | None = None  # default: the clock's now


def auto_confirm(uow: UnitOfWork, command: AutoConfirm) -> PostResult:
    """Confirm every delivery older than the terms' N days that the buyer has not confirmed."""
    with uow:
        result = confirm_due(uow, command.terms, stamp(uow, command.now, "now")).result
        uow.commit()
        return result


@dataclass(frozen=True, slots=True)
class RefundOrders:
    terms: EscrowTerms
    order_ids: Sequence[int]
    reason: str = "refund.return"  # refund.return | refund.unshipped | refund.loss
    at: datetime | None = None


def refund_orders(uow: UnitOfWork, command: RefundOrders) -> PostResult:
    """Refund orders: void the reservations and return everything the order holds in escrow
    (after a release, ``refund.return`` corrects it from the seller and the fee)."""
    with uow:
        dated = _dated(command.order_ids, stamp(uow, command.at))
        result = refund(uow, command.terms, dated, command.reason).result
        uow.commit()
        return result
