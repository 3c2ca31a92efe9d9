"""``xborder store``: the store itself. ``partitions``: monthly partitions of the trace events and
the ledger transfers on PostgreSQL, created ahead of time (docs/scale.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, platform, table
from xborder.domain.errors import DomainError

if TYPE_CHECKING:
    from xborder.services.partitions import Partition

app = typer.Typer(help="The store: PostgreSQL partitions of the ledgers.", no_args_is_help=True)


def _month(p: Partition) -> str:
    return "default (the rest)" if p.first is None else p.first.strftime("%Y-%m")


def _json(p: Partition) -> dict[str, Any]:
    return {"table": p.table, "partition": p.name, "from": p.first, "to": p.end, "rows": p.rows}


@app.command("partitions")
def partitions_cmd(
    ahead: int = typer.Option(
        3, "--ahead", min=0, max=120, help="Months after the current one to create."
    ),
    count: bool = typer.Option(False, "--count", help="Count each partition's rows (scans)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Partition trace events and ledger transfers by month (the first run converts the tables
    and moves their rows; later runs add months) and create the next N months. PostgreSQL only;
    idempotent."""
    from xborder.services.partitions import EnsurePartitions, ensure_partitions

    try:
        result = ensure_partitions(platform().uow(), EnsurePartitions(ahead, count))
    except DomainError as exc:
        fail(f"store partitions: {exc}")
    if as_json:
        emit_json({"converted": result.converted, "created": result.created,
                   "partitions": [_json(p) for p in result.partitions]})  # fmt: skip
        return
    for name in result.converted:
        console.print(f"{name}: now partitioned by month (rows moved into their months).")
    console.print(f"Created {len(result.created)} partition(s).")
    rows = []
    for p in result.partitions:
        row: dict[str, Any] = {"table": p.table, "month": _month(p)}
        if count:
            row["rows"] = f"{p.rows:,}"
        rows.append(row)
    console.print(table(rows))
