"""Settlement use cases: post transfers, statements, the escrow lifecycle, SLA charges, the split.

Each function runs inside the caller's unit of work (one transaction): ``with UnitOfWork(e) as
uow: post_transfers(uow, ...); uow.commit()``. A refused batch raises before anything is written,
and an error during the write rolls the whole transaction back, so no partial batch is ever stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from xborder.domain.errors import Conflict, InvalidValue
from xborder.domain.money import FxRate, FxTable, Money, currency_code, to_decimal
from xborder.domain.world import World
from xborder.settlement import escrow
from xborder.settlement import sla as sla_rules
from xborder.settlement.contracts import rate_card_charges
from xborder.settlement.escrow import EscrowTerms
from xborder.settlement.ledger import (
    CODED_SCHEMA,
    TRANSFER_COLUMNS,
    AccountKey,
    Transfer,
    check_batch,
)
from xborder.settlement.sla import SlaTerms
from xborder.store.schema import lanes
from xborder.store.settlement_repo import LedgerRepository
from xborder.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class PostResult:
    posted: int  # new transfers written
    existing: list[str] = field(default_factory=list)  # ids retried with the same content


def ledger(uow: UnitOfWork) -> LedgerRepository:
    return LedgerRepository(uow.connection)


def transfers_frame(transfers: Sequence[Transfer]) -> pl.DataFrame:
    """The columnar form of transfers (the single call and the bulk path share one kernel)."""
    rows = [
        (t.id, t.debit.code if t.debit else None, t.credit.code if t.credit else None, t.amount,
         t.currency, t.kind.value, t.pending_id, t.code, t.order_id,
         _utc(t.at, f"transfer {t.id}.at"))
        for t in transfers
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=CODED_SCHEMA, orient="row")


def post_transfers(uow: UnitOfWork, transfers: Sequence[Transfer]) -> PostResult:
    return post_frame(uow, transfers_frame(transfers))


def post_frame(uow: UnitOfWork, frame: pl.DataFrame) -> PostResult:
    """Check and post a batch (CODED_SCHEMA): all of it or, on any error, none of it."""
    if frame.height == 0:
        return PostResult(0)
    repo = ledger(uow)
    frame = frame.select(TRANSFER_COLUMNS).cast(CODED_SCHEMA)  # type: ignore[arg-type]
    codes = pl.concat([frame.get_column("debit"), frame.get_column("credit")]).drop_nulls().unique()
    keys = [_key(code) for code in codes.to_list()]
    cur = frame.filter(pl.col("currency").is_not_null()).get_column("currency").unique().to_list()
    for code in cur:
        currency_code(code, "transfer.currency")
    repo.open_accounts(keys, datetime.now(UTC))
    ids = repo.account_ids(keys).select("code", "account")
    batch = (
        frame.join(ids.rename({"code": "debit", "account": "d"}), on="debit", how="left",
                   maintain_order="left")
        .join(ids.rename({"code": "credit", "account": "c"}), on="credit", how="left",
              maintain_order="left")
        .with_columns(pl.col("d").alias("debit"), pl.col("c").alias("credit"))
        .select(TRANSFER_COLUMNS)
    )  # fmt: skip
    stored = repo.stored(batch.get_column("id").unique().to_list())
    pending_ids = batch.filter(pl.col("kind").is_in(["post", "void"])).get_column("pending_id")
    pendings = repo.pendings(pending_ids.drop_nulls().unique().to_list())
    touched = pl.concat([batch.get_column("debit"), batch.get_column("credit"),
                         pendings.get_column("debit"), pendings.get_column("credit")])  # fmt: skip
    accounts = repo.lock_balances(touched.drop_nulls().unique().to_list())
    result = check_batch(batch, accounts, stored, pendings)
    if result.accepted.height:
        try:
            repo.write(result.accepted, result.deltas)
        except IntegrityError as exc:  # a concurrent writer took an id or resolved a pending
            uow.rollback()
            raise Conflict(
                f"the batch collided with a concurrent one; retry it ({exc.orig})"
            ) from None
    return PostResult(result.accepted.height, result.existing)


def _key(code: str) -> AccountKey:
    key = AccountKey.parse(code)
    currency_code(key.currency, f"account {code}.currency")
    return key


def _utc(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidValue(field, "must be a datetime", value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- balances and statements ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StatementLine:
    account: str
    opening: Money
    debits: Money
    credits: Money
    closing: Money
    pending_out: Money
    pending_in: Money
    transfers: int


@dataclass(frozen=True, slots=True)
class Statement:
    party: str
    since: date | None
    until: date | None
    lines: list[StatementLine]
    entries: (
        pl.DataFrame
    )  # seq, id, at, code, order_id, account, counterparty, kind, amount (signed)


def balances(uow: UnitOfWork, party: str | None = None) -> pl.DataFrame:
    """Accounts with their posted balance (credit-positive) and pending sums, in minor units."""
    return (
        ledger(uow)
        .balances(party)
        .with_columns((pl.col("credits_posted") - pl.col("debits_posted")).alias("balance"))
    )


def statement(
    uow: UnitOfWork, party: str, since: date | None = None, until: date | None = None,
    with_entries: bool = False,
) -> Statement:  # fmt: skip
    """A party's accounts over ``[since, until)``: opening, movements and closing (summed in the
    store), and with ``with_entries`` every transfer, signed from the party's side."""
    if since is not None and until is not None and until <= since:
        raise InvalidValue("to", "must be after --from", until.isoformat())
    repo = ledger(uow)
    accounts = repo.balances(party)
    ids = accounts.get_column("account").to_list()
    start = _midnight(since) if since else None
    end = _midnight(until) if until else None
    opening = repo.sums_before(ids, start) if start and ids else {}
    sums = repo.period_sums(ids, start, end) if ids else {}
    lines: list[StatementLine] = []
    for acc in accounts.iter_rows(named=True):
        cur, aid = acc["currency"], acc["account"]
        debits, credits, count = sums[aid]
        first = opening.get(aid, 0)
        lines.append(StatementLine(
            f"{acc['party']}:{acc['purpose']}:{cur}", Money.from_minor(first, cur),
            Money.from_minor(debits, cur), Money.from_minor(credits, cur),
            Money.from_minor(first + credits - debits, cur),
            Money.from_minor(acc["debits_pending"], cur),
            Money.from_minor(acc["credits_pending"], cur), count,
        ))  # fmt: skip
    frame = pl.DataFrame()
    if with_entries and ids:
        frame = _entries(repo, ids, start, end)
    return Statement(party, since, until, lines, frame)


