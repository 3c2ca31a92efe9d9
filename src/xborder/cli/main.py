"""``xborder``: the command-line entry point. Each area registers its sub-command group here.

Heavy libraries (polars, numpy, SQLAlchemy, HiGHS, cryptography) are imported inside the
commands, so ``xborder --help`` answers at once.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

import xborder.cli.customs as customs
import xborder.cli.settle as settle
import xborder.cli.trace as trace
from xborder.cli import keys, orders, parcels, plan, store, webhooks, world
from xborder.cli.common import JSON_OPTION, console, emit_json, fail, platform, table
from xborder.cli.serve import serve
from xborder.cli.simulate import simulate
from xborder.cli.synergy import synergy
from xborder.domain.errors import DomainError

app = typer.Typer(
    name="xborder",
    help="Cross-border e-commerce and logistics as one ecosystem.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(world.app, name="world")
app.add_typer(orders.app, name="orders")
app.add_typer(plan.app, name="plan")
app.add_typer(parcels.app, name="parcels")
app.add_typer(customs.app, name="customs")
app.add_typer(settle.app, name="settle")
app.add_typer(trace.app, name="trace")
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(store.app, name="store")


@app.command()
def init(
    world_file: Path | None = typer.Option(None, "--world", help="Scenario TOML (default: demo)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or migrate the store and load the world (the demo world unless --world)."""
    from xborder.services.world import LoadWorld, load_world, read_world

    try:
        store = platform()
        result = load_world(store.uow(), LoadWorld(read_world(world_file)))
    except DomainError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"world": result.world, "loaded": result.loaded, "counts": result.counts})
        return
    verb = "loaded" if result.loaded else "already loaded"
    console.print(f"Store {store.url}: world {result.world!r} {verb}.")
    console.print(table([{"entities": k, "count": v} for k, v in result.counts.items()]))


@app.command()
def demo(
    orders: int = typer.Option(10_000, min=1, max=5_000_000, help="Orders placed on the day."),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same run."),
    day: str | None = typer.Option(
        None, help="The order day (YYYY-MM-DD, in the past; default: three weeks ago)."
    ),
    compare: bool = typer.Option(
        True, help="End with siloed against integrated on small throw-away stores."
    ),
    report: Path = typer.Option(Path("xborder-demo-report"), help="Folder of that report."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A day of the demo world's orders followed through the platform until now."""
    from xborder.bootstrap import bootstrap, wall_clock
    from xborder.cli.common import progress_bar
    from xborder.simulation.demo import compare_scenarios, demo_clock, run_demo

    try:
        the_day = date.fromisoformat(day) if day else None
    except ValueError:
        fail(f"--day: not an ISO date: {day!r}")
    now = wall_clock().now()
    if the_day is not None and the_day >= now.date():
        fail(f"--day: must be before today ({now.date().isoformat()})")
    clock, order_day = demo_clock(now, the_day)
    try:
        store = bootstrap(clock=clock)
        with progress_bar(not as_json) as update:
            sections = run_demo(store, clock, orders=orders, seed=seed, order_day=order_day,
                                until=now, progress=update)  # fmt: skip
            compared = (compare_scenarios(order_day, report, seed=seed, progress=update)
                        if compare else None)  # fmt: skip
    except DomainError as exc:
        fail(str(exc))
    if as_json:
        emit_json({
            "sections": [{"title": s.title, "summary": s.summary, "table": s.table}
                         for s in sections],
            "comparison": None if compared is None else {
                "rows": compared.rows, "report": str(compared.report),
                "kpis": str(compared.kpis_json)},
        })  # fmt: skip
        return
    console.print(f"[bold]xborder demo[/] on {store.url}")
    for section in sections:
        rows = [{"": key, section.title: value} for key, value in section.summary.items()]
        console.print(table(rows))
        if section.table:
            console.print(table(section.table))
    if compared is not None:
        console.print(table(compared.rows, title="Siloed against integrated (small study)"))
        console.print(f"Report: {compared.report}")


app.command("serve")(serve)
app.command("simulate")(simulate)
app.command("synergy")(synergy)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
