"""The order and parcel lifecycle as a state machine: random sequences of the real use cases on a
real store (SQLite), with the store's invariants checked after every step.

The rules capture, pay, cancel, plan, pack and bag orders, move the clock, and record steps on
parcels and bags, legal ones and illegal ones. Each rule predicts from the store and the
lifecycle tables whether the use case must accept or refuse; a refusal must change nothing. The
invariants hold whatever happened: a parcel's stored state is the fold of its trace events, an
order's state is what its parcels make of it, stock and the ledger add up, nothing is dated after
the clock's now, and the trace ledger verifies.
"""

from __future__ import annotations

import itertools
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import DateTime, func, select

from tests.simulation.conftest import world_platform
from xborder.domain.errors import Conflict, InvalidValue
from xborder.domain.lifecycle import (
    ALLOWED,
    InvalidTransition,
    ParcelStatus,
    Step,
    advance,
    fold,
    order_status_from_parcels,
)
from xborder.domain.money import Money
from xborder.domain.order_rules import OrderBatch
from xborder.domain.orders import OrderStatus, PaymentRecord
from xborder.domain.parties import Role
from xborder.domain.world import World
from xborder.services.capture import capture_batch
from xborder.services.order_states import CancelOrders, cancel_orders
from xborder.services.parcels import (
    BAG_STEPS,
    IN_BAG_STEPS,
    PackOrders,
    RecordSteps,
    StepFact,
    pack_orders,
    record_steps,
)
from xborder.services.payments import RecordPayments, record_payments
from xborder.services.planning import Consolidate, PlanFulfilment, consolidate, plan_fulfilment
from xborder.services.trace import Verify, history_rows, verify
from xborder.simulation.order_generator import generate_orders
from xborder.store.engine import make_engine
from xborder.store.schema import inventory, orders
from xborder.store.schema_planning import (
    consolidations,
    inventory_reservations,
    plan_assignments,
)
from xborder.store.schema_planning import parcels as parcel_table
from xborder.store.schema_settlement import ledger_accounts, ledger_balances, ledger_transfers
from xborder.store.tables import metadata
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import sscc_link
from xborder.trace.lifecycle import step_of

O = OrderStatus  # noqa: E741
REFUSALS = (Conflict, InvalidValue)  # InvalidTransition is a Conflict
CANCELLABLE = {O.CAPTURED, O.PAID, O.PLANNED, O.CANCELLED}
BAGGABLE = {ParcelStatus.PACKED, ParcelStatus.EXPORT_CLEARED}
import os
from hypothesis import Phase

