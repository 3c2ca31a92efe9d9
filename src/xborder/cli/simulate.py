"""``xborder simulate``: scenarios x replications through the real engines, with a report.

Each replication runs on its own throw-away store; many run in parallel on Dask (a local
cluster by default, ``--scheduler`` for a real one). The default view is a short comparison at
80 columns; the full figures are in ``kpis.json`` and ``report.html`` under ``--out``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, progress_bar, table
from xborder.domain.errors import DomainError

# What the default view shows (the rest is in kpis.json and the report).
HEADLINE = (
    ("delivery_days_mean", "delivery days, mean"), ("delivery_days_p95", "delivery days, p95"),
    ("on_time_rate", "on time"), ("hold_rate", "held at customs"),
    ("clearance_hours_mean", "clearance hours"), ("loss_rate", "lost"),
    ("trace_completeness", "unbroken record"), ("landed_cost_per_order", "landed cost/order"),
    ("logistics_cost_per_order", "logistics/order"),
    ("escrow_days_outstanding", "escrow days"),
)  # fmt: skip
RATES = {"on_time_rate", "hold_rate", "loss_rate", "trace_completeness"}


def _shown(key: str, stat: dict[str, Any] | None) -> str:
    if stat is None:
        return "-"
    mean = stat["mean"]
    if key in RATES:
        text = f"{float(mean):.1%}"
        half = None if stat["hi"] is None else (float(stat["hi"]) - float(mean))
        return text if half is None else f"{text} ±{half:.1%}"
    if isinstance(mean, Decimal | str):  # money: to the cent, never through float
        money = Decimal(mean)
        hi = stat["hi"]
        return f"{money:,.2f}" if hi is None else f"{money:,.2f} ±{Decimal(hi) - money:,.2f}"
    text = f"{float(mean):,.1f}"
    if stat["hi"] is None:
        return text
    return f"{text} ±{float(stat['hi']) - float(mean):,.1f}"


def simulate(
    scenario: list[str] = typer.Option(
        ["siloed", "integrated"],
        "--scenario",
        "-s",
        help="A preset (siloed, integrated) or a scenario TOML; repeat to compare.",
    ),
    world_file: Path | None = typer.Option(None, "--world", help="World TOML (default: demo)."),
    days: int = typer.Option(28, min=1, max=400, help="Days of demand."),
    orders: int | None = typer.Option(
        None, min=0, max=1_000_000, help="Orders per day (default: the scenario's)."
    ),
    drain: int = typer.Option(21, min=0, max=120, help="Days worked after the last order day."),
    start: str | None = typer.Option(None, help="First day (YYYY-MM-DD; default: world date)."),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same results."),
    replications: int = typer.Option(1, min=1, max=1000, help="Replications per scenario."),
    period: int = typer.Option(7, min=1, max=366, help="Days per KPI period."),
    out: Path = typer.Option(Path("simulation"), help="Folder for kpis.json and report.html."),
    scheduler: str | None = typer.Option(None, help="Dask scheduler address (default: local)."),
    workers: int = typer.Option(2, min=1, max=256, help="Local Dask worker processes."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run scenarios of the world through the real engines and compare them."""
    from xborder.services.world import read_world
    from xborder.simulation.config import load_scenario
    from xborder.simulation.report import write_report
    from xborder.simulation.study import Study, run_study

    try:
        configs = tuple(load_scenario(s) for s in scenario)
        if orders is not None:
            configs = tuple(
                c.model_copy(update={"demand": c.demand.model_copy(
                    update={"orders_per_day": orders})})
                for c in configs
            )  # fmt: skip
        names = [c.name for c in configs]
        if len(set(names)) != len(names):
            fail(f"--scenario: two scenarios are named {sorted(names)[0]!r}; name them apart")
        world = read_world(world_file)
        first = date.fromisoformat(start) if start else world.meta.valid_on
    except ValueError as exc:
        fail(f"--start: {exc}" if not isinstance(exc, DomainError) else str(exc))
    if out.exists() and not out.is_dir():
        fail(f"--out: {out} exists and is not a folder")
    study = Study(configs, seed, replications, first, days, drain, period,
                  str(world_file) if world_file else None)  # fmt: skip
    try:
        with progress_bar(not as_json) as update:
            kpis = run_study(study, scheduler=scheduler, workers=workers, progress=update)
    except DomainError as exc:
        fail(str(exc))
    except OSError as exc:  # e.g. a scheduler that cannot be reached
        fail(f"--scheduler: {exc}")
    files = write_report(kpis, out)
    if as_json:
        emit_json({"kpis": str(files.kpis_json), "report": str(files.html),
                   "comparison": kpis["comparison"]})  # fmt: skip
        return
    rows = [
        {"KPI": label, **{name: _shown(key, kpis["scenarios"][name]["kpis"].get(key))
                          for name in names}}
        for key, label in HEADLINE
    ]  # fmt: skip
    title = f"{days} days, {replications} replication(s), seed {seed}; money in {kpis['currency']}"
    console.print(table(rows, title=title))
    console.print(f"KPIs: {files.kpis_json}\nReport: {files.html}")