def _entries(
    repo: LedgerRepository, ids: list[int], start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    moves = repo.transfers(ids, since=start, until=end)
    names = repo.balances().select(
        "account", pl.concat_str("party", "purpose", "currency", separator=":").alias("name")
    )
    keep = ("seq", "id", "at", "code", "order_id", "kind", "currency")
    legs = pl.concat([  # one row per leg on the party's side: in (credit) and out (debit)
        moves.filter(pl.col("credit").is_in(ids)).select(
            *keep, pl.col("credit").alias("own"), pl.col("debit").alias("other"), "amount"),
        moves.filter(pl.col("debit").is_in(ids)).select(
            *keep, pl.col("debit").alias("own"), pl.col("credit").alias("other"),
            (-pl.col("amount")).alias("amount")),
    ])  # fmt: skip
    return (
        legs.join(names.rename({"account": "own", "name": "account"}), on="own")
        .join(names.rename({"account": "other", "name": "counterparty"}), on="other")
        .drop("own", "other").sort("seq", "amount")
    )  # fmt: skip


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- the escrow lifecycle -------------------------------------------------------------------------
STEP_STATE = {  # transfer id suffix -> state column
    "capture": "captured", "tax": "tax", "tax.remit": "tax_remitted", "tax.void": "tax_voided",
    "release": "release", "release.post": "released", "release.void": "release_voided",
    "fee": "fee", "fee.post": "fee_posted", "fee.void": "fee_voided", "refund": "refunded",
    "refund.seller": "seller_refunded", "refund.fee": "fee_refunded",
}  # fmt: skip


def escrow_state(uow: UnitOfWork, order_ids: Sequence[int]) -> pl.DataFrame:
    """Per order, from its transfers: what was captured, reserved, paid out, refunded, and
    ``held`` (still in escrow, posted) and ``free`` (held and not reserved)."""
    moves = ledger(uow).order_transfers(list(order_ids))
    steps = moves.with_columns(
        pl.col("id").str.split_exact(":", 1).struct.field("field_1").alias("step")
    ).filter(pl.col("step").is_in(list(STEP_STATE)))  # fmt: skip
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


def _now(at: datetime | None) -> datetime:
    return _utc(at, "at") if at is not None else datetime.now(UTC)


def _orders(uow: UnitOfWork, order_ids: Sequence[int]) -> pl.DataFrame:
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    frame = ledger(uow).order_money(ids)
    if frame.height != len(ids):
        missing = sorted(set(ids) - set(frame.get_column("order_id").to_list()))
        raise InvalidValue("order_id", "no such order", missing[0])
    return frame


def capture_paid(
    uow: UnitOfWork, terms: EscrowTerms, order_ids: Sequence[int], at: datetime | None = None
) -> PostResult:
    """Capture into escrow what was paid for each fully paid order (others are skipped)."""
    orders = _orders(uow, order_ids).filter(
        (pl.col("paid") >= pl.col("due")) & (pl.col("paid") > 0)
    )
    return post_frame(uow, escrow.capture(orders, terms, _now(at)))


def withhold_taxes(
    uow: UnitOfWork, terms: EscrowTerms, taxes: pl.DataFrame, at: datetime | None = None
) -> PostResult:
    """DDP: reserve duties and taxes in escrow. ``taxes``: order_id, tax (minor), authority."""
    orders = _orders(uow, taxes.get_column("order_id").to_list())
    frame = taxes.select("order_id", "tax", "authority").join(orders, on="order_id")
    dap = frame.filter(pl.col("incoterm") != "DDP")
    if dap.height:
        raise InvalidValue(f"order {dap['order_id'][0]}.incoterm",
                           "taxes are withheld only under DDP (under DAP the buyer pays them)",
                           dap["incoterm"][0])  # fmt: skip
    state = escrow_state(uow, frame.get_column("order_id").to_list()).select(
        "order_id", pl.col("tax").alias("withheld"), "free"
    )
    short = frame.join(state, on="order_id").filter(
        (pl.col("withheld") == 0) & (pl.col("tax") > pl.col("free"))
    )
    if short.height:
        raise InvalidValue(f"order {short['order_id'][0]}.tax", "exceeds what the order holds in "
                           f"escrow ({short['free'][0]} minor units free)",
                           short["tax"][0])  # fmt: skip
    return post_frame(uow, escrow.withhold_tax(frame, terms, _now(at)))


def remit_taxes(
    uow: UnitOfWork, order_ids: Sequence[int], at: datetime | None = None
) -> PostResult:
    """Clearance: pay the withheld taxes to the authority."""
    state = escrow_state(uow, order_ids).filter(pl.col("tax_open") | (pl.col("tax_remitted") > 0))
    return post_frame(uow, escrow.remit_tax(state.select("order_id"), _now(at)))


def mark_delivered(
    uow: UnitOfWork, terms: EscrowTerms, deliveries: pl.DataFrame,
    sla: SlaTerms | None = None, at: datetime | None = None,
) -> PostResult:  # fmt: skip
    """Delivered orders: reserve the seller's release and the fee; charge lateness penalties.

    ``deliveries``: order_id, delivered_at (UTC), and optionally ``responsible`` (the party whose
    SLA covers the delivery, e.g. the custodian from the trace record) for penalties."""
    ids = deliveries.get_column("order_id").to_list()
    orders = _orders(uow, ids)
    state = escrow_state(uow, ids)
    stamp = _now(at)
    frame = orders.join(state.drop("delivered_at"), on="order_id").join(deliveries, on="order_id")
    uncaptured = frame.filter(pl.col("captured") == 0)
    if uncaptured.height:
        raise InvalidValue(f"order {uncaptured['order_id'][0]}", "has nothing in escrow to release")
    release = escrow.deliver(
        frame.filter(pl.col("release") == 0).select(
            "order_id", "seller", "currency", "goods",
            pl.col("free").alias("held"), "delivered_at",
        ), terms,
    )  # fmt: skip
    parts = [release]
    if sla is not None and "responsible" in deliveries.columns:
        late = frame.filter(pl.col("responsible").is_not_null()).select(
            "order_id", "seller", "currency", "promised_by", "responsible",
            pl.col("delivered_at").cast(pl.Datetime("us", "UTC")).dt.date().alias("delivered_on"),
        )  # fmt: skip
        parts.append(sla_rules.late_penalties(late, sla, stamp))
    return post_frame(uow, pl.concat(parts))


def confirm_delivery(
    uow: UnitOfWork, order_ids: Sequence[int], at: datetime | None = None
) -> PostResult:
    """The buyer confirms: release the seller's proceeds and the platform fee."""
    state = escrow_state(uow, order_ids).filter(pl.col("release_open") | pl.col("fee_open"))
    frame = state.select("order_id", pl.col("release_open").alias("has_release"),
                         pl.col("fee_open").alias("has_fee"))  # fmt: skip
    return post_frame(uow, escrow.confirm(frame, _now(at)))


def auto_confirm(uow: UnitOfWork, terms: EscrowTerms, now: datetime | None = None) -> PostResult:
    """Confirm every delivery older than the terms' N days that the buyer has not confirmed."""
    stamp = _now(now)
    due = ledger(uow).open_pendings(
        "escrow.release", stamp - timedelta(days=terms.auto_confirm_days)
    )
    return confirm_delivery(uow, due.get_column("order_id").to_list(), stamp)


def refund_orders(
    uow: UnitOfWork, terms: EscrowTerms, order_ids: Sequence[int], reason: str = "refund.return",
    at: datetime | None = None,
) -> PostResult:  # fmt: skip
    """Refund orders: void the reservations and return everything the order holds in escrow.

    A return after the money was released (``refund.return`` only) is corrected with new
    transfers: the seller's proceeds and the platform fee go back to the buyer (remitted tax
    stays with the authority). Orders that never shipped or were lost cannot be released."""
    orders = _orders(uow, order_ids).select("order_id", "seller", "currency")
    state = escrow_state(uow, order_ids)
    released = state.filter(pl.col("released") > 0)
    if released.height and reason != "refund.return":
        raise InvalidValue(
            f"order {released['order_id'][0]}",
            f"was already released to the seller: {reason} does not apply",
        )
    stamp = _now(at)
    frame = state.join(orders, on="order_id").select(
        "order_id", "currency",
        pl.col("held").alias("refundable"),
        pl.col("release_open").alias("void_release"), pl.col("fee_open").alias("void_fee"),
        pl.col("tax_open").alias("void_tax"),
    ).filter(pl.col("refundable") > 0)  # fmt: skip
    parts = [escrow.refund(frame, terms, reason, stamp)]
    if released.height:
        parts.append(escrow.refund_released(
            released.join(orders, on="order_id").filter(pl.col("seller_refunded") == 0),
            terms, stamp,
        ))  # fmt: skip
    return post_frame(uow, pl.concat(parts))


def compensate_loss(
    uow: UnitOfWork, terms: EscrowTerms, losses: pl.DataFrame, at: datetime | None = None
) -> PostResult:
    """Lost or damaged orders: refund the buyer from escrow, and charge the custodian for what
    escrow cannot return (remitted tax) and for the seller's goods. ``losses``: order_id,
    custodian (the party holding custody when it happened: from the trace record)."""
    ids = losses.get_column("order_id").to_list()
    orders = _orders(uow, ids)
    state = escrow_state(uow, ids)
    stamp = _now(at)
    refund = refund_orders(uow, terms, ids, "refund.loss", stamp)
    frame = orders.join(state, on="order_id").join(losses.select("order_id", "custodian"),
                                                   on="order_id")  # fmt: skip
    frame = frame.with_columns(
        (pl.col("captured") - pl.col("held") - pl.col("refunded")).alias("shortfall")
    )
    more = post_frame(uow, sla_rules.loss_compensation(frame, terms, stamp))
    return PostResult(refund.posted + more.posted, refund.existing + more.existing)


def pay_partners(
    uow: UnitOfWork, terms: EscrowTerms, charges: pl.DataFrame, fx: FxTable, on: date,
    at: datetime | None = None,
) -> PostResult:  # fmt: skip
    """Pay partners their contract charges from the sellers' proceeds.

    ``charges``: order_id, partner, role, partner_currency, partner_amount (minor units of the
    contract currency, from the rate card). Converted to the order's currency at ``on``'s rate."""
    orders = _orders(uow, charges.get_column("order_id").to_list())
    frame = charges.join(orders.select("order_id", "seller", "currency"), on="order_id")
    amounts = [
        Money(fx.convert(Money.from_minor(int(a), pc), oc, on).amount, oc).minor
        if pc != oc else int(a)
        for a, pc, oc in frame.select("partner_amount", "partner_currency", "currency").rows()
    ]  # fmt: skip
    frame = frame.with_columns(pl.Series("amount", amounts, dtype=pl.Int64))
    return post_frame(uow, escrow.partner_payments(frame, terms, _now(at)))


def withhold_tax_for(
    uow: UnitOfWork, terms: EscrowTerms, order_id: int, amount: str, authority: str,
    at: datetime | None = None,
) -> PostResult:  # fmt: skip
    """One order's DDP tax given as a decimal amount in the order's currency."""
    currency = _orders(uow, [order_id]).get_column("currency")[0]
    money = Money(to_decimal(amount, "amount"), currency)
    if money.amount <= 0:
        raise InvalidValue("amount", "must be positive", amount)
    if money.rounded().amount != money.amount:
        raise InvalidValue("amount", f"has more decimal places than {currency} allows", amount)
    taxes = pl.DataFrame({"order_id": [order_id], "tax": [money.minor], "authority": [authority]})
    return withhold_taxes(uow, terms, taxes, at)


# --- custody from the trace record ----------------------------------------------------------------
FINDING_SCHEMA: dict[str, Any] = {
    "order_id": pl.Int64, "kind": pl.String, "custodian": pl.String,
    "at": pl.Datetime("ms", "UTC"),
}  # fmt: skip


def trace_findings(
    uow: UnitOfWork, order_ids: Sequence[int], now: datetime | None = None,
    default_p95_days: float = 10.0,
) -> pl.DataFrame:  # fmt: skip
    """Loss, damage, delay and customs-hold findings of the orders' parcels, each naming the
    custodian: the party that held custody when it happened, read from the trace record."""
    # imported here: the trace area is optional for every other settlement use case
    from xborder.services.trace import history_rows
    from xborder.store.schema_trace import trace_objects
    from xborder.trace.exceptions import Checkpoint, Thresholds, findings

    ids = list(dict.fromkeys(int(i) for i in order_ids))
    objects = uow.connection.execute(
        select(trace_objects.c.id, trace_objects.c.order_id, trace_objects.c.lane)
        .where(trace_objects.c.order_id.in_(ids), trace_objects.c.kind == "parcel")
    ).all()  # fmt: skip
    p95 = dict(uow.connection.execute(select(lanes.c.id, lanes.c.transit_p95_days)).all())
    now_ms = int(_now(now).timestamp() * 1000)
    rows: list[tuple[Any, ...]] = []
    for object_id, order_id, lane in objects:
        events = sorted(history_rows(uow, int(object_id)), key=lambda r: (r.event_time_ms, r.id))
        history = [Checkpoint(r.event_time_ms, r.party_id, r.biz_step, r.disposition)
                   for r in events]  # fmt: skip
        limits = Thresholds(float(p95.get(lane) or default_p95_days))
        rows.extend(
            (int(order_id), f.kind.value, f.custodian, datetime.fromtimestamp(f.at_ms / 1000, UTC))
            for f in findings(history, now_ms, limits)
        )
    return pl.DataFrame(rows, schema=FINDING_SCHEMA, orient="row")


def compensate_from_trace(
    uow: UnitOfWork, terms: EscrowTerms, order_ids: Sequence[int], now: datetime | None = None
) -> PostResult:
    """Settle every loss or damage the trace record shows for these orders, charged to the
    custodian it names (orders whose custodian is unknown are left for a person to decide)."""
    found = trace_findings(uow, order_ids, now)
    losses = (
        found.filter(pl.col("kind").is_in(["loss", "damage"]) & pl.col("custodian").is_not_null())
        .sort("at").unique("order_id", keep="first", maintain_order=True)
        .select("order_id", "custodian")
    )  # fmt: skip
    if losses.height == 0:
        return PostResult(0)
    return compensate_loss(uow, terms, losses, now)


def pay_by_rate_cards(
    uow: UnitOfWork, terms: EscrowTerms, legs: pl.DataFrame, world: World, on: date,
    at: datetime | None = None,
) -> PostResult:  # fmt: skip
    """Price each leg by its partner's rate card in the world and pay it from the seller's
    proceeds (``legs``: order_id, role, ref, grams; see ``settlement.contracts``)."""
    charges = rate_card_charges(legs, world.lanes, world.warehouses, world.last_mile)
    fx = FxTable.of(FxRate(e.date, e.base, e.quote, e.rate, e.source) for e in world.fx)
    return pay_partners(uow, terms, charges, fx, on, at)


def settle_declared_taxes(
    uow: UnitOfWork, terms: EscrowTerms, order_ids: Sequence[int], fx: FxTable,
    at: datetime | None = None,
) -> tuple[PostResult, PostResult]:  # fmt: skip
    """DDP orders with a customs declaration: withhold its total tax in escrow (converted to the
    order's currency at the declaration date's rate when the tax currency differs), and remit it
    where customs has released the goods. Authority party: ``customs-<destination>``.
    Orders with nothing captured in escrow, or whose escrow cannot cover the tax, are skipped.
    Returns (withheld, remitted)."""
    # imported here: the customs area is optional for every other settlement use case
    from xborder.store.schema_customs import customs_declarations as d

    ids = list(dict.fromkeys(int(i) for i in order_ids))
    rows = uow.connection.execute(
        select(d.c.order_id, d.c.destination, d.c.tax_currency, d.c.total_tax_minor, d.c.status,
               d.c.declared_on)
        .where(d.c.order_id.in_(ids), d.c.incoterm == "DDP", d.c.total_tax_minor > 0)
    ).all()  # fmt: skip
    if not rows:
        return PostResult(0), PostResult(0)
    orders = _orders(uow, [int(r[0]) for r in rows]).select("order_id", "currency")
    state = escrow_state(uow, [int(r[0]) for r in rows]).select(
        "order_id", "captured", "free", pl.col("tax").alias("withheld")
    )
    currency = dict(orders.rows())
    taxes = []
    for order_id, destination, tax_cur, tax_minor, status, declared_on in rows:
        cur = currency[int(order_id)]
        amount = int(tax_minor)
        if tax_cur != cur:
            on = (
                declared_on
                if isinstance(declared_on, date)
                else date.fromisoformat(str(declared_on))
            )
            amount = Money(fx.convert(Money.from_minor(amount, tax_cur), cur, on).amount, cur).minor
        taxes.append((int(order_id), amount, f"customs-{str(destination).lower()}",
                      str(status) in ("released", "closed")))  # fmt: skip
    frame = pl.DataFrame(
        taxes, schema={"order_id": pl.Int64, "tax": pl.Int64, "authority": pl.String,
                       "released": pl.Boolean}, orient="row",
    ).join(state.filter(pl.col("captured") > 0), on="order_id")  # fmt: skip
    # an order whose escrow cannot cover its tax is left to the seller (reported, not withheld)
    frame = frame.filter(
        (pl.col("tax") > 0) & ((pl.col("withheld") > 0) | (pl.col("tax") <= pl.col("free")))
    )
    withheld = withhold_taxes(uow, terms, frame.select("order_id", "tax", "authority"), at)
    released = frame.filter(pl.col("released")).get_column("order_id").to_list()
    return withheld, remit_taxes(uow, released, at)