DEV_PHASES = (
    [Phase.explicit, Phase.reuse, Phase.generate] if os.environ.get("NOSHRINK") else list(Phase)
)
POOL = 40  # orders generated per capture, a few of which are placed
SETTINGS = settings(
    max_examples=15, stateful_step_count=25, deadline=None, phases=DEV_PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip


def _utc(value: Any) -> Any:
    """SQLite hands back naive times (UTC); compare them as aware ones."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _last_own_step(uow: UnitOfWork, sscc: str) -> Step | None:
    """The step of an object's own latest event (a bag's, without its members' own steps)."""
    key = sscc_link(sscc)
    columns = ("id", "object_id", "event_time_ms", "event_type", "action", "biz_step",
               "disposition")  # fmt: skip
    oid = uow.trace.object_ids([key])[key]
    own = [r for r in uow.trace.history(oid, columns) if r.object_id == oid]
    last = max(own, key=lambda r: (r.event_time_ms, r.id))
    return step_of(last.event_type, last.action, last.biz_step, last.disposition)


# --- what the store holds, as plain values -------------------------------------------------
@dataclass
class View:
    """Parcels (by id), bags (by id) and orders' statuses, read from the store."""

    parcels: dict[str, dict[str, Any]]
    bags: dict[str, dict[str, Any]]
    orders: dict[int, str]
    subjects: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (kind, id)

    def __post_init__(self) -> None:
        for pid, p in self.parcels.items():
            self.subjects[p["tracking_no"]] = self.subjects[p["sscc"]] = ("parcel", pid)
        for bid, b in self.bags.items():
            self.subjects[b["sscc"]] = ("bag", bid)

    def closed(self, parcel: dict[str, Any]) -> bool:
        bag = parcel["consolidation_id"]
        return bag is not None and not self.bags[bag]["opened"]

    def members(self, bag_id: str) -> list[dict[str, Any]]:
        return [p for p in self.parcels.values() if p["consolidation_id"] == bag_id]


def read_view(uow: UnitOfWork) -> View:
    with uow:
        frame = uow.parcels.with_status([s.value for s in ParcelStatus])
        parcels = {str(p["id"]): p for p in frame.iter_rows(named=True)}
        departs = uow.connection.execute(select(parcel_table.c.id, parcel_table.c.departure_date))
        for pid, day in departs:
            parcels[str(pid)]["departure_date"] = day
        c = consolidations.c
        bags = {
            str(r.id): {"sscc": r.sscc, "status": r.status, "status_at": _utc(r.status_at),
                        "opened": r.opened_at is not None, "opened_at": _utc(r.opened_at)}
            for r in uow.connection.execute(
                select(c.id, c.sscc, c.status, c.status_at, c.opened_at))
        }  # fmt: skip
        statuses = dict(uow.connection.execute(select(orders.c.id, orders.c.status)).all())
    return View(parcels, bags, {int(k): str(v) for k, v in statuses.items()})


def snapshot(uow: UnitOfWork) -> dict[str, Any]:
    """Everything a refused use case must leave as it was: every table's row count, every
    parcel's, bag's and order's state, and the stock."""
    view = read_view(uow)
    with uow:
        conn = uow.connection
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                  for t in metadata.sorted_tables}  # fmt: skip
        stock = sorted(conn.execute(select(inventory)).all())
    return {"counts": counts, "parcels": view.parcels, "bags": view.bags, "orders": view.orders,
            "stock": stock}  # fmt: skip


def predict(view: View, facts: list[StepFact], now: datetime) -> tuple[str, dict[str, str]]:
    """Whether recording ``facts`` must succeed ("ok"), fail on the lifecycle table alone
    ("lifecycle") or fail otherwise ("refused"); on success, each moved parcel's new state."""
    state = {pid: (ParcelStatus(p["status"]), p["status_at"]) for pid, p in view.parcels.items()}
    lifecycle_only = True
    for fact in sorted(facts, key=lambda f: f.at):  # stable: same times keep their order
        kind, ident = view.subjects[fact.subject]
        if fact.at > now:
            return "refused", {}
        if kind == "bag":
            if fact.step not in BAG_STEPS or view.bags[ident]["opened"]:
                return "refused", {}
            moved = [p["id"] for p in view.members(ident)]
        else:
            if view.closed(view.parcels[ident]) and fact.step not in IN_BAG_STEPS:
                return "refused", {}
            moved = [ident]
        for pid in moved:
            current, since = state[pid]
            if fact.step not in ALLOWED[current]:
                return ("lifecycle" if lifecycle_only else "refused"), {}
            if fact.at < since or (kind == "parcel" and fact.step == Step.CONSOLIDATED):
                return "refused", {}  # bagging is consolidate's, with the bag's members
            after = advance("p", current, fact.step)
            assert after is not None
            state[pid] = (after, fact.at)
        lifecycle_only = False
    moved_to = {pid: s.value for pid, (s, _t) in state.items() if s != view.parcels[pid]["status"]}
    return "ok", moved_to


