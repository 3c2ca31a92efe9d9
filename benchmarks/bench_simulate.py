"""The simulator end to end on the embedded store, against a process-per-parcel SimPy model.

Goal (issue 11): 1,000,000 parcels end to end in at most 120 s on the embedded store, and at
least 10x faster than a process-per-parcel SimPy model of the same flow measured in the same run.

Ours is the platform's own scenario runner (``xborder.simulation.scenario.run_scenario``): one
day of the demo world's orders, followed for three simulated weeks through every real use case
(capture, payments, planning, packing, bagging, carriers, customs, settlement) on SQLite in a
temporary directory. The baseline (``simpy_flow.py``) is the same flow, the same world, the same
generated orders (same seed) and the same horizon as one SimPy process per parcel; it keeps no
records. Both report delivered parcels and mean order-to-delivery days, so the two can be checked
for plausibility against each other.

The real run is timed per phase by wrapping the use cases the runner calls, and the trace
ledger's own writes (``capture``, ``register_objects``) inside them; after the run, the ledger's
rows and the settlement ledger's transfers are inserted again with a plain
``sqlite3.executemany`` into the same schema: the raw insert rates that bound any run recording
every event and every transfer. 1,000,000 parcels through the real engines
take far longer than a benchmark should, so its time is extrapolated from the measured rate and
labelled so.

    .venv/bin/python benchmarks/bench_simulate.py                      # 20,000 parcels
    .venv/bin/python benchmarks/bench_simulate.py --quick              # 2,000 (CI)
    .venv/bin/python benchmarks/bench_simulate.py --parcels 5000 --simpy-big 0
"""

from __future__ import annotations

import argparse
import functools
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xborder.services.parcels as parcels_service
import xborder.services.partners as partners_service
import xborder.services.planning as planning_service
import xborder.services.settlement_claims as claims_service
import xborder.services.settlement_escrow as escrow_service
import xborder.services.settlement_lifecycle as lifecycle_service
import xborder.simulation.scenario as scenario_module
from simpy_flow import FlowKpis, FlowModel, flow_orders
from xborder.bootstrap import bootstrap
from xborder.domain.clock import SettableClock
from xborder.domain.world import World
from xborder.services.kpis import MeasureKpis, measure_kpis
from xborder.services.world import read_world
from xborder.simulation.order_generator import generate_orders
from xborder.simulation.parties import SimulatedBuyers, SimulatedCarriers, SimulatedCustoms
from xborder.simulation.scenario import Scenario, run_scenario
from xborder.store.engine import make_engine
from xborder.store.migrate import upgrade
from xborder.trace.signing import KeyStore

ORDER_DAY = date(2026, 11, 10)
DAYS = 21  # orders on one day, followed for three weeks
GOAL_PARCELS, GOAL_SECONDS, GOAL_RATIO = 1_000_000, 120.0, 10.0
# the use cases the runner calls, by phase (names in ``xborder.simulation.scenario``)
PHASES = {
    "generate_orders": "generate orders",
    "load_world": "load world",
    "receive_inbound": "replenishment",
    "stock_positions": "replenishment",
    "announce_inbound": "replenishment",
    "capture_batch": "capture orders",
    "declare_orders": "customs declare + match",
    "match_declared": "customs declare + match",
    "collect_payments": "payments + expiry",
    "expire_unpaid": "payments + expiry",
    "plan_fulfilment": "plan",
    "pack_orders": "pack",
    "consolidate": "consolidate",
    "track_shipments": "carriers + customs",
    "clear_customs": "carriers + customs",
    "settle_lifecycle": "settlement",
}
# inside those use cases ("of which" lines): the ledgers' writes and the simulated parties
INNER = {
    "trace ledger writes": (
        (parcels_service, ("capture", "register_objects")),
        (planning_service, ("capture", "register_objects")),
    ),
    "lifecycle steps recorded": ((partners_service, ("record_steps",)),),
    "settlement ledger posting": (
        (escrow_service, ("post",)),
        (claims_service, ("post",)),
        (lifecycle_service, ("post",)),  # the batches it posts itself (several steps in one)
    ),
    "simulated parties (outside world)": (
        (SimulatedCarriers, ("track",)),
        (SimulatedCustoms, ("decide",)),
        (SimulatedBuyers, ("collect",)),
    ),
}


@dataclass
class Timer:
    seconds: dict[str, float] = field(default_factory=dict)

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                self.seconds[phase] = self.seconds.get(phase, 0.0) + spent

        return timed


@contextmanager
def instrumented(timer: Timer) -> Iterator[None]:
    """Time every use case the runner calls (and the trace writes inside them), then undo."""
    patches: list[tuple[ModuleType | type, str, Any]] = []
    for name, phase in PHASES.items():
        if hasattr(scenario_module, name):  # the runner may grow or rename its steps
            patches.append((scenario_module, name, getattr(scenario_module, name)))
            setattr(scenario_module, name, timer.wrap(phase, getattr(scenario_module, name)))
    for inner, places in INNER.items():
        for owner, names in places:
            for name in names:
                if hasattr(owner, name):
                    patches.append((owner, name, getattr(owner, name)))
                    setattr(owner, name, timer.wrap(inner, getattr(owner, name)))
    try:
        yield
    finally:
        for module, name, original in patches:
            setattr(module, name, original)


