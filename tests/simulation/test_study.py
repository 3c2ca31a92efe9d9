"""Studies: replications on a real two-worker Dask LocalCluster, replenishment in a real run,
summaries with intervals, the integrated-against-siloed comparison and the ``simulate`` CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import case, func, select
from typer.testing import CliRunner

from xborder.bootstrap import bootstrap
from xborder.cli.main import app
from xborder.domain.clock import SettableClock
from xborder.services.inventory import StockPositions, stock_positions
from xborder.services.world import read_world
from xborder.simulation.config import Demand, Replenishment, preset
from xborder.simulation.replications import Replication, run_replication, run_replications
from xborder.simulation.scenario import SimulationRun, simulate
from xborder.simulation.study import Study, comparison, summarise, synergy_rows
from xborder.store.schema_planning import inbound_shipments

FIRST = date(2026, 11, 2)
TINY = Demand(orders_per_day=15, peaks=())


def _rep(seed: int, name: str = "integrated") -> Replication:
    config = preset(name).model_copy(update={"demand": TINY})
    return Replication(config, seed=seed, first_day=FIRST, days=2, drain_days=8, period_days=1)


def test_replications_on_a_two_worker_local_cluster_match_in_process_runs() -> None:
    reps = [_rep(1), _rep(2)]
    on_cluster = run_replications(reps, workers=2)
    assert [r["seed"] for r in on_cluster] == [1, 2]  # in the order asked, whatever finished first
    assert on_cluster[0] == run_replication(reps[0])
    assert on_cluster[0]["overall"] != on_cluster[1]["overall"]  # another seed, another run


def test_stock_near_the_buyer_is_reordered_and_received(tmp_path: Path) -> None:
    world = read_world()
    bonded = {w.id for w in world.warehouses if w.kind.value in ("bonded", "overseas")}
    thin = tuple(
        i.model_copy(update={"on_hand": min(i.on_hand, 3)}) if i.warehouse in bonded else i
        for i in world.inventory
    )
    world = world.model_copy(update={"inventory": thin})
    clock = SettableClock(datetime.combine(FIRST, time(0), tzinfo=UTC))
    platform = bootstrap(f"sqlite:///{tmp_path / 'store.db'}", clock=clock)
    policy = Replenishment(reorder_point=0.9, lead_days={"bonded": 1, "overseas": 2})
    config = preset("integrated").model_copy(
        update={"demand": Demand(orders_per_day=120, peaks=()), "replenishment": policy}
    )
    until = datetime.combine(FIRST + timedelta(days=5), time(0), tzinfo=UTC)
    tally = simulate(platform, clock, world, SimulationRun(config, 5, FIRST, 3, until))
    assert tally.reordered > 0 and tally.received_units > 0
    with platform.engine.connect() as conn:  # the store, read independently
        received, waiting = conn.execute(select(
            func.coalesce(func.sum(case((inbound_shipments.c.received_at.is_not(None),
                                         inbound_shipments.c.qty))), 0),
            func.coalesce(func.sum(case((inbound_shipments.c.received_at.is_(None),
                                         inbound_shipments.c.qty))), 0),
        )).one()  # fmt: skip
    assert received == tally.received_units
    positions = stock_positions(platform.uow(), StockPositions())
    assert sum(p.inbound for p in positions) == waiting
    again = simulate(platform, clock, world, SimulationRun(config, 5, FIRST, 3, until))
    assert again.reordered == 0 and again.captured == 0  # a re-run stores nothing twice
    platform.close()


def _result(name: str, seed: int, delivery: float, hold: float, landed: str) -> dict[str, Any]:
    row = {"period": "2026-11-02", "orders": 10, "paid": 9, "delivery_days_mean": delivery,
           "hold_rate": hold, "landed_cost_per_order": landed, "gmv": "1000.00",
           "on_time_rate": 0.5}  # fmt: skip
    return {"scenario": name, "seed": seed, "currency": "CNY", "overall": row, "periods": [row],
            "delivery_days": [delivery], "partners": [], "timeline": [],
            "counts": {"bags": 1}}  # fmt: skip


def test_a_summary_has_intervals_and_money_stays_decimal() -> None:
    study = Study((preset("siloed"), preset("integrated")), 1, 2, FIRST, 7)
    results = [_result("siloed", 1, 12.0, 0.2, "100.00"), _result("siloed", 2, 14.0, 0.1, "101.00"),
               _result("integrated", 1, 8.0, 0.05, "99.00"),
               _result("integrated", 2, 9.0, 0.05, "99.50")]  # fmt: skip
    kpis = summarise(study, results)
    delivery = kpis["scenarios"]["siloed"]["kpis"]["delivery_days_mean"]
    assert delivery["mean"] == 13.0 and delivery["n"] == 2
    # t(0.975, 1) = 12.7062; s = sqrt(2); half = 12.7062 * sqrt(2) / sqrt(2)
    assert delivery["hi"] - 13.0 == pytest.approx(12.7062, abs=1e-3)
    landed = kpis["scenarios"]["siloed"]["kpis"]["landed_cost_per_order"]
    assert landed["mean"] == Decimal("100.50") and isinstance(landed["lo"], Decimal)
    rows = {r["kpi"]: r for r in kpis["comparison"]}
    assert rows["delivery_days_mean"]["change"] == -4.5 and rows["delivery_days_mean"]["better"]
    assert rows["landed_cost_per_order"]["change"] == Decimal("-1.25")
    assert rows["on_time_rate"]["better"] is None  # no change: neither better nor worse
    assert comparison({"integrated": kpis["scenarios"]["integrated"]}) == []


def test_synergy_is_scored_on_the_fixed_frame() -> None:
    good = {"period": "p1", "orders": 100, "paid": 95, "gmv": "700000", "unplanned_rate": 0.0,
            "escrow_days_outstanding": 10.0, "compensation_per_order": "2.00",
            "delivery_days_mean": 4.0, "on_time_rate": 0.95, "loss_rate": 0.0, "hold_rate": 0.02,
            "trace_completeness": 1.0, "logistics_cost_per_order": "80.00"}  # fmt: skip
    bad = {**good, "period": "p2", "paid": 60, "delivery_days_mean": 25.0, "on_time_rate": 0.1,
           "hold_rate": 0.25, "trace_completeness": 0.3}  # fmt: skip
    rows = synergy_rows([good, bad], 7)
    assert rows[0]["D"] > rows[1]["D"] and rows[0]["U2"] > rows[1]["U2"]
    assert rows[1]["synergy"] < 0  # both order degrees fell: negative synergy
    alone = synergy_rows([bad], 7)  # scored alone, the same period keeps its score
    assert alone[0]["D"] == pytest.approx(rows[1]["D"])


runner = CliRunner()


def test_simulate_writes_the_report_and_compares(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = runner.invoke(app, ["simulate", "-s", "integrated", "--days", "1", "--drain", "4",
                                 "--orders", "10", "--out", str(out), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert Path(answer["report"]).is_file() and Path(answer["kpis"]).is_file()
    kpis = json.loads(Path(answer["kpis"]).read_text(encoding="utf-8"))
    assert kpis["scenarios"]["integrated"]["kpis"]["orders"]["mean"] >= 5
    assert answer["comparison"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "no-such-scenario"], "no-such-scenario"),
        (["--start", "2026-13-01"], "--start"),
        (["-s", "siloed", "-s", "siloed"], "named"),
        (["--days", "0"], "--days"),
    ],
)
def test_simulate_refuses_bad_input_with_status_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["simulate", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_cluster_without_workers_stops_the_study_instead_of_waiting_for_ever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dask.distributed import LocalCluster

    import xborder.simulation.replications as replications

    monkeypatch.setattr(replications, "WORKER_WAIT_S", 2.0)
    with (
        LocalCluster(n_workers=0, dashboard_address=None) as empty,  # type: ignore[no-untyped-call]
        pytest.raises(TimeoutError),
    ):
        run_replications([_rep(1), _rep(2)], scheduler=empty.scheduler_address)
