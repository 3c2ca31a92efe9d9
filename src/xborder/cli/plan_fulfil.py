"""``xborder plan fulfil`` and ``xborder plan consolidate`` (registered in ``cli/plan.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, engine, fail, table
from xborder.domain.errors import DomainError
from xborder.planning.instance import Instance, compile_instance, plan_report
from xborder.planning.solver import solve
from xborder.services.planning import consolidate as consolidate_parcels
from xborder.services.planning import plan_fulfilment
from xborder.store.uow import UnitOfWork


def fulfil(
    instance: Path | None = typer.Option(
        None, "--instance", help="Plan a standalone JSON instance."
    ),
    method: str = typer.Option("auto", help="auto, mip (exact) or lp (aggregated LP + repair)."),
    replan: bool = typer.Option(False, help="Release unconsolidated planned orders and re-plan."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Choose source, lane and last mile per open order; reserve stock (or plan --instance)."""
    try:
        if instance is not None:
            try:
                raw = json.loads(instance.read_text(encoding="utf-8"))
            except OSError as exc:
                fail(f"{instance}: cannot read: {exc.strerror}")
            except json.JSONDecodeError as exc:
                fail(f"{instance}: not valid JSON: {exc}")
            inst = Instance.parse(raw)
            problem = compile_instance(inst)
            emit_json(plan_report(inst, problem, solve(problem, method)))
            return
        with UnitOfWork(engine()) as uow:
            result = plan_fulfilment(uow, method=method, replan=replan)
            uow.commit()
    except DomainError as exc:
        fail(str(exc))
    summary = {
        "plan": result.plan_id,
        "orders": result.orders,
        "assigned": result.assigned,
        "released": result.released,
        "cost": round(result.cost, 2),
        "lower_bound": round(result.lower_bound, 2),
        "gap": round(result.gap, 6),
        "currency": result.currency,
        "method": result.method,
        "seconds": round(result.seconds, 3),
    }
    if as_json:
        emit_json({**summary, "unassigned_reasons": result.reasons, "routes": result.routes})
        return
    console.print(table([summary], "Fulfilment plan"))
    if result.reasons:
        console.print(table([{"reason": k, "orders": v} for k, v in result.reasons.items()]))
    console.print(table(result.routes[:20], "Busiest routes"))


def consolidate(as_json: bool = JSON_OPTION) -> None:
    """Pack planned parcels per lane departure into master bags or containers (FFD)."""
    try:
        with UnitOfWork(engine()) as uow:
            result = consolidate_parcels(uow)
            uow.commit()
    except DomainError as exc:
        fail(str(exc))
    summary = {
        "consolidations": result.consolidations,
        "parcels": result.parcels,
        "mean_fill_rate": round(result.mean_fill_rate, 3),
        "events": result.events,
    }
    if as_json:
        emit_json({**summary, "lanes": result.lanes})
        return
    console.print(table([summary], "Consolidation"))
    console.print(table(result.lanes, "Per lane"))
