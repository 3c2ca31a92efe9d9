"""``xborder``: the command-line entry point. Each area registers its sub-command group here."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

import xborder.cli.customs as customs
import xborder.cli.settle as settle
import xborder.cli.trace as trace
from xborder.cli import orders, plan, world
from xborder.cli.common import JSON_OPTION, console, emit_json, engine, fail, progress_bar, table
from xborder.config import database_url
from xborder.domain.errors import DomainError
from xborder.services.demo import run_demo
from xborder.services.world import init_store, read_world

app = typer.Typer(
    name="xborder",
    help="Cross-border e-commerce and logistics as one ecosystem.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(world.app, name="world")
app.add_typer(orders.app, name="orders")
app.add_typer(plan.app, name="plan")
app.add_typer(customs.app, name="customs")
app.add_typer(settle.app, name="settle")
app.add_typer(trace.app, name="trace")


@app.command()
def init(
    world_file: Path | None = typer.Option(None, "--world", help="Scenario TOML (default: demo)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or migrate the store and load the world (the demo world unless --world)."""
    try:
        result = init_store(engine(), read_world(world_file))
    except DomainError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"world": result.world, "loaded": result.loaded, "counts": result.counts})
        return
    verb = "loaded" if result.loaded else "already loaded"
    console.print(f"Store [bold]{database_url()}[/]: world {result.world!r} {verb}.")
    console.print(table([result.counts]))


@app.command()
def demo(
    orders: int = typer.Option(10_000, min=1, max=5_000_000, help="Orders in the day."),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same day."),
    day: str | None = typer.Option(None, help="The day (YYYY-MM-DD; default: the world's date)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a day of the demo world through the platform and print a summary."""
    try:
        the_day = date.fromisoformat(day) if day else None
    except ValueError:
        fail(f"--day: not an ISO date: {day!r}")
    try:
        with progress_bar(not as_json) as update:
            sections = run_demo(engine(), orders=orders, seed=seed, day=the_day, progress=update)
    except DomainError as exc:
        fail(str(exc))
    if as_json:
        emit_json([{"title": s.title, "summary": s.summary, "table": s.table} for s in sections])
        return
    console.print(f"[bold]xborder demo[/] on {database_url()}")
    for section in sections:
        rows = [{"": key, section.title: value} for key, value in section.summary.items()]
        console.print(table(rows))
        if section.table:
            console.print(table(section.table))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
