"""Simulation fixtures, and the store read as plain values with the invariants it must keep.

The clock starts at the demo world's ``meta.valid_on``, 00:00 UTC, and moves only when a test
moves it, so every stored time is known relative to it and never depends on the day the suite
runs. The ``check_*`` functions state what must hold after any sequence of use cases; the state
machine runs them after every step, the example trips at their end (on SQLite and PostgreSQL).
``predict`` says, from the store and the lifecycle tables, what recording a report of facts must
do. Tests may read the store with SQL; the use cases may not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import DateTime, Engine, func, select

from xborder.bootstrap import Platform, bootstrap
from xborder.domain.clock import SettableClock
from xborder.domain.lifecycle import (
    ALLOWED,
    ParcelStatus,
    Step,
    advance,
    fold,
    order_status_from_parcels,
)
from xborder.domain.orders import OrderStatus
from xborder.domain.world import World
from xborder.services.capture import capture_batch
from xborder.services.parcels import (
    BAG_STEPS,
    IN_BAG_STEPS,
    NOT_PARCEL_STEPS,
    PackOrders,
    RecordSteps,
    StepFact,
    pack_orders,
    record_steps,
)
from xborder.services.planning import Consolidate, PlanFulfilment, consolidate, plan_fulfilment
from xborder.services.trace import Verify, history_rows, verify
from xborder.services.world import LoadWorld, load_world
from xborder.simulation.order_generator import generate_orders
from xborder.store.schema import inventory, orders
from xborder.store.schema_planning import consolidations, inventory_reservations, plan_assignments
from xborder.store.schema_planning import parcels as parcel_table
from xborder.store.schema_settlement import ledger_accounts, ledger_balances, ledger_transfers
from xborder.store.tables import metadata
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import sscc_link
from xborder.trace.lifecycle import step_of

O = OrderStatus  # noqa: E741
# An order without a parcel has not shipped: these are all it can be.
UNPACKED = frozenset({O.CAPTURED, O.PAID, O.PLANNED, O.CANCELLED})
POOL = 40  # orders generated at a time (generate_orders fails if none goes to China)


def world_start(world: World) -> datetime:
    """The first moment of the world's day (its stock and prices are as of that day)."""
    return datetime.combine(world.meta.valid_on, time(0), tzinfo=UTC)


def world_platform(engine: Engine, world: World) -> tuple[Platform, SettableClock]:
    """A platform on a migrated, empty ``engine`` with ``world`` loaded, and its clock."""
    clock = SettableClock(world_start(world))
    platform = bootstrap(engine=engine, migrate=False, clock=clock)
    load_world(platform.uow(), LoadWorld(world))
    return platform, clock


def packed_and_bagged(platform: Platform, clock: SettableClock, world: World) -> View:
    """A day of orders (placed yesterday), planned, packed and bagged."""
    clock.advance(timedelta(days=1))
    capture_batch(platform.uow(), generate_orders(world, POOL, seed=7, day=world.meta.valid_on))
    plan_fulfilment(platform.uow(), PlanFulfilment())
    pack_orders(platform.uow(), PackOrders())
    consolidate(platform.uow(), Consolidate())
    return read_view(platform.uow())


def step_on(platform: Platform, clock: SettableClock, *facts: tuple[str, Step]) -> None:
    """Two hours later, one report of ``facts`` (subject, step)."""
    clock.advance(timedelta(hours=2))
    record_steps(platform.uow(), RecordSteps(tuple(StepFact(s, x, clock.now()) for s, x in facts)))


@pytest.fixture
def sim(engine: Engine, demo_world: World) -> Iterator[tuple[Platform, SettableClock]]:
    """The platform (SQLite and PostgreSQL) with the demo world loaded, and its clock."""
    yield world_platform(engine, demo_world)


@pytest.fixture
def platform(sim: tuple[Platform, SettableClock]) -> Platform:
    return sim[0]


@pytest.fixture
def clock(sim: tuple[Platform, SettableClock]) -> SettableClock:
    return sim[1]