@dataclass
class RealRun:
    parcels: int
    seconds: float
    phases: dict[str, float]
    kpis: dict[str, Any]
    events: int
    transfers: int
    raw_rates: dict[str, float]  # rows/s by plain executemany, same schema: per table


def _until() -> datetime:
    return datetime.combine(ORDER_DAY + timedelta(days=DAYS), clock_time(23, 59), tzinfo=UTC)


def raw_insert_rates(db: Path, folder: Path, tables: tuple[str, ...]) -> dict[str, float]:
    """Rows/s of a plain ``sqlite3.executemany`` of each table's own rows into the same schema
    (a fresh store, same indexes, WAL and ``synchronous=NORMAL``), no checks of any kind."""
    path = folder / "raw.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    out: dict[str, float] = {}
    with sqlite3.connect(db) as src:
        for table in tables:
            cols = [str(r[1]) for r in src.execute(f"PRAGMA table_info({table})")]
            rows = src.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1").fetchall()
            marks = ", ".join("?" for _ in cols)
            start = time.perf_counter()
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
            raw.execute("COMMIT")
            elapsed = time.perf_counter() - start
            out[table] = len(rows) / elapsed if elapsed > 0 else float("nan")
    raw.close()
    return out


def real_run(world: World, parcels: int, seed: int) -> RealRun:
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as name:
        folder = Path(name)
        db = folder / "sim.db"
        clock = SettableClock(datetime.combine(ORDER_DAY, clock_time(0), tzinfo=UTC))
        platform = bootstrap(f"sqlite:///{db}", clock=clock, keys=KeyStore(folder / "keys"))
        timer = Timer()
        last = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            if time.perf_counter() - last[0] > 15 or done == total:
                last[0] = time.perf_counter()
                print(f"  ours: {stage} {done}/{total}", file=sys.stderr, flush=True)

        start = time.perf_counter()
        with instrumented(timer):
            scenario = Scenario(parcels, seed, ORDER_DAY, _until())
            tally = run_scenario(platform, clock, world, scenario, progress)
        seconds = time.perf_counter() - start
        overall = measure_kpis(platform.uow(), MeasureKpis()).overall  # the platform's summary
        platform.close()
        with sqlite3.connect(db) as conn:
            (transfers,) = conn.execute("SELECT count(*) FROM ledger_transfers").fetchone()
        reached = dict(tally.reached)
        kpis = {
            "paid": tally.orders_paid, "planned": tally.planned, "packed": tally.packed,
            "bags": tally.bags, "import_held": reached.get("import_held", 0),
            "delivered": overall["delivered"], "damaged": reached.get("damaged", 0),
            "lost": reached.get("lost", 0), "returned": reached.get("returned", 0),
            "mean_delivery_days": round(float(overall["delivery_days_mean"]), 3),
        }  # fmt: skip
        rates = raw_insert_rates(db, folder, ("trace_events", "ledger_transfers"))
        return RealRun(parcels, seconds, timer.seconds, kpis, tally.events, transfers, rates)


