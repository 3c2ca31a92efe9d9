"""Money that follows the lifecycle: ``settle_lifecycle`` over stored facts, on both stores.

Each milestone is paid exactly once across runs, a re-run (also after a crash) posts nothing
twice, every currency balances, each counter equals the ledger's own count of what it names,
nothing is dated after the clock's now, and a lost parcel is charged to its custodian.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from tests.settlement.lifecycle_store import (
    DIMS_CM,
    GOODS,
    GROSS_KG,
    LANE,
    LANE_CARRIER,
    LAST_MILE,
    LAST_MILE_CARRIER,
    OPERATOR,
    PAID,
    PHASE1,
    PHASE2,
    PROVIDER,
    SELLER,
    SLA,
    TERMS,
    WAREHOUSE,
    Store,
    advance,
    build,
    day,
)
from xborder.domain.errors import DomainError
from xborder.domain.money import Money
from xborder.domain.values import Dimensions
from xborder.domain.world import World
from xborder.services.settlement import (
    COUNTERS,
    EscrowState,
    LifecycleSettlement,
    OrderTransfers,
    SettleLifecycle,
    StatementQuery,
    balances,
    escrow_state,
    order_transfers,
    settle_lifecycle,
    settlement_counts,
    statement,
)
from xborder.store.schema_settlement import ledger_accounts, ledger_transfers
from xborder.store.settlement_repo import LedgerRepository

FIRST = {  # phase 1: what each counter must say (orders, one parcel each)
    "orders_captured": 6,  # A B D E F H (C and G unpaid)
    "taxes_withheld": 2,  # A B
    "taxes_remitted": 1,  # A (released)
    "warehouse_paid": 6,  # every packed parcel: A B C D F G
    "linehaul_paid": 5,  # departed: A B C D G
    "last_mile_paid": 2,  # delivered: A C
    "deliveries_released": 1,  # A (C delivered but unpaid: no escrow)
    "auto_confirmed": 0,  # A delivered 12-01: not 7 days yet
    "losses_compensated": 1,  # D
    "penalties": 0,  # A and C on time
    "orders_refunded": 1,  # H, cancelled
}
SECOND = {  # phase 2: B and G delivered late, B's tax released, C paid
    "orders_captured": 1, "taxes_withheld": 0, "taxes_remitted": 1, "warehouse_paid": 0,
    "linehaul_paid": 0, "last_mile_paid": 2, "deliveries_released": 2, "auto_confirmed": 2,
    "losses_compensated": 0, "penalties": 2, "orders_refunded": 1,  # F, returned
}  # fmt: skip


def _run(store: Store, world: World | None = None) -> LifecycleSettlement:
    return settle_lifecycle(store.uow(), SettleLifecycle(TERMS, SLA, world))


def _transfers(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one())


def _latest(engine: Engine) -> datetime:
    with engine.connect() as conn:
        tables = ((ledger_transfers, "at"), (ledger_accounts, "opened_at"))
        times = [conn.execute(select(func.max(t.c[col]))).scalar_one() for t, col in tables]
    latest = max(datetime.fromisoformat(t) if isinstance(t, str) else t for t in times)
    return latest.replace(tzinfo=latest.tzinfo or PHASE1.tzinfo)


def _balanced(store: Store) -> dict[str, int]:
    """Every currency sums to zero (posted and pending); the balances by account code."""
    frame = balances(store.uow())
    for cur in frame.get_column("currency").unique().to_list():
        part = frame.filter(pl.col("currency") == cur)
        assert part["balance"].sum() == 0, cur
        assert (part["credits_pending"] - part["debits_pending"]).sum() == 0, cur
    return {
        f"{r['party']}:{r['purpose']}:{r['currency']}": r["balance"]
        for r in frame.iter_rows(named=True)
    }


def _state(store: Store) -> dict[str, dict[str, Any]]:
    ids = store.ids
    frame = escrow_state(store.uow(), EscrowState(list(ids.values())))
    by_id = {r["order_id"]: r for r in frame.iter_rows(named=True)}
    return {name: by_id[oid] for name, oid in ids.items()}


@pytest.fixture
def store(engine: Engine, demo_world: World) -> Store:
    return build(engine, demo_world)


def test_each_milestone_is_settled_once_and_counted_as_it_names(store: Store) -> None:
    first = _run(store)
    assert first.counters() == FIRST
    assert settlement_counts(store.uow()) == FIRST  # the ledger's own count agrees
    assert first.at == PHASE1 and _latest(store.engine) <= PHASE1
    assert first.losses_unassigned == ()
    posted = _transfers(store.engine)
    assert first.transfers == posted

    again = _run(store)  # a re-run: every milestone is already settled
    assert again.counters() == dict.fromkeys(COUNTERS, 0) and again.transfers == 0
    assert _transfers(store.engine) == posted

    advance(store)
    second = _run(store)
    assert second.counters() == SECOND
    totals = {k: FIRST[k] + SECOND[k] for k in COUNTERS}
    assert settlement_counts(store.uow()) == totals
    assert _latest(store.engine) <= PHASE2
    assert _run(store).transfers == 0
    assert settlement_counts(store.uow()) == totals


def test_money_lands_where_the_contracts_say(store: Store, demo_world: World) -> None:
    _run(store)
    advance(store)
    _run(store)
    bal = _balanced(store)
    state = _state(store)
    lane = next(x for x in demo_world.lanes if x.id == LANE)
    last_mile = next(x for x in demo_world.last_mile if x.id == LAST_MILE)
    warehouse = next(x for x in demo_world.warehouses if x.id == WAREHOUSE)
    # partners by rate card, in their contract currency: the lane on the chargeable weight
    freight = lane.freight(GROSS_KG, Dimensions(*DIMS_CM))
    assert freight == Money(Decimal("158.60"), "CNY")  # 1.8 kg volumetric beats 1.2 kg gross
    assert bal[f"{LANE_CARRIER}:receivable:CNY"] == 5 * freight.minor
    assert bal[f"{OPERATOR}:receivable:CNY"] == 6 * warehouse.handling.minor
    # the lane carrier pays the lateness of B (3 days) and the loss of D (its goods value)
    assert bal[f"{LANE_CARRIER}:receivable:EUR"] == -(300 + 200 + GOODS)
    assert bal[f"{LAST_MILE_CARRIER}:receivable:EUR"] == 4 * last_mile.cost(GROSS_KG).minor
    assert bal[f"{SELLER}:compensation:EUR"] == 300 + 200 + GOODS
    # escrow: D, F, H refunded in full; A and C released and confirmed; B reserved; E held
    for name in "DFH":
        assert state[name]["refunded"] == PAID and state[name]["held"] == 0, name
    assert state["A"]["released"] > 0 and state["C"]["released"] > 0
    assert state["B"]["release_open"] and state["B"]["tax_remitted"] == 465
    assert state["E"]["held"] == PAID and state["E"]["free"] == PAID
    assert state["G"]["captured"] == 0  # never paid: partners and penalty, no escrow movement
    escrow = bal[f"{PROVIDER}:escrow:EUR"]
    assert escrow == sum(s["held"] for s in state.values())
    assert bal["customs-de:tax:EUR"] == 2 * 465


def test_the_lost_parcel_is_charged_to_its_custodian_dated_when_lost(store: Store) -> None:
    _run(store)
    moves = order_transfers(store.uow(), OrderTransfers([store.ids["D"]]))
    loss = moves.filter(pl.col("code") == "sla.loss.seller").row(0, named=True)
    assert loss["debit"] == f"{LANE_CARRIER}:receivable:EUR" and loss["amount"] == GOODS
    assert loss["at"] == day(28)  # when the loss was recorded, not when it was settled
    refund = moves.filter(pl.col("code") == "refund.loss").row(0, named=True)
    assert refund["credit"] == "buyers:funds:EUR" and refund["amount"] == PAID
    assert "loss or damage" in loss["description"]


def test_a_crash_mid_run_leaves_nothing_and_the_rerun_completes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = LedgerRepository.write
    calls = {"n": 0}

    def crash(self: LedgerRepository, accepted: Any, deltas: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:  # the run has captured, withheld, remitted: then the power goes
            raise RuntimeError("power cut")
        original(self, accepted, deltas)

    monkeypatch.setattr(LedgerRepository, "write", crash)
    with pytest.raises(RuntimeError):
        _run(store)
    assert _transfers(store.engine) == 0  # one run, one transaction: nothing half-settled
    monkeypatch.setattr(LedgerRepository, "write", original)
    assert _run(store).counters() == FIRST
    assert _run(store).transfers == 0


def test_nested_in_a_callers_unit_of_work_it_commits_only_with_the_caller(store: Store) -> None:
    with store.uow() as uow:
        inner = settle_lifecycle(uow, SettleLifecycle(TERMS, SLA))
        assert inner.counters() == FIRST
        # the caller gives up: nothing the nested use case wrote survives
    assert _transfers(store.engine) == 0
    with store.uow() as uow:
        settle_lifecycle(uow, SettleLifecycle(TERMS, SLA))
        uow.commit()
    assert settlement_counts(store.uow()) == FIRST


def test_the_worlds_rate_cards_give_what_the_stored_ones_give(
    store: Store, demo_world: World
) -> None:
    _run(store, demo_world)
    with_world = _balanced(store)
    lane = next(x for x in demo_world.lanes if x.id == LANE)
    assert (
        with_world[f"{LANE_CARRIER}:receivable:CNY"]
        == 5 * lane.freight(GROSS_KG, Dimensions(*DIMS_CM)).minor
    )


def test_the_statement_explains_each_balance_in_words(store: Store) -> None:
    _run(store)
    advance(store)
    _run(store)
    st = statement(store.uow(), StatementQuery(LANE_CARRIER, with_entries=True))
    for line in st.lines:  # the movements add up to each closing balance
        moved = [m.amount.amount for m in st.movements if m.account == line.account]
        assert sum(moved, Decimal(0)) == line.closing.amount
    words = st.entries.get_column("description").to_list()
    ids = store.ids
    assert "line-haul freight, parcel XB000000000001" in words
    assert f"SLA penalty (late 3 days), order {ids['B']}" in words
    assert f"loss or damage: goods value to the seller, order {ids['D']}" in words
    seller = statement(store.uow(), StatementQuery(SELLER, with_entries=True))
    described = seller.entries.get_column("description").to_list()
    assert f"release on automatic confirmation, order {ids['A']}" in described
    assert "warehouse handling via currency exchange, parcel XB000000000006" in described
    assert "last-mile delivery, parcel XB000000000001" in described  # EUR: no exchange
    assert all(d and not d.startswith(("partner.", "escrow.", "sla.")) for d in described)


def test_a_parcel_on_a_lane_the_contracts_do_not_know_is_refused_by_name(
    store: Store, demo_world: World
) -> None:
    tiny = demo_world.model_copy(update={"lanes": ()})
    with pytest.raises(DomainError) as refused:
        _run(store, tiny)
    assert LANE in str(refused.value)
    assert _transfers(store.engine) == 0