# --- the store as plain values -----------------------------------------------------------------
def utc(value: Any) -> Any:
    """SQLite hands back naive times (meaning UTC); compare them as aware ones."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


@dataclass
class View:
    """Parcels and bags by id, and every order's status; ``subjects`` finds a parcel by its
    tracking number or SSCC and a bag by its SSCC: subject -> ("parcel" | "bag", id)."""

    parcels: dict[str, dict[str, Any]]
    bags: dict[str, dict[str, Any]]
    orders: dict[int, str]
    subjects: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for pid, p in self.parcels.items():
            self.subjects[p["tracking_no"]] = self.subjects[p["sscc"]] = ("parcel", pid)
        for bid, b in self.bags.items():
            self.subjects[b["sscc"]] = ("bag", bid)

    def members(self, bag_id: str) -> list[dict[str, Any]]:
        return [p for p in self.parcels.values() if p["consolidation_id"] == bag_id]

    def packed_orders(self) -> set[int]:
        return {int(p["order_id"]) for p in self.parcels.values()}


def read_view(uow: UnitOfWork) -> View:
    with uow:
        frame = uow.parcels.with_status([s.value for s in ParcelStatus])
        parcels = {str(p["id"]): p for p in frame.iter_rows(named=True)}
        p, c, o = parcel_table.c, consolidations.c, orders.c
        for pid, day in uow.connection.execute(select(p.id, p.departure_date)):
            parcels[str(pid)]["departure_date"] = day
        bags = {
            str(r.id): {"sscc": r.sscc, "status": r.status, "status_at": utc(r.status_at),
                        "opened": r.opened_at is not None}
            for r in uow.connection.execute(select(c.id, c.sscc, c.status, c.status_at,
                                                   c.opened_at))
        }  # fmt: skip
        statuses = {int(i): str(s) for i, s in uow.connection.execute(select(o.id, o.status))}
    return View(parcels, bags, statuses)


def snapshot(uow: UnitOfWork) -> dict[str, Any]:
    """What a refused use case must leave as it was: every table's row count, every parcel's,
    bag's and order's state, and the stock."""
    view = read_view(uow)
    with uow:
        conn = uow.connection
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                  for t in metadata.sorted_tables}  # fmt: skip
        stock = sorted(tuple(r) for r in conn.execute(select(inventory)))
    return {"counts": counts, "parcels": view.parcels, "bags": view.bags,
            "orders": view.orders, "stock": stock}  # fmt: skip


# --- invariants ----------------------------------------------------------------------------------
def _steps(rows: list[Any]) -> list[Step | None]:
    return [step_of(r.event_type, r.action, r.biz_step, r.disposition) for r in rows]


def check_parcels_are_their_events(uow: UnitOfWork) -> None:
    """A parcel's state is the fold of its events (its own and its bag's while inside), its
    times are its events' times; a bag's state is its own last step."""
    view = read_view(uow)
    with uow:
        keys = [sscc_link(x["sscc"]) for x in (*view.parcels.values(), *view.bags.values())]
        ids = uow.trace.object_ids(keys) if keys else {}
        for p in view.parcels.values():
            name, oid = p["tracking_no"], ids[sscc_link(p["sscc"])]
            rows = sorted(history_rows(uow, oid), key=lambda r: (r.event_time_ms, r.id))
            steps = _steps(rows)
            assert None not in steps, (name, "an event that is no lifecycle step")
            assert fold(name, [s for s in steps if s is not None]) == p["status"], (name, steps)
            assert ms(p["status_at"]) == rows[-1].event_time_ms, name
            for column, step in (("packed_at", Step.PICKED_PACKED), ("departed_at", Step.DEPARTED),
                                 ("delivered_at", Step.DELIVERED)):  # fmt: skip
                first = next((r.event_time_ms for r, s in zip(rows, steps, strict=True)
                              if s == step), None)  # fmt: skip
                assert (None if p[column] is None else ms(p[column])) == first, (name, column)
        for bid, b in view.bags.items():
            oid = ids[sscc_link(b["sscc"])]
            own = [r for r in history_rows(uow, oid) if r.object_id == oid]
            last = _steps([max(own, key=lambda r: (r.event_time_ms, r.id))])[0]
            assert last is not None and b["status"] == last.value, (bid, last)
            assert b["opened"] == (last == Step.DECONSOLIDATED), bid


def check_orders_follow_plans_and_parcels(uow: UnitOfWork) -> None:
    """A parcel's order was planned to the parcel's warehouse and lane; an order's state is what
    its parcels make of it (planned while none has left the warehouse)."""
    view = read_view(uow)
    with uow:
        a = plan_assignments.c
        plans = {int(r.order_id): r for r in uow.connection.execute(
            select(a.order_id, a.warehouse_id, a.lane_id))}  # fmt: skip
    per_order: dict[int, list[str]] = {}
    for p in view.parcels.values():
        oid = int(p["order_id"])
        per_order.setdefault(oid, []).append(str(p["status"]))
        plan = plans.get(oid)
        assert plan is not None and plan.warehouse_id == p["warehouse_id"], oid
        assert plan.lane_id == p["lane_id"], oid
        if p["status"] == ParcelStatus.DELIVERED:
            assert view.orders[oid] in (O.DELIVERED, O.PARTLY_DELIVERED, O.RETURNED), oid
    for oid, status in view.orders.items():
        if status == O.PLANNED:
            assert oid in plans and plans[oid].warehouse_id is not None, oid
        if oid not in per_order:
            assert status in UNPACKED, (oid, status)
        else:
            made = order_status_from_parcels(per_order[oid])
            assert status == (made or O.PLANNED), (oid, status, per_order[oid])


def check_stock(uow: UnitOfWork) -> None:
    """Reserved stock is exactly what planned, unpacked orders hold, and never beyond on hand."""
    view = read_view(uow)
    packed = view.packed_orders()
    held: Counter[tuple[str, str]] = Counter()
    with uow:
        r = inventory_reservations.c
        for oid, wh, sku, qty in uow.connection.execute(
            select(r.order_id, r.warehouse_id, r.sku, r.qty)
        ):
            assert view.orders[int(oid)] == O.PLANNED and int(oid) not in packed, oid
            held[(wh, sku)] += int(qty)
        for wh, sku, on_hand, reserved in uow.connection.execute(select(inventory)):
            assert 0 <= reserved <= on_hand and reserved == held[(wh, sku)], (wh, sku)


def check_ledger(uow: UnitOfWork) -> None:
    """Per currency, debits equal credits (posted and pending); a transfer stays in its currency."""
    acc, bal, t = ledger_accounts.c, ledger_balances.c, ledger_transfers.c
    with uow:
        conn = uow.connection
        for currency, dp, cp, dn, cn in conn.execute(
            select(acc.currency, func.sum(bal.debits_posted), func.sum(bal.credits_posted),
                   func.sum(bal.debits_pending), func.sum(bal.credits_pending))
            .join(ledger_balances, bal.account_id == acc.id).group_by(acc.currency)
        ):  # fmt: skip
            assert (dp, dn) == (cp, cn), currency
        currency_of = dict(conn.execute(select(acc.id, acc.currency)).all())
        for debit, credit, currency in conn.execute(select(t.debit, t.credit, t.currency)):
            assert currency_of[debit] == currency_of[credit] == currency


def check_nothing_after_now(uow: UnitOfWork) -> None:
    """No stored time, in any table (``DateTime`` and ``*_ms`` columns), is after the clock."""
    now = uow.clock.now()
    with uow:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, DateTime):
                    late = [v for (v,) in uow.connection.execute(select(column))
                            if v is not None and utc(v) > now]  # fmt: skip
                    assert not late, (str(column), late[:3], now)
                elif column.name.endswith("_ms"):
                    top = uow.connection.execute(select(func.max(column))).scalar()
                    assert top is None or top <= ms(now), (str(column), top, now)


def check_trace_verifies(uow: UnitOfWork) -> None:
    report = verify(uow, Verify(deep=False))
    assert report.ok, [str(b) for b in report.breaks]


CHECKS = (check_parcels_are_their_events, check_orders_follow_plans_and_parcels, check_stock,
          check_ledger, check_nothing_after_now, check_trace_verifies)  # fmt: skip


# --- what the lifecycle lets a report of facts do ------------------------------------------------
def predict(view: View, facts: list[StepFact], now: datetime) -> tuple[str, dict[str, str]]:
    """Whether recording ``facts`` must succeed ("ok"), fail on the lifecycle table alone
    ("lifecycle") or fail otherwise ("refused"); on success, each moved parcel's new state.
    Facts apply in time order; a bag's fact moves each parcel inside it."""
    state = {pid: (ParcelStatus(p["status"]), p["status_at"]) for pid, p in view.parcels.items()}
    opened = {bid for bid, b in view.bags.items() if b["opened"]}
    if any(f.at > now for f in facts):
        return "refused", {}
    for i, fact in enumerate(sorted(facts, key=lambda f: f.at)):  # stable for equal times
        kind, ident = view.subjects[fact.subject]
        if kind == "bag":
            if fact.step not in BAG_STEPS or ident in opened:
                return "refused", {}
            moved = [str(p["id"]) for p in view.members(ident)]
            if fact.step == Step.DECONSOLIDATED:
                opened.add(ident)  # its parcels are on their own from here on
        else:
            if fact.step in NOT_PARCEL_STEPS:  # packing's, bagging's or a bag's own step
                return "refused", {}
            bag = view.parcels[ident]["consolidation_id"]
            if bag is not None and bag not in opened and fact.step not in IN_BAG_STEPS:
                return "refused", {}
            moved = [ident]
        for pid in moved:
            current, since = state[pid]
            if fact.step not in ALLOWED[current]:
                return ("lifecycle" if i == 0 else "refused"), {}
            if fact.at < since or (kind == "parcel" and fact.step == Step.CONSOLIDATED):
                return "refused", {}  # bagging is consolidate's: a bag with its parcels
            state[pid] = (advance(pid, current, fact.step) or current, fact.at)
    return "ok", {pid: s.value for pid, (s, _t) in state.items()
                  if s != view.parcels[pid]["status"]}  # fmt: skip