def legal_facts(view: View, at: datetime) -> list[StepFact]:
    """Every single fact the lifecycle allows now, on a parcel or on a bag."""
    out = []
    for p in view.parcels.values():
        steps = ALLOWED[ParcelStatus(p["status"])] - {Step.CONSOLIDATED}
        if view.closed(p):
            steps &= IN_BAG_STEPS
        out += [StepFact(p["tracking_no"], s, at) for s in sorted(steps) if at >= p["status_at"]]
    for bid, b in view.bags.items():
        inside = view.members(bid)
        if b["opened"] or any(at < p["status_at"] for p in inside):
            continue
        steps = set(BAG_STEPS)
        for p in inside:
            steps &= ALLOWED[ParcelStatus(p["status"])]
        out += [StepFact(b["sscc"], s, at) for s in sorted(steps)]
    return out


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self, store: Path, world: World) -> None:
        super().__init__()
        self.store, self.world = store, world
        self.engine = make_engine(f"sqlite:///{store}")
        self.platform, self.clock = world_platform(self.engine, world)
        self.clock.advance(timedelta(days=1))  # orders are placed on days that have passed
        self.provider = next(p.id for p in world.parties if p.has(Role.PAYMENT_PROVIDER))
        self.batches: list[OrderBatch] = []
        self.serial = itertools.count(1)

    def teardown(self) -> None:
        self.engine.dispose()
        self.store.unlink(missing_ok=True)

    def uow(self) -> UnitOfWork:
        return self.platform.uow()

    def refused(self, call: Any, kind: type[Exception] | tuple[type[Exception], ...]) -> None:
        """``call`` must raise ``kind`` and leave the store exactly as it was."""
        before = snapshot(self.uow())
        try:
            call()
        except kind:
            assert snapshot(self.uow()) == before, "a refused use case changed the store"
            return
        raise AssertionError(f"expected {kind} to be raised")

    # --- orders ------------------------------------------------------------------------------
    @rule(data=st.data(), n=st.integers(1, 4))
    def capture(self, data: st.DataObject, n: int) -> None:
        day = (self.clock.now() - timedelta(days=1)).date()
        # A day's orders, of which n are placed. (generate_orders fails on a small n whose
        # orders include none into China: numpy cannot build resident ids for none of them.)
        pool = generate_orders(self.world, POOL, seed=next(self.serial), day=day)
        recs = data.draw(st.lists(st.integers(0, POOL - 1), min_size=n, max_size=n, unique=True))
        keep = pl.col("rec").is_in(recs)
        batch = OrderBatch(pool.orders.filter(keep), pool.lines.filter(keep))
        report = capture_batch(self.uow(), batch)
        assert (report.created, report.rejected) == (n, 0), report.errors
        self.batches.append(batch)

    @rule(data=st.data())
    def capture_again(self, data: st.DataObject) -> None:
        if not self.batches:
            return
        batch = data.draw(st.sampled_from(self.batches))
        before = snapshot(self.uow())
        report = capture_batch(self.uow(), batch)
        assert (report.created, report.existing) == (0, batch.orders.height)
        assert snapshot(self.uow()) == before

    @rule(data=st.data(), partly=st.booleans())
    def pay(self, data: st.DataObject, partly: bool) -> None:
        with self.uow() as uow:
            owing = [r for r in uow.orders.awaiting_payment() if r["due"] > r["paid"]]
        if not owing:
            return
        chosen = data.draw(st.lists(st.sampled_from(owing), min_size=1, max_size=3,
                                    unique_by=lambda r: int(r["id"])))  # fmt: skip
        records, full = [], set()
        for r in chosen:
            owed = int(r["due"]) - int(r["paid"])
            minor = owed // 2 if partly and owed > 1 else owed
            full |= {int(r["id"])} if minor == owed else set()
            records.append(PaymentRecord(
                channel=r["channel"], external_id=r["external_id"], provider=self.provider,
                transaction_id=f"tx-{next(self.serial)}", payer_name=r["buyer_name"],
                amount=Money.from_minor(minor, r["currency"]).amount, currency=r["currency"],
                paid_at=self.clock.now(),
            ))  # fmt: skip
        command = RecordPayments(tuple(records))
        report = record_payments(self.uow(), command)
        assert (report.recorded, report.orders_paid) == (len(records), len(full))
        statuses = read_view(self.uow()).orders
        for r in chosen:
            assert statuses[int(r["id"])] == (O.PAID if int(r["id"]) in full else O.CAPTURED)
        before = snapshot(self.uow())  # a provider's repeated file changes nothing
        assert record_payments(self.uow(), command).already_stored == len(records)
        assert snapshot(self.uow()) == before

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        view = read_view(self.uow())
        if not view.orders:
            return
        ids = data.draw(st.lists(st.sampled_from(sorted(view.orders)), min_size=1, max_size=2,
                                 unique=True))  # fmt: skip
        packed = {int(p["order_id"]) for p in view.parcels.values()}
        command = CancelOrders(tuple(ids))
        if any(i in packed or view.orders[i] not in CANCELLABLE for i in ids):
            self.refused(lambda: cancel_orders(self.uow(), command), InvalidTransition)
            return
        result = cancel_orders(self.uow(), command)
        already = sum(view.orders[i] == O.CANCELLED for i in ids)
        assert (result.cancelled, result.already_cancelled) == (len(ids) - already, already)
        after = read_view(self.uow()).orders
        assert all(after[i] == O.CANCELLED for i in ids)

    @rule(replan=st.booleans())
    def plan(self, replan: bool) -> None:
        view = read_view(self.uow())
        packed = {int(p["order_id"]) for p in view.parcels.values()}
        open_ids = {i for i, s in view.orders.items() if s in (O.CAPTURED, O.PAID)}
        again = {i for i, s in view.orders.items() if s == O.PLANNED and i not in packed}
        result = plan_fulfilment(self.uow(), PlanFulfilment(replan=replan))
        wave = open_ids | (again if replan else set())
        assert (result.orders, result.released) == (len(wave), len(again) if replan else 0)
        after = read_view(self.uow()).orders
        assert sum(after[i] == O.PLANNED for i in wave) == result.assigned
        assert all(after[i] == view.orders[i] for i in set(view.orders) - wave)

    # --- parcels -----------------------------------------------------------------------------
    def packable(self, view: View) -> set[int]:
        with self.uow() as uow:
            a = plan_assignments.c
            sourced = {int(i) for (i,) in uow.connection.execute(
                select(a.order_id).where(a.warehouse_id.is_not(None)))}  # fmt: skip
        packed = {int(p["order_id"]) for p in view.parcels.values()}
        return {i for i in sourced - packed if view.orders[i] == O.PLANNED}

    @rule(data=st.data(), how=st.sampled_from(["all", "some", "one not packable", "future"]))
    def pack(self, data: st.DataObject, how: str) -> None:
        view = read_view(self.uow())
        ready = sorted(self.packable(view))
        ids = data.draw(st.lists(st.sampled_from(ready), unique=True)) if ready else []
        if how == "future":
            later = self.clock.now() + timedelta(hours=1)
            self.refused(lambda: pack_orders(self.uow(), PackOrders(at=later)), InvalidValue)
            return
        if how == "one not packable":
            others = sorted(set(view.orders) - set(ready))
            if not others:
                return
            command = PackOrders((*ids, data.draw(st.sampled_from(others))))
            self.refused(lambda: pack_orders(self.uow(), command), Conflict)
            return
        chosen = ready if how == "all" else ids
        result = pack_orders(self.uow(), PackOrders(None if how == "all" else tuple(chosen)))
        assert result.parcels == len(chosen)
        after = read_view(self.uow())
        new = {int(p["order_id"]): p for p in after.parcels.values()}
        for oid in chosen:
            assert new[oid]["status"] == ParcelStatus.PACKED and after.orders[oid] == O.PLANNED
            assert new[oid]["packed_at"] == self.clock.now()
        assert sorted(result.tracking_numbers) == sorted(new[o]["tracking_no"] for o in chosen)

    @rule(today_only=st.booleans())
    def bag(self, today_only: bool) -> None:
        view, today = read_view(self.uow()), self.clock.now().date()
        due = {
            pid
            for pid, p in view.parcels.items()
            if p["lane_id"]
            and not p["consolidation_id"]
            and p["status"] in BAGGABLE
            and not (today_only and p["departure_date"] and p["departure_date"] > today)
        }
        result = consolidate(self.uow(), Consolidate(today if today_only else None))
        assert result.parcels == len(due)
        after = read_view(self.uow())
        for pid in due:
            assert after.parcels[pid]["status"] == ParcelStatus.CONSOLIDATED
            assert after.parcels[pid]["consolidation_id"] in result.bag_ids

    @rule(minutes=st.integers(0, 3 * 24 * 60))
    def tick(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    def record(self, facts: list[StepFact]) -> None:
        view = read_view(self.uow())
        verdict, moved = predict(view, facts, self.clock.now())
        command = RecordSteps(tuple(facts))
        if verdict != "ok":
            kind = InvalidTransition if verdict == "lifecycle" else REFUSALS
            self.refused(lambda: record_steps(self.uow(), command), kind)
            return
        report = record_steps(self.uow(), command)
        assert report.events == len(facts)
        after = read_view(self.uow())
        for pid, p in after.parcels.items():
            assert p["status"] == moved.get(pid, view.parcels[pid]["status"]), p["tracking_no"]

    @rule(data=st.data())
    def legal_steps(self, data: st.DataObject) -> None:
        """One or two facts the lifecycle allows (the second one allowed after the first)."""
        now = self.clock.now()
        view = read_view(self.uow())
        first = legal_facts(view, now)
        if not first:
            return
        facts = [data.draw(st.sampled_from(first))]
        if data.draw(st.booleans()):
            _ok, moved = predict(view, facts, now)
            parcels = {k: {**p, "status": moved.get(k, p["status"]), "status_at": now}
                       if k in moved else p for k, p in view.parcels.items()}  # fmt: skip
            bags = dict(view.bags)
            bag = view.subjects[facts[0].subject]
            if bag[0] == "bag" and facts[0].step == Step.DECONSOLIDATED:
                bags[bag[1]] = {**bags[bag[1]], "opened": True}
            second = legal_facts(View(parcels, bags, view.orders), now)
            facts += [data.draw(st.sampled_from(second))] if second else []
        self.record(facts)

    @rule(data=st.data(), step=st.sampled_from(list(Step)),
          shift=st.sampled_from([0, 0, 0, -90, 90]))  # fmt: skip
    def any_step(self, data: st.DataObject, step: Step, shift: int) -> None:
        """Any step on any parcel or bag, now, an hour and a half ago or in the future."""
        view = read_view(self.uow())
        if not view.subjects:
            return
        subject = data.draw(st.sampled_from(sorted(view.subjects)))
        self.record([StepFact(subject, step, self.clock.now() + timedelta(minutes=shift))])

    # --- invariants --------------------------------------------------------------------------
    @invariant()
    def parcel_state_is_the_fold_of_its_events(self) -> None:
        view = read_view(self.uow())
        with self.uow() as uow:
            keys = [sscc_link(p["sscc"]) for p in view.parcels.values()]
            ids = uow.trace.object_ids(keys) if keys else {}
            for p in view.parcels.values():
                rows = sorted(history_rows(uow, ids[sscc_link(p["sscc"])]),
                              key=lambda r: (r.event_time_ms, r.id))  # fmt: skip
                steps = [step_of(r.event_type, r.action, r.biz_step, r.disposition) for r in rows]
                assert None not in steps, (p["tracking_no"], rows)
                assert fold(p["tracking_no"], [s for s in steps if s]) == p["status"]
                times = {
                    s: [r.event_time_ms for r, x in zip(rows, steps, strict=True) if x == s]
                    for s in Step
                }
                assert _ms(p["status_at"]) == rows[-1].event_time_ms
                assert _ms(p["packed_at"]) == times[Step.PICKED_PACKED][0]
                for column, step in (("departed_at", Step.DEPARTED),
                                     ("delivered_at", Step.DELIVERED)):  # fmt: skip
                    first = times[step][0] if times[step] else None
                    stored = _ms(p[column]) if p[column] is not None else None
                    assert stored == first, (p["tracking_no"], column)
            for bid, b in view.bags.items():  # a bag's state is its own last step
                last = _last_own_step(uow, b["sscc"])
                assert last is not None and b["status"] == last.value, bid
                assert b["opened"] == (last == Step.DECONSOLIDATED), bid

    @invariant()
    def orders_follow_their_plans_and_parcels(self) -> None:
        view = read_view(self.uow())
        with self.uow() as uow:
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
                assert plans.get(oid) is not None and plans[oid].warehouse_id is not None, oid
            if oid not in per_order:
                assert status in CANCELLABLE, (oid, status)
                continue
            made = order_status_from_parcels(per_order[oid])
            assert status == (made or O.PLANNED), (oid, status, per_order[oid])

    @invariant()
    def stock_adds_up(self) -> None:
        view = read_view(self.uow())
        packed = {int(p["order_id"]) for p in view.parcels.values()}
        with self.uow() as uow:
            r = inventory_reservations.c
            held: Counter[tuple[str, str]] = Counter()
            for oid, wh, sku, qty in uow.connection.execute(select(r.order_id, r.warehouse_id,
                                                                   r.sku, r.qty)):  # fmt: skip
                assert view.orders[int(oid)] == O.PLANNED and int(oid) not in packed, oid
                held[(wh, sku)] += int(qty)
            for wh, sku, on_hand, reserved in uow.connection.execute(select(inventory)):
                assert 0 <= reserved <= on_hand and reserved == held[(wh, sku)], (wh, sku)

    @invariant()
    def ledger_is_balanced(self) -> None:
        with self.uow() as uow:
            acc, bal, t = ledger_accounts.c, ledger_balances.c, ledger_transfers.c
            sums = uow.connection.execute(
                select(acc.currency, func.sum(bal.debits_posted), func.sum(bal.credits_posted),
                       func.sum(bal.debits_pending), func.sum(bal.credits_pending))
                .join(ledger_balances, bal.account_id == acc.id).group_by(acc.currency)
            ).all()  # fmt: skip
            for currency, debits, credits, debits_pending, credits_pending in sums:
                assert (debits, debits_pending) == (credits, credits_pending), currency
            currency_of = dict(uow.connection.execute(select(acc.id, acc.currency)).all())
            for debit, credit, currency in uow.connection.execute(
                    select(t.debit, t.credit, t.currency)):  # fmt: skip
                assert currency_of[debit] == currency_of[credit] == currency

    @invariant()
    def nothing_is_dated_after_now(self) -> None:
        now = self.clock.now()
        with self.uow() as uow:
            for table in metadata.sorted_tables:
                for column in table.columns:
                    if isinstance(column.type, DateTime):
                        latest = [_utc(v) for (v,) in uow.connection.execute(select(column))]
                        assert all(v <= now for v in latest if v is not None), column
                    elif column.name.endswith("_ms"):
                        top = uow.connection.execute(select(func.max(column))).scalar()
                        assert top is None or top <= _ms(now), column

    @invariant()
    def trace_ledger_verifies(self) -> None:
        report = verify(self.uow(), Verify(deep=False))
        assert report.ok, [str(b) for b in report.breaks]


def test_lifecycle_machine(tmp_path: Path, sqlite_template: Path, demo_world: World) -> None:
    stores = itertools.count()

    def fresh() -> LifecycleMachine:
        path = tmp_path / f"store{next(stores)}.db"
        shutil.copy(sqlite_template, path)
        return LifecycleMachine(path, demo_world)

    run_state_machine_as_test(fresh, settings=SETTINGS)
