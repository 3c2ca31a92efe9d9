"""The demo's settlement step on a store with orders and one reported delivery."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import polars as pl
from sqlalchemy import Engine

from tests.settlement.test_escrow import FEE, PAID, _orders
from xborder.domain.parties import Party, Role
from xborder.services.settlement import escrow_state
from xborder.services.settlement_demo import step_settle
from xborder.store.uow import UnitOfWork


def test_demo_step_pays_captures_settles_and_summarises(sqlite_engine: Engine) -> None:
    ids = _orders(sqlite_engine, 30, paid=False)
    provider = Party(id="pp-demo", name="Demo Pay", roles=frozenset({Role.PAYMENT_PROVIDER}),
                     country="CN")  # fmt: skip
    delivered = pl.DataFrame({
        "order_id": ids[:5], "delivered_at": [datetime(2026, 11, 30, tzinfo=UTC)] * 5,
    })  # fmt: skip
    ctx: Any = SimpleNamespace(
        engine=sqlite_engine, world=SimpleNamespace(parties=(provider,), fx=()),
        day=date(2026, 11, 24),
        seed=7, order_ids=ids, facts={"delivered": delivered}, progress=None,
    )  # fmt: skip
    section = step_settle(ctx)
    paid = section.summary["orders_paid"]
    assert 15 < paid <= 30 and section.summary["captured_into_escrow"] == paid
    again = step_settle(ctx)  # the demo can be run twice on one store
    assert again.summary["orders_paid"] == 0 and again.summary["captured_into_escrow"] == 0
    with UnitOfWork(sqlite_engine) as uow:
        state = escrow_state(uow, ids)
    released = state.filter(pl.col("released") > 0)
    first = state.filter(pl.col("order_id").is_in(ids[:5]) & (pl.col("captured") > 0))
    assert first.height > 0 and released.height == first.height
    assert (released["released"] == PAID - FEE).all()
    rows = {(r["party"], r["account"]): r["balance"] for r in section.table}
    held = sum(int(state[c].sum()) * sign for c, sign in
               (("captured", 1), ("released", -1), ("fee_posted", -1))) / 100  # fmt: skip
    assert rows[("pp-demo", "escrow")] == f"{held:.2f} EUR"