def legal_facts(view: View, at: datetime) -> list[StepFact]:
    """Every single fact the lifecycle allows at ``at``, on a parcel or on a bag."""
    out = []
    for p in view.parcels.values():
        steps = ALLOWED[ParcelStatus(p["status"])] - NOT_PARCEL_STEPS
        bag = p["consolidation_id"]
        if bag is not None and not view.bags[bag]["opened"]:
            steps &= IN_BAG_STEPS
        out += [StepFact(p["tracking_no"], s, at) for s in sorted(steps) if at >= p["status_at"]]
    for bid, b in view.bags.items():
        inside = view.members(bid)
        if b["opened"] or any(at < p["status_at"] for p in inside):
            continue
        common = set(BAG_STEPS)
        for p in inside:
            common &= ALLOWED[ParcelStatus(p["status"])]
        out += [StepFact(b["sscc"], s, at) for s in sorted(common)]
    return out


def after_facts(view: View, facts: list[StepFact], now: datetime) -> View:
    """The view once ``facts`` (predicted "ok") are recorded."""
    _verdict, moved = predict(view, facts, now)
    touched = {view.subjects[f.subject] for f in facts}
    bag_ids = {i for k, i in touched if k == "bag"}
    parcels = {
        pid: {**p, "status": moved.get(pid, p["status"]),
              "status_at": max([p["status_at"], *(f.at for f in facts)])}
        if ("parcel", pid) in touched or p["consolidation_id"] in bag_ids else p
        for pid, p in view.parcels.items()
    }  # fmt: skip
    bags = dict(view.bags)
    for f in facts:
        kind, ident = view.subjects[f.subject]
        if kind == "bag" and f.step == Step.DECONSOLIDATED:
            bags[ident] = {**bags[ident], "opened": True}
    return View(parcels, bags, view.orders)
