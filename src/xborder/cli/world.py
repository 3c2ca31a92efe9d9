"""``xborder world``: what the store's world holds."""

from __future__ import annotations

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, platform, table
from xborder.domain.money import Money

app = typer.Typer(help="The world: parties, warehouses, lanes, carriers.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = JSON_OPTION) -> None:
    """Counts, warehouses and lanes of the loaded world."""
    from xborder.services.queries import describe_world

    world = describe_world(platform().uow())
    if not world["worlds"]:
        fail("no world is loaded: run `xborder init` first", 1)
    if as_json:
        emit_json(world)
        return
    for w in world["worlds"]:
        console.print(f"[bold]{w['name']}[/] v{w['version']} (valid on {w['valid_on']}): "
                      f"{w['description']}")  # fmt: skip
    console.print(table([{"entities": k, "count": v} for k, v in world["counts"].items()]))
    console.print(table([
        {"warehouse": w["id"], "kind": w["kind"], "country": w["country"],
         "capacity": f"{w['capacity_units']:,}", "customs": w["customs_mode"] or ""}
        for w in world["warehouses"]
    ], "Warehouses"))  # fmt: skip
    console.print(table([
        {"lane": ln["id"], "mode": ln["mode"], "to": ln["dest_country"],
         "per kg": str(Money.from_minor(ln["per_kg_minor"], ln["currency"])),
         "days (mean/p95)": f"{ln['transit_mean_days']}/{ln['transit_p95_days']}"}
        for ln in world["lanes"]
    ], "Lanes"))  # fmt: skip
