"""Replications and sweeps: each on its own store, in parallel on Dask distributed.

A replication is one seeded run of one scenario on a fresh embedded store (a SQLite file in its
own temporary folder, with its own signing keys), measured by the platform's own KPI use case.
Its result is plain data (numbers, strings, lists), so it travels between Dask workers and
lands in ``kpis.json`` as it is. Many replications run on a ``LocalCluster`` by default (one
single-threaded worker process per core: SQLite and HiGHS want a core each), or on any Dask
scheduler given by address.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from time import monotonic
from typing import Any

from xborder.bootstrap import bootstrap
from xborder.domain.clock import SettableClock
from xborder.services.kpis import MeasureKpis, measure_kpis
from xborder.services.world import read_world
from xborder.simulation.config import ScenarioConfig
from xborder.simulation.scenario import SimulationRun, simulate
from xborder.trace.signing import KeyStore

Progress = Callable[[str, int, int], None]
WORKER_WAIT_S = 120.0  # how long a study waits for a worker before it gives up
POLL_S = 2.0


@dataclass(frozen=True, slots=True)
class Replication:
    """One run: ``days`` of demand from ``first_day``, then ``drain_days`` of work without new
    orders so that the last days' parcels can reach their end; KPIs per ``period_days``."""

    config: ScenarioConfig
    seed: int
    first_day: date
    days: int
    drain_days: int = 21
    period_days: int = 7
    world_path: str | None = None  # default: the shipped demo world

    @property
    def until(self) -> datetime:
        end = self.first_day + timedelta(days=self.days + self.drain_days)
        return datetime.combine(end, time(0), tzinfo=UTC)


def _plain(value: Any) -> Any:
    """Decimals become exact strings, dates ISO text: what JSON and the report read."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def run_replication(rep: Replication) -> dict[str, Any]:
    """Run one replication on a throw-away store and return its KPIs as plain data."""
    world = read_world(Path(rep.world_path) if rep.world_path else None)
    with tempfile.TemporaryDirectory(prefix="xborder-rep-") as folder:
        keys_dir = Path(folder) / "keys"
        keys_dir.mkdir()
        clock = SettableClock(datetime.combine(rep.first_day, time(0), tzinfo=UTC))
        platform = bootstrap(f"sqlite:///{Path(folder) / 'store.db'}", clock=clock,
                             keys=KeyStore(keys_dir))  # fmt: skip
        try:
            run = SimulationRun(rep.config, rep.seed, rep.first_day, rep.days, rep.until)
            tally = simulate(platform, clock, world, run)
            report = measure_kpis(platform.uow(), MeasureKpis(
                period_days=rep.period_days, start=rep.first_day,
                until=rep.first_day + timedelta(days=rep.days - 1),
            ))  # fmt: skip
        finally:
            platform.close()
    return {
        "scenario": rep.config.name,
        "seed": rep.seed,
        "switches": rep.config.switches.model_dump(),
        "currency": report.currency,
        "overall": _plain(report.overall),
        "periods": _plain(report.periods),
        "delivery_days": list(report.delivery_days),
        "partners": _plain(report.partners),
        "timeline": _plain(report.timeline),
        "counts": {
            "orders_generated": tally.generated,
            "events": tally.events,
            "bags": tally.bags,
            "reordered": tally.reordered,
            "received_units": tally.received_units,
        },
    }


def run_replications(
    reps: Sequence[Replication], *, scheduler: str | None = None, workers: int = 2,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every replication's result, in the order given. One replication and no scheduler runs
    in this process; otherwise on Dask (a ``LocalCluster`` of ``workers`` processes, or the
    scheduler at ``scheduler``)."""
    if len(reps) == 1 and scheduler is None:
        out = [run_replication(reps[0])]
        if progress:
            progress("replications", 1, 1)
        return out
    from dask.distributed import Client, LocalCluster, wait

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,  # type: ignore[no-untyped-call]
                               dashboard_address=None)  # fmt: skip
        client = Client(cluster)  # type: ignore[no-untyped-call]
    else:
        client = Client(scheduler)  # type: ignore[no-untyped-call]
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        futures = client.map(run_replication, list(reps), pure=False)
        pending, lonely_since = set(futures), None
        while pending:
            try:  # Dask's wait raises when nothing finished within the timeout
                done, pending = wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED")  # type: ignore[no-untyped-call]
            except TimeoutError:
                done = set()
            for future in done:
                future.result()  # a replication's error is the study's error
            if progress:
                progress("replications", len(futures) - len(pending), len(futures))
            # workers that died (killed, out of memory) leave tasks waiting for ever: give up
            if client.scheduler_info()["workers"]:
                lonely_since = None
            elif lonely_since is None:
                lonely_since = monotonic()
            elif monotonic() - lonely_since >= WORKER_WAIT_S:
                raise RuntimeError("the Dask cluster lost every worker; replications stopped")
        return [f.result() for f in futures]
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
