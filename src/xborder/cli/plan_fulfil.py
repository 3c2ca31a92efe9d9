"""``xborder plan fulfil`` and ``xborder plan consolidate`` (registered in ``cli/plan.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, platform, table
from xborder.domain.errors import DomainError


def fulfil(
    instance: Path | None = typer.Option(
        None, "--instance", help="Plan a standalone JSON instance."
    ),
    method: str = typer.Option("auto", help="auto, mip (exact) or lp (aggregated LP + repair)."),
    replan: bool = typer.Option(False, help="Release planned orders not packed yet; re-plan."),
    paid_only: bool = typer.Option(False, "--paid-only", help="Plan paid orders only."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Choose source, lane and last mile per open order; reserve stock (or plan --instance)."""
    from xborder.services.planning import PlanFulfilment, plan_fulfilment, plan_instance

    try:
        if instance is not None:
            try:
                raw = json.loads(instance.read_text(encoding="utf-8"))
            except OSError as exc:
                fail(f"{instance}: cannot read: {exc.strerror}")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                fail(f"{instance}: not valid JSON: {exc}")
            emit_json(plan_instance(raw, method))
            return
        statuses = ("paid",) if paid_only else ("captured", "paid")
        result = plan_fulfilment(platform().uow(), PlanFulfilment(method, replan, statuses))
    except DomainError as exc:
        fail(str(exc))
    summary = {
        "plan": result.plan_id, "orders": result.orders, "assigned": result.assigned,
        "released": result.released, "cost": f"{result.cost:,.2f} {result.currency}",
        "gap": f"{100 * result.gap:.3f} %", "method": result.method,
        "seconds": round(result.seconds, 2),
    }  # fmt: skip
    if as_json:
        emit_json({**summary, "cost": round(result.cost, 2), "gap": round(result.gap, 6),
                   "lower_bound": round(result.lower_bound, 2), "currency": result.currency,
                   "unassigned_reasons": result.reasons, "routes": result.routes})  # fmt: skip
        return
    console.print(table([{"": k, "Fulfilment plan": v} for k, v in summary.items()]))
    if result.reasons:
        console.print(table([{"not planned because": k, "orders": v}
                             for k, v in result.reasons.items()]))  # fmt: skip
    console.print(table(result.routes[:20], "Busiest routes"))


def consolidate(as_json: bool = JSON_OPTION) -> None:
    """Bag packed parcels per lane departure into master bags or containers (FFD)."""
    from xborder.services.planning import Consolidate
    from xborder.services.planning import consolidate as consolidate_parcels

    try:
        result = consolidate_parcels(platform().uow(), Consolidate())
    except DomainError as exc:
        fail(str(exc))
    summary = {
        "bags": result.consolidations, "parcels": result.parcels,
        "mean_fill_rate": round(result.mean_fill_rate, 3), "events": result.events,
    }  # fmt: skip
    if as_json:
        emit_json({**summary, "consolidations": result.consolidations, "lanes": result.lanes})
        return
    console.print(table([summary], "Consolidation"))
    console.print(table(result.lanes, "Per lane"))
