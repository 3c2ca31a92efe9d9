"""The demo's settlement step: buyers pay, payments go into escrow, DDP taxes are withheld and
remitted, delivered orders are settled, and every party's ledger balances are summarised.

What the demo settles: the demo day has no payment step of its own, so most buyers (90%, drawn
from the seed) pay their order in full through the world's payment provider at checkout; those
payments are captured into escrow. DDP orders that the customs step declared have their taxes
withheld in escrow, and remitted where customs released them. Orders that an earlier step
reports delivered (``ctx.facts["delivered"]``: a frame of order_id, delivered_at and optionally
responsible) are released to their sellers less the platform fee, with lateness penalties; when
no step reports deliveries (none does yet), the money stays in escrow and the summary says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sqlalchemy import select

from xborder.domain.money import FxRate, FxTable, Money
from xborder.domain.parties import Role
from xborder.services.settlement import (
    auto_confirm,
    balances,
    capture_paid,
    compensate_from_trace,
    escrow_state,
    ledger,
    mark_delivered,
    settle_declared_taxes,
)
from xborder.settlement.escrow import EscrowTerms
from xborder.settlement.sla import SlaTerms
from xborder.store.schema import payments
from xborder.store.uow import UnitOfWork

if TYPE_CHECKING:
    from xborder.services.demo import DemoContext, DemoSection

PAID_SHARE = 0.9
CHUNK = 20_000


def _pay(uow: UnitOfWork, provider: str, frame: pl.DataFrame, at: datetime) -> int:
    """Record one full payment per order (set-based; idempotent by provider + transaction id)."""
    ids = frame.get_column("order_id").to_list()
    stored = {
        int(r[0]) for r in uow.connection.execute(
            select(payments.c.order_id).where(payments.c.provider == provider,
                                              payments.c.order_id.in_(ids))
        )
    }  # fmt: skip
    rows = [
        {"order_id": oid, "provider": provider, "transaction_id": f"demo-{oid}",
         "payer_name": "demo buyer", "payer_id_number": None, "amount_minor": due,
         "currency": cur, "paid_at": at}
        for oid, due, cur in frame.select("order_id", "due", "currency").rows() if oid not in stored
    ]  # fmt: skip
    if rows:
        uow.connection.execute(payments.insert(), rows)
    return len(rows)


def step_settle(ctx: DemoContext) -> DemoSection:
    from xborder.services.demo import DemoSection

    provider = next(p.id for p in ctx.world.parties if p.has(Role.PAYMENT_PROVIDER))
    terms = EscrowTerms(platform=provider)
    checkout = datetime.combine(ctx.day, time(23, 0), tzinfo=UTC)
    rng = np.random.default_rng(ctx.seed + 6)
    chosen = [o for o, r in zip(ctx.order_ids, rng.random(len(ctx.order_ids)), strict=True)
              if r < PAID_SHARE]  # fmt: skip
    paid = captured = 0
    for start in range(0, len(chosen), CHUNK):
        part = chosen[start : start + CHUNK]
        with UnitOfWork(ctx.engine) as uow:
            due = ledger(uow).order_money(part)
            paid += _pay(uow, provider, due, checkout)
            captured += capture_paid(uow, terms, part, checkout).posted
            uow.commit()
        if ctx.progress:
            ctx.progress("settle: escrow capture", min(start + CHUNK, len(chosen)), len(chosen))
    fx = FxTable.of(FxRate(e.date, e.base, e.quote, e.rate, e.source) for e in ctx.world.fx)
    withheld = remitted = 0
    for start in range(0, len(chosen), CHUNK):
        with UnitOfWork(ctx.engine) as uow:
            w, r = settle_declared_taxes(uow, terms, chosen[start : start + CHUNK], fx, checkout)
            uow.commit()
        withheld, remitted = withheld + w.posted, remitted + r.posted
    summary: dict[str, Any] = {
        "escrow_holder": provider, "orders_paid": paid, "captured_into_escrow": captured,
        "ddp_taxes_withheld": withheld, "ddp_taxes_remitted": remitted,
    }  # fmt: skip
    delivered = ctx.facts.get("delivered")
    if isinstance(delivered, pl.DataFrame) and delivered.height:
        latest = delivered.get_column("delivered_at").max()
        assert isinstance(latest, datetime)
        with UnitOfWork(ctx.engine) as uow:
            held = escrow_state(uow, delivered.get_column("order_id").to_list())
            delivered = delivered.join(
                held.filter(pl.col("captured") > 0).select("order_id"), on="order_id"
            )  # unpaid orders have nothing in escrow to release
            result = mark_delivered(uow, terms, delivered, SlaTerms(), latest)
            confirmed = auto_confirm(uow, terms, latest + timedelta(days=terms.auto_confirm_days))
            uow.commit()
        summary["delivered_settled"] = result.posted
        summary["auto_confirmed"] = confirmed.posted
    else:
        summary["delivered_settled"] = "none: no new deliveries in this run; paid money " \
            "stays in escrow"  # fmt: skip
    exceptions = ctx.facts.get("exceptions")
    if isinstance(exceptions, pl.DataFrame) and exceptions.height:
        # Lost parcels: the buyer is refunded in full, charged to the custodian the trace names.
        # (Damaged ones were delivered and released; their claims go through a person.)
        lost = exceptions.filter(pl.col("kind") == "lost").get_column("order_id").to_list()
        with UnitOfWork(ctx.engine) as uow:
            in_escrow = escrow_state(uow, lost).filter(pl.col("captured") > 0)
            compensated = compensate_from_trace(
                uow,
                terms,
                in_escrow.get_column("order_id").to_list(),
                checkout + timedelta(days=30),
            )
            uow.commit()
        summary["lost_parcels_compensated"] = compensated.posted
    with UnitOfWork(ctx.engine) as uow:
        frame = balances(uow)
    rows = (
        frame.group_by("party", "purpose", "currency")
        .agg(pl.col("balance").sum(), pl.col("credits_pending").sum(),
             pl.col("debits_pending").sum())
        .sort("party", "purpose", "currency")
    )  # fmt: skip
    table = [
        {"party": p, "account": purpose, "balance": str(Money.from_minor(int(b), c)),
         "pending_in": str(Money.from_minor(int(pin), c)),
         "pending_out": str(Money.from_minor(int(pout), c))}
        for p, purpose, c, b, pin, pout in rows.rows()
    ]  # fmt: skip
    return DemoSection("Settlement (ledger statements)", summary, table)
