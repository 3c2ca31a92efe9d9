"""``xborder plan network``: solve a warehouse network design (CFLP) and print the plan as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from xborder.cli.common import emit_json, fail
from xborder.domain.errors import DomainError, InvalidValue


def network(
    file: Path | None = typer.Argument(
        None, help="Instance JSON (schema: docs/network-design.md)."
    ),
    orlib: Path | None = typer.Option(None, "--orlib", help="An OR-Library cap*.txt file."),
    capacity: float | None = typer.Option(
        None, "--capacity", help="Capacity of every site (capa/capb/capc need it)."
    ),
    single_source: bool = typer.Option(
        False, "--single-source", help="Each region served by exactly one site."
    ),
    demo: bool = typer.Option(False, "--demo", help="Design the demo world's network."),
    daily_orders: float = typer.Option(10_000, "--daily-orders", help="Demo: orders per day."),
    method: str = typer.Option("auto", "--method", help="auto, exact, lagrangian or plain."),
    time_limit: float = typer.Option(60.0, "--time-limit", help="Seconds to spend at most."),
) -> None:
    """Choose the sites to open and how regions are served; print open, flows, cost, bound, gap."""
    from xborder.services.network_design import (
        NETWORK_METHODS,
        SolveNetwork,
        design_network_for_world,
        solve_network,
    )
    from xborder.services.world import read_world

    if sum((file is not None, orlib is not None, demo)) != 1:
        fail("give exactly one of FILE.json, --orlib FILE or --demo")
    if method not in NETWORK_METHODS:
        fail(f"--method: must be one of {', '.join(NETWORK_METHODS)} (got {method!r})")
    try:
        if demo:
            if daily_orders <= 0:
                raise InvalidValue("--daily-orders", "must be positive", daily_orders)
            design = design_network_for_world(
                read_world(), daily_orders=daily_orders, single_source=single_source,
                time_limit=time_limit,
            )  # fmt: skip
            emit_json(design.to_json())
            return
        emit_json(solve_network(SolveNetwork(
            instance=_read_json(file) if file is not None else None,
            orlib=str(orlib) if orlib is not None else None, capacity=capacity,
            single_source=single_source, method=method, time_limit=time_limit,
        )))  # fmt: skip
    except DomainError as exc:
        fail(str(exc))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValue(str(path), f"cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValue(str(path), f"not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidValue(str(path), "must hold a JSON object")
    return raw