def simpy_run(world: World, parcels: int, seed: int) -> tuple[float, FlowKpis]:
    """Wall seconds (order generation included, as in ours) and the model's KPIs."""
    start = time.perf_counter()
    # the runner seeds each order day's batch with seed * 10,000 + day number (``_Pending``)
    batch = generate_orders(world, parcels, seed=seed * 10_000, day=ORDER_DAY)
    config = Scenario(parcels, seed, ORDER_DAY, _until()).run().config
    model = FlowModel(world, seed, ORDER_DAY, _until(), config)
    kpis = model.run(flow_orders(world, batch, ORDER_DAY))
    return time.perf_counter() - start, kpis


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def report(real: RealRun, flow: tuple[float, FlowKpis], big: tuple[int, float] | None) -> None:
    n, ours_s = real.parcels, real.seconds
    flow_s, kpis = flow
    print(f"\nparcels (orders) {n:,}, seed, world and {DAYS}-day horizon shared; "
          f"{os.cpu_count()} cores, 1-min load {_load()}")  # fmt: skip
    print(f"{'':34}{'parcels':>10}{'seconds':>10}{'parcels/s':>12}")
    print(f"{'xborder simulator (SQLite)':34}{n:>10,}{ours_s:>10.1f}{n / ours_s:>12,.0f}")
    print(f"{'SimPy, process per parcel':34}{n:>10,}{flow_s:>10.2f}{n / flow_s:>12,.0f}")
    if big is not None:
        bn, bs = big
        print(f"{'SimPy, process per parcel':34}{bn:>10,}{bs:>10.1f}{bn / bs:>12,.0f}")
    ratio = flow_s / ours_s  # > 1: ours is faster
    slower = f" (ours is {1 / ratio:,.0f}x slower)" if ratio < 1 else ""
    print(f"speed ratio, SimPy seconds / ours, same size: {ratio:.4f}x{slower}")

    print("\nKPIs (plausibility)      " + f"{'xborder':>12}{'SimPy':>12}")
    for key in ("paid", "planned", "bags", "import_held", "delivered", "damaged", "lost",
                "returned", "mean_delivery_days"):  # fmt: skip
        mine = kpis.summary()[key]
        print(f"  {key:22}{real.kpis.get(key, '-')!s:>12}{mine!s:>12}")

    print(f"\nwhere our {ours_s:.1f} s went (use cases, wall seconds):")
    inner = {k: real.phases.pop(k, 0.0) for k in INNER}
    trace_s = inner["trace ledger writes"]
    for phase, sec in sorted(real.phases.items(), key=lambda kv: -kv[1]):
        print(f"  {phase:26}{sec:8.1f} s {sec / ours_s:6.1%}")
    rest = ours_s - sum(real.phases.values())
    print(f"  {'(runner, outside them)':26}{rest:8.1f} s {rest / ours_s:6.1%}")
    print("  inside them:")
    for name, sec in inner.items():
        print(f"    {name:34}{sec:8.1f} s {sec / ours_s:6.1%}")
    per = real.events / n
    trace_rate = real.events / trace_s if trace_s else float("nan")
    raw, raw_tr = real.raw_rates["trace_events"], real.raw_rates["ledger_transfers"]
    print(f"  trace ledger: {real.events:,} events ({per:.2f}/parcel), {trace_rate:,.0f} "
          f"events/s of its writes; raw executemany, same rows: {raw:,.0f}/s")  # fmt: skip
    posting = inner["settlement ledger posting"]
    if posting:
        print(f"  settlement ledger: {real.transfers:,} transfers, "
              f"{real.transfers / posting:,.0f} transfers/s of its posting; raw executemany, "
              f"same rows: {raw_tr:,.0f}/s")  # fmt: skip

    scale = GOAL_PARCELS / n
    ours_m = ours_s * scale
    print(f"\n1,000,000 parcels, EXTRAPOLATED linearly from the measured {n:,}-parcel rates:")
    print(f"  xborder simulator      {ours_m:10,.0f} s")
    print(
        f"  trace ledger writes    {trace_s * scale:10,.0f} s  ({per * GOAL_PARCELS:,.0f} events)"
    )
    print(f"  raw insert of those    {per * GOAL_PARCELS / raw:10,.0f} s")
    tr = real.transfers / n * GOAL_PARCELS
    print(f"  settlement posting     {posting * scale:10,.0f} s  ({tr:,.0f} transfers)")
    print(f"  raw insert of those    {tr / raw_tr:10,.0f} s")
    print(f"  both raw inserts       {per * GOAL_PARCELS / raw + tr / raw_tr:10,.0f} s  (the floor "
          "for recording every event and transfer on this machine)")  # fmt: skip
    simpy_m = big[1] if big and big[0] == GOAL_PARCELS else flow_s * scale
    label = "measured" if big and big[0] == GOAL_PARCELS else "extrapolated"
    print(f"  SimPy model            {simpy_m:10,.0f} s  ({label})")
    met_t = ours_m <= GOAL_SECONDS
    met_r = simpy_m / ours_m >= GOAL_RATIO
    over = "" if met_t else f" ({ours_m / GOAL_SECONDS:,.1f}x over)"
    print(f"goal 1,000,000 parcels <= {GOAL_SECONDS:.0f} s: {'MET' if met_t else 'MISSED'}{over}")
    print(f"goal >= {GOAL_RATIO:.0f}x SimPy: {'MET' if met_r else 'MISSED'} "
          f"(ours {simpy_m / ours_m:.4f}x SimPy's speed)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parcels", type=int, default=20_000, help="orders, one parcel each")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--simpy-big", type=int, default=GOAL_PARCELS,
                        help="also time the SimPy model alone at this size (0: skip)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="2,000 parcels, no big SimPy run")
    args = parser.parse_args()
    parcels, big_n = (2_000, 0) if args.quick else (args.parcels, args.simpy_big)

    world = read_world()
    print(f"xborder simulator, {parcels:,} parcels (load {_load()}) ...", flush=True)
    real = real_run(world, parcels, args.seed)
    print(f"SimPy model, {parcels:,} parcels ...", flush=True)
    flow = simpy_run(world, parcels, args.seed)
    big: tuple[int, float] | None = None
    if big_n and big_n != parcels:
        print(f"SimPy model, {big_n:,} parcels ...", flush=True)
        big_s, big_kpis = simpy_run(world, big_n, args.seed)
        big = (big_n, big_s)
        print(f"  planned {big_kpis.planned:,}, unserved (no stock or lane room) "
              f"{big_kpis.unserved:,}, delivered {big_kpis.delivered:,}, mean "
              f"{big_kpis.mean_delivery_days:.2f} days", flush=True)  # fmt: skip
    report(real, flow, big)


if __name__ == "__main__":
    main()
