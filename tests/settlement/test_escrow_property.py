"""Random escrow lifecycles: whatever the order of operations, the escrow invariants hold, a
refused operation changes nothing, and repeating an operation never posts twice."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from tests.settlement.test_escrow import T0, TERMS, _orders, at_now
from xborder.domain.errors import DomainError
from xborder.services.settlement import (
    AutoConfirm,
    Balances,
    CapturePaid,
    CompensateLoss,
    ConfirmDelivery,
    EscrowState,
    MarkDelivered,
    RefundOrders,
    RemitTaxes,
    SlaTerms,
    WithholdTaxes,
    auto_confirm,
    balances,
    capture_paid,
    compensate_loss,
    confirm_delivery,
    escrow_state,
    mark_delivered,
    refund_orders,
    remit_taxes,
    withhold_taxes,
)
from xborder.store.schema import orders
from xborder.store.schema_settlement import ledger_transfers
from xborder.store.uow import UnitOfWork

_clock = itertools.count()

OPS = ["capture", "tax", "tax", "remit", "deliver", "deliver", "deliver", "confirm", "auto",
       "return", "unshipped", "lost"]  # fmt: skip
steps = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 2), st.integers(1, 900)),
                 min_size=3, max_size=12)  # fmt: skip


def _operation(name: str, order: int, amount: int) -> Callable[[Any], Any]:
    at = T0 + timedelta(days=next(_clock) % 20)
    one = [order]
    actions: dict[str, Callable[[Any], Any]] = {
        "capture": lambda u: capture_paid(u, CapturePaid(TERMS, one, at)),
        "tax": lambda u: withhold_taxes(u, WithholdTaxes(TERMS, pl.DataFrame(
            {"order_id": one, "tax": [amount], "authority": ["customs-de"]}), at)),
        "remit": lambda u: remit_taxes(u, RemitTaxes(one, at)),
        "deliver": lambda u: mark_delivered(u, MarkDelivered(TERMS, pl.DataFrame(
            {"order_id": one, "delivered_at": [at], "responsible": ["dhl-de"]}),
            SlaTerms(penalty_per_day=amount, penalty_cap=5 * amount))),
        "confirm": lambda u: confirm_delivery(u, ConfirmDelivery(one, at)),
        "auto": lambda u: auto_confirm(u, AutoConfirm(TERMS, at + timedelta(days=30))),
        "return": lambda u: refund_orders(u, RefundOrders(TERMS, one, "refund.return", at)),
        "unshipped": lambda u: refund_orders(u, RefundOrders(TERMS, one, "refund.unshipped", at)),
        "lost": lambda u: compensate_loss(u, CompensateLoss(TERMS, pl.DataFrame(
            {"order_id": one, "custodian": ["line-x"]}), at)),
    }  # fmt: skip
    return actions[name]


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one())


def _invariants(engine: Engine) -> None:
    """Over every order in the store (the store outlives one Hypothesis example)."""
    with UnitOfWork(engine) as uow:
        ids = [int(r[0]) for r in uow.connection.execute(select(orders.c.id))]
        frame = balances(uow, Balances())
        state = escrow_state(uow, EscrowState(ids))
    for cur in frame.get_column("currency").unique().to_list():
        part = frame.filter(pl.col("currency") == cur)
        assert part["balance"].sum() == 0
        assert (part["credits_pending"] - part["debits_pending"]).sum() == 0
    flagged = frame.filter(pl.col("flags") == 1)
    assert (flagged["credits_posted"] - flagged["debits_posted"] - flagged["debits_pending"]
            >= 0).all()  # fmt: skip
    escrow = int(frame.filter(pl.col("purpose") == "escrow")["balance"].sum())
    paid_in = int(state["captured"].sum())
    out = int((state["released"] + state["refunded"] + state["tax_remitted"]
               + state["fee_posted"]).sum())  # fmt: skip
    assert escrow == paid_in - out == state["held"].sum()
    assert (state["free"] >= 0).all()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=steps)
def test_random_lifecycles_keep_the_escrow_invariants(
    sqlite_engine: Engine, plan: list[tuple[str, int, int]]
) -> None:
    ids = _orders(sqlite_engine, 3)
    with at_now(sqlite_engine) as uow:  # two of the three are paid into escrow up front
        capture_paid(uow, CapturePaid(TERMS, ids[:2], T0))
        uow.commit()
    for name, which, amount in plan:
        action = _operation(name, ids[which], amount)
        before = _count(sqlite_engine)
        try:
            action(at_now(sqlite_engine))  # each use case commits itself
        except DomainError:
            assert _count(sqlite_engine) == before  # a refused operation leaves nothing
            continue
        after = _count(sqlite_engine)
        with suppress(DomainError):  # the same operation again: a retry
            action(at_now(sqlite_engine))
        assert _count(sqlite_engine) == after
        _invariants(sqlite_engine)
