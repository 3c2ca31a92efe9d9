"""``xborder plan network``: solve a warehouse network design (CFLP) and print the plan as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from xborder.cli.common import emit_json, fail
from xborder.domain.errors import DomainError, InvalidValue
from xborder.planning.network import METHODS, Instance, read_orlib, solve


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
    method: str = typer.Option("auto", "--method", help=f"One of {', '.join(METHODS)}."),
    time_limit: float = typer.Option(60.0, "--time-limit", help="Seconds to spend at most."),
) -> None:
    """Choose the sites to open and how regions are served; print open, flows, cost, bound, gap."""
    if sum((file is not None, orlib is not None, demo)) != 1:
        fail("give exactly one of FILE.json, --orlib FILE or --demo")
    if method not in METHODS:
        fail(f"--method: must be one of {', '.join(METHODS)} (got {method!r})")
    try:
        if demo:
            emit_json(_demo(daily_orders, single_source, time_limit))
            return
        if orlib is not None:
            inst = read_orlib(orlib, capacity=capacity, single_source=single_source)
        else:
            assert file is not None
            inst = Instance.from_json(_read_json(file))
            if single_source:
                inst = inst.with_single_source(True)
            if capacity is not None:
                inst = _with_capacity(inst, capacity)
        plan = solve(inst, method=method, time_limit=time_limit)  # type: ignore[arg-type]
    except DomainError as exc:
        fail(str(exc))
    emit_json(plan.to_json())


def _demo(daily_orders: float, single_source: bool, time_limit: float) -> dict[str, Any]:
    from xborder.services.network_design import design_network_for_world
    from xborder.services.world import read_world

    if daily_orders <= 0:
        raise InvalidValue("--daily-orders", "must be positive", daily_orders)
    result = design_network_for_world(
        read_world(), daily_orders=daily_orders, single_source=single_source,
        time_limit=time_limit,
    )  # fmt: skip
    return result.to_json()


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


def _with_capacity(inst: Instance, capacity: float) -> Instance:
    if capacity < 0:
        raise InvalidValue("capacity", "must not be negative", capacity)
    return Instance.of(
        inst.fixed_cost, [capacity] * inst.m, inst.demand, inst.assign_cost,
        site_ids=inst.site_ids, region_ids=inst.region_ids,
        single_source=inst.single_source, name=inst.name,
    )  # fmt: skip
