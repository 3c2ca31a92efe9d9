"""The order and parcel lifecycle as a state machine: random sequences of the real use cases on a
real store (SQLite), with the store's invariants (``conftest.CHECKS``) checked after every step.

The rules capture, pay, expire, cancel, plan, pack and bag orders, move the clock, and record
steps on parcels and bags, legal and illegal ones. Each rule predicts, from the store and the
lifecycle tables, whether the use case must accept or refuse; a refusal must change nothing.
Two example trips run the same checks on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from tests.simulation.conftest import (
    CHECKS,
    POOL,
    UNPACKED,
    View,
    after_facts,
    legal_facts,
    packed_and_bagged,
    predict,
    read_view,
    snapshot,
    step_on,
    world_platform,
)
from xborder.bootstrap import Platform
from xborder.domain.clock import SettableClock
from xborder.domain.errors import Conflict, InvalidValue
from xborder.domain.lifecycle import InvalidTransition, ParcelStatus, Step
from xborder.domain.money import Money
from xborder.domain.order_rules import OrderBatch
from xborder.domain.orders import OrderStatus, PaymentRecord
from xborder.domain.parties import Role
from xborder.domain.world import World
from xborder.services.capture import capture_batch
from xborder.services.order_states import CancelOrders, ExpireUnpaid, cancel_orders, expire_unpaid
from xborder.services.parcels import (
    PackOrders,
    RecordSteps,
    StepFact,
    pack_orders,
    record_steps,
)
from xborder.services.payments import RecordPayments, record_payments
from xborder.services.planning import Consolidate, PlanFulfilment, consolidate, plan_fulfilment
from xborder.simulation.order_generator import generate_orders
from xborder.store.engine import make_engine
from xborder.store.schema_planning import plan_assignments
from xborder.store.uow import UnitOfWork

O, S = OrderStatus, Step  # noqa: E741
BAGGABLE = {ParcelStatus.PACKED, ParcelStatus.EXPORT_CLEARED}
SMOOTH = frozenset({S.EXPORT_RELEASED, S.DEPARTED, S.ARRIVED, S.DECONSOLIDATED,
                    S.IMPORT_RELEASED, S.OUT_FOR_DELIVERY, S.DELIVERED})  # fmt: skip
# Facts may name the party that records them (several parties in one report, some at the same
# instant: the ledger must still keep each parcel's events in order).
NAMED_PARTIES = True
SETTINGS = settings(
    max_examples=20, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self, store: Path, world: World) -> None:
        super().__init__()
        self.store, self.world = store, world
        self.engine = make_engine(f"sqlite:///{store}")
        self.platform, self.clock = world_platform(self.engine, world)
        self.clock.advance(timedelta(days=1))  # orders are placed on days that have passed
        self.provider = next(p.id for p in world.parties if p.has(Role.PAYMENT_PROVIDER))
        self.parties = sorted(p.id for p in world.parties)
        self.batches: list[OrderBatch] = []
        self.serial = itertools.count(1)

    def teardown(self) -> None:
        self.engine.dispose()
        self.store.unlink(missing_ok=True)

    def uow(self) -> UnitOfWork:
        return self.platform.uow()

    def view(self) -> View:
        return read_view(self.uow())

    def refused(self, call: Any, kind: type[Exception] | tuple[type[Exception], ...]) -> None:
        """``call`` must raise ``kind`` and leave the store exactly as it was."""
        before = snapshot(self.uow())
        with pytest.raises(kind):
            call()
        assert snapshot(self.uow()) == before, "a refused use case changed the store"

    # --- orders ------------------------------------------------------------------------------
    @initialize(data=st.data(), n=st.integers(1, 4), work=st.booleans())
    def first_orders(self, data: st.DataObject, n: int, work: bool) -> None:
        """Start with a few orders, often packed and bagged, so that steps have subjects."""
        self.capture(data, n)
        if work:
            self.work(data)

    @rule(data=st.data(), n=st.integers(1, 4))
    def capture(self, data: st.DataObject, n: int) -> None:
        # n of a day's orders. (generate_orders itself fails on a small n whose orders include
        # none into China: numpy cannot build resident ids for an empty selection.)
        day = (self.clock.now() - timedelta(days=1)).date()
        pool = generate_orders(self.world, POOL, seed=next(self.serial), day=day)
        recs = data.draw(st.lists(st.integers(0, POOL - 1), min_size=n, max_size=n, unique=True))
        keep = pl.col("rec").is_in(recs)
        batch = OrderBatch(pool.orders.filter(keep), pool.lines.filter(keep))
        before = len(self.view().orders)
        report = capture_batch(self.uow(), batch)
        assert (report.created, report.rejected) == (n, 0), report.errors
        assert len(self.view().orders) == before + n
        self.batches.append(batch)

    @rule(data=st.data())
    def capture_again(self, data: st.DataObject) -> None:
        if self.batches:
            batch = data.draw(st.sampled_from(self.batches))
            before = snapshot(self.uow())
            report = capture_batch(self.uow(), batch)
            assert (report.created, report.existing) == (0, batch.orders.height)
            assert snapshot(self.uow()) == before

    @rule(data=st.data(), partly=st.booleans())
    def pay(self, data: st.DataObject, partly: bool) -> None:
        with self.uow() as uow:
            due = [r for r in uow.orders.awaiting_payment() if r["due"] > r["paid"]]
        if not due:
            return
        chosen = data.draw(st.lists(st.sampled_from(due), min_size=1, max_size=3,
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
        statuses = self.view().orders
        for r in chosen:
            assert statuses[int(r["id"])] == (O.PAID if int(r["id"]) in full else O.CAPTURED)
        before = snapshot(self.uow())  # the provider's file again: nothing new
        assert record_payments(self.uow(), command).already_stored == len(records)
        assert snapshot(self.uow()) == before

    @rule()
    def expire(self) -> None:
        cutoff = self.clock.now() - ExpireUnpaid().after
        with self.uow() as uow:
            stale = {
                int(r["id"]) for r in uow.orders.awaiting_payment() if r["placed_at"] <= cutoff
            }
        before = self.view().orders
        assert expire_unpaid(self.uow(), ExpireUnpaid()).cancelled == len(stale)
        after = self.view().orders
        assert {i for i in after if after[i] != before[i]} == stale
        assert all(after[i] == O.CANCELLED for i in stale)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        view = self.view()
        if not view.orders:
            return
        ids = data.draw(st.lists(st.sampled_from(sorted(view.orders)), min_size=1, max_size=2,
                                 unique=True))  # fmt: skip
        command = CancelOrders(tuple(ids))
        if any(i in view.packed_orders() or view.orders[i] not in UNPACKED for i in ids):
            self.refused(lambda: cancel_orders(self.uow(), command), InvalidTransition)
            return
        result = cancel_orders(self.uow(), command)
        already = sum(view.orders[i] == O.CANCELLED for i in ids)
        assert (result.cancelled, result.already_cancelled) == (len(ids) - already, already)
        assert all(self.view().orders[i] == O.CANCELLED for i in ids)

    @rule(replan=st.booleans())
    def plan(self, replan: bool) -> None:
        view = self.view()
        waiting = {i for i, s in view.orders.items() if s in (O.CAPTURED, O.PAID)}
        unpacked = {i for i, s in view.orders.items() if s == O.PLANNED} - view.packed_orders()
        again = unpacked if replan else set()
        result = plan_fulfilment(self.uow(), PlanFulfilment(replan=replan))
        wave = waiting | again
        assert (result.orders, result.released) == (len(wave), len(again))
        after = self.view().orders
        assert sum(after[i] == O.PLANNED for i in wave) == result.assigned
        assert all(after[i] == view.orders[i] for i in set(view.orders) - wave)

    # --- parcels -----------------------------------------------------------------------------
    def packable(self, view: View) -> list[int]:
        with self.uow() as uow:
            a = plan_assignments.c
            sourced = {int(i) for (i,) in uow.connection.execute(
                select(a.order_id).where(a.warehouse_id.is_not(None)))}  # fmt: skip
        return sorted(i for i in sourced - view.packed_orders() if view.orders[i] == O.PLANNED)

    @rule(data=st.data(), how=st.sampled_from(["all", "some", "one not packable", "future"]))
    def pack(self, data: st.DataObject, how: str) -> None:
        view = self.view()
        ready = self.packable(view)
        ids = data.draw(st.lists(st.sampled_from(ready), unique=True)) if ready else []
        if how == "future":
            later = self.clock.now() + timedelta(minutes=1)
            self.refused(lambda: pack_orders(self.uow(), PackOrders(at=later)), InvalidValue)
            return
        if how == "one not packable":
            others = sorted(set(view.orders) - set(ready))
            if others:
                command = PackOrders((*ids, data.draw(st.sampled_from(others))))
                self.refused(lambda: pack_orders(self.uow(), command), Conflict)
            return
        chosen = ready if how == "all" else ids
        result = pack_orders(self.uow(), PackOrders(None if how == "all" else tuple(chosen)))
        assert result.parcels == len(chosen)
        after = self.view()
        made = {int(p["order_id"]): p for p in after.parcels.values()}
        for oid in chosen:
            assert (made[oid]["status"], after.orders[oid]) == (ParcelStatus.PACKED, O.PLANNED)
            assert made[oid]["packed_at"] == self.clock.now()
        assert sorted(result.tracking_numbers) == sorted(made[o]["tracking_no"] for o in chosen)

    @rule(today_only=st.booleans())
    def bag(self, today_only: bool) -> None:
        view, today = self.view(), self.clock.now().date()
        due = {pid for pid, p in view.parcels.items()
               if p["lane_id"] and not p["consolidation_id"] and p["status"] in BAGGABLE
               and not (today_only and (p["departure_date"] or today) > today)}  # fmt: skip
        result = consolidate(self.uow(), Consolidate(today if today_only else None))
        assert result.parcels == len(due)
        after = self.view()
        for pid in due:
            assert after.parcels[pid]["status"] == ParcelStatus.CONSOLIDATED
            assert after.parcels[pid]["consolidation_id"] in result.bag_ids

    @rule(data=st.data())
    def work(self, data: st.DataObject) -> None:
        """An operator's cycle: plan the open orders, pack them, bag the parcels."""
        self.plan(False)
        self.pack(data, "all")
        self.bag(False)

    @rule(minutes=st.integers(0, 3 * 24 * 60))
    def tick(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    def record(self, facts: list[StepFact]) -> None:
        view = self.view()
        verdict, moved = predict(view, facts, self.clock.now())
        command = RecordSteps(tuple(facts))
        if verdict != "ok":
            kind = InvalidTransition if verdict == "lifecycle" else (Conflict, InvalidValue)
            self.refused(lambda: record_steps(self.uow(), command), kind)
            return
        report = record_steps(self.uow(), command)
        after = self.view()
        assert report.events == len(facts)
        for pid, p in after.parcels.items():
            assert p["status"] == moved.get(pid, view.parcels[pid]["status"]), p["tracking_no"]
        changed = Counter(s for i, s in after.orders.items() if s != view.orders[i])
        assert report.orders_moved == dict(changed)

    def legal_report(
        self, data: st.DataObject, n: int, shift: int = 0, only: frozenset[Step] = frozenset(Step),
        about: str | None = None,
    ) -> None:  # fmt: skip
        """Up to ``n`` facts (steps among ``only``; all ``about`` one subject if given) in one
        report, each allowed after those before it; the last one dated ``shift`` minutes from
        now (so maybe before the others)."""
        now, view = self.clock.now(), self.view()
        facts: list[StepFact] = []
        while len(facts) < n and (options := [
            f for f in legal_facts(view, now) if f.step in only and about in (None, f.subject)
        ]):  # fmt: skip
            fact = data.draw(st.sampled_from(options))
            if NAMED_PARTIES and data.draw(st.booleans()):  # recorded by a named party
                party = data.draw(st.sampled_from(self.parties))
                fact = StepFact(fact.subject, fact.step, fact.at, party)
            facts.append(fact)
            view = after_facts(view, facts[-1:], now)
        if facts:
            last = facts[-1]
            at = now + timedelta(minutes=shift)
            facts[-1] = StepFact(last.subject, last.step, at, last.party)
            self.record(facts)

    @rule(data=st.data(), n=st.integers(1, 4), shift=st.sampled_from([0, 0, -30]))
    def report(self, data: st.DataObject, n: int, shift: int) -> None:
        """A carrier's report of a few allowed facts, on any subjects or on one."""
        now = self.clock.now()
        subjects = sorted({f.subject for f in legal_facts(self.view(), now)})
        one: str | None = None
        if data.draw(st.booleans()) and subjects:
            one = data.draw(st.sampled_from(subjects))
        self.legal_report(data, n, shift, about=one)

    @rule(data=st.data(), n=st.integers(1, 8))
    def journey(self, data: st.DataObject, n: int) -> None:
        """Allowed facts without mishaps, an hour apart, one report each: parcels get far (to
        their buyers) in few rules."""
        for _ in range(n):
            self.clock.advance(timedelta(hours=1))
            self.legal_report(data, 1, only=SMOOTH)

    @rule(data=st.data(), step=st.sampled_from(list(Step)), shift=st.sampled_from([0, 0, -90, 5]))
    def any_step(self, data: st.DataObject, step: Step, shift: int) -> None:
        """Any step on any parcel or bag: now, an hour and a half ago, or in the future."""
        subjects = sorted(self.view().subjects)
        if subjects:
            subject = data.draw(st.sampled_from(subjects))
            self.record([StepFact(subject, step, self.clock.now() + timedelta(minutes=shift))])

    @rule(data=st.data())
    def every_illegal_step(self, data: st.DataObject) -> None:
        """Every step the lifecycle does not allow one parcel or bag now is refused, and all
        those refusals together change nothing."""
        view, now = self.view(), self.clock.now()
        if not view.subjects:
            return
        subject = data.draw(st.sampled_from(sorted(view.subjects)))
        before = snapshot(self.uow())
        for step in Step:
            facts = [StepFact(subject, step, now)]
            verdict, _moved = predict(view, facts, now)
            if verdict != "ok":
                kind = InvalidTransition if verdict == "lifecycle" else (Conflict, InvalidValue)
                with pytest.raises(kind):
                    record_steps(self.uow(), RecordSteps(tuple(facts)))
        assert snapshot(self.uow()) == before

    @invariant()
    def store_is_consistent(self) -> None:
        for check in CHECKS:
            check(self.uow())


def test_lifecycle_machine(tmp_path: Path, sqlite_template: Path, demo_world: World) -> None:
    stores = itertools.count()

    class OnAFreshStore(LifecycleMachine):
        def __init__(self) -> None:
            path = tmp_path / f"store{next(stores)}.db"
            shutil.copy(sqlite_template, path)
            super().__init__(path, demo_world)

    run_state_machine_as_test(OnAFreshStore, settings=SETTINGS)


# --- example trips, on SQLite and PostgreSQL ---------------------------------------------------
def test_a_bagged_parcel_travels_to_its_buyer(
    platform: Platform, clock: SettableClock, demo_world: World
) -> None:
    view = packed_and_bagged(platform, clock, demo_world)
    bag_id, bag = next(iter(view.bags.items()))
    parcel = view.members(bag_id)[0]
    for step in (S.EXPORT_RELEASED, S.DEPARTED, S.ARRIVED, S.DECONSOLIDATED):
        step_on(platform, clock, (bag["sscc"], step))
    with pytest.raises(InvalidTransition, match=parcel["tracking_no"]):
        step_on(platform, clock, (parcel["tracking_no"], S.DELIVERED))
    for step in (S.IMPORT_RELEASED, S.OUT_FOR_DELIVERY, S.DELIVERY_ATTEMPT,
                 S.OUT_FOR_DELIVERY, S.DELIVERED):  # fmt: skip
        step_on(platform, clock, (parcel["tracking_no"], step))
    after = read_view(platform.uow())
    assert after.parcels[str(parcel["id"])]["status"] == ParcelStatus.DELIVERED
    assert after.orders[int(parcel["order_id"])] == O.DELIVERED
    for other in view.members(bag_id)[1:]:  # still arrived, waiting for import clearance
        assert after.parcels[str(other["id"])]["status"] == ParcelStatus.ARRIVED
    for check in CHECKS:
        check(platform.uow())


def test_a_report_may_open_a_bag_and_then_move_its_parcels(
    platform: Platform, clock: SettableClock, demo_world: World
) -> None:
    """A carrier's report holds the bag's unpacking and then a parcel's own step: the parcel is
    on its own from the unpacking on, but not before it (facts apply in time order)."""
    view = packed_and_bagged(platform, clock, demo_world)
    bag_id, bag = next(iter(view.bags.items()))
    parcel = view.members(bag_id)[0]
    for step in (S.DEPARTED, S.ARRIVED):
        step_on(platform, clock, (bag["sscc"], step))
    clock.advance(timedelta(hours=1))
    held, unpacked = (
        StepFact(parcel["tracking_no"], S.IMPORT_HELD, clock.now()),
        StepFact(bag["sscc"], S.DECONSOLIDATED, clock.now() + timedelta(minutes=-5)),
    )
    early = StepFact(held.subject, held.step, unpacked.at - timedelta(minutes=1))
    before = snapshot(platform.uow())
    with pytest.raises(Conflict, match="inside bag"):
        record_steps(platform.uow(), RecordSteps((unpacked, early)))
    assert snapshot(platform.uow()) == before
    record_steps(platform.uow(), RecordSteps((held, unpacked)))  # listed out of time order
    after = read_view(platform.uow())
    assert after.parcels[str(parcel["id"])]["status"] == ParcelStatus.IMPORT_HELD
    assert after.bags[bag_id]["opened"]
    for check in CHECKS:
        check(platform.uow())


def test_same_time_facts_by_different_parties_keep_their_order(
    platform: Platform, clock: SettableClock, demo_world: World
) -> None:
    """A report lists a hold, a broker's inspection and the release, all in the same minute:
    the trace must fold them in that order, as the parcel's state did."""
    view = packed_and_bagged(platform, clock, demo_world)
    bag_id, bag = next(iter(view.bags.items()))
    parcel = view.members(bag_id)[0]
    for step in (S.DEPARTED, S.ARRIVED, S.DECONSOLIDATED):
        step_on(platform, clock, (bag["sscc"], step))
    broker = next(p.id for p in demo_world.parties if p.has(Role.CUSTOMS_BROKER))
    clock.advance(timedelta(hours=1))
    tracking, now = parcel["tracking_no"], clock.now()
    record_steps(platform.uow(), RecordSteps((
        StepFact(tracking, S.IMPORT_HELD, now), StepFact(tracking, S.IMPORT_INSPECTED, now, broker),
        StepFact(tracking, S.IMPORT_RELEASED, now),
    )))  # fmt: skip
    assert (
        read_view(platform.uow()).parcels[str(parcel["id"])]["status"]
        == ParcelStatus.IMPORT_CLEARED
    )
    for check in CHECKS:
        check(platform.uow())


def test_a_small_batch_with_no_order_into_china_generates(demo_world: World) -> None:
    """The generator once failed on a batch without a China import (no resident ids to draw)."""
    for seed in range(30):
        batch = generate_orders(demo_world, 3, seed=seed)
        assert batch.orders.height == 3
