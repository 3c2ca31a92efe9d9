"""The demo's planning step: plan the day's open orders, reserve stock, consolidate the parcels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xborder.services.planning import consolidate, plan_fulfilment
from xborder.store.uow import UnitOfWork

if TYPE_CHECKING:
    from xborder.services.demo import DemoContext, DemoSection


def step_plan(ctx: DemoContext) -> DemoSection:
    """Fulfilment plan (source, lane, last mile per order) and consolidation of its parcels."""
    from xborder.services.demo import DemoSection

    with UnitOfWork(ctx.engine) as uow:
        plan = plan_fulfilment(uow)
        uow.commit()
    with UnitOfWork(ctx.engine) as uow:
        packed = consolidate(uow)
        uow.commit()
    ctx.facts["plan_id"] = plan.plan_id
    summary = {
        "open_orders": plan.orders,
        "planned": plan.assigned,
        "unplanned": plan.orders - plan.assigned,
        "method": plan.method,
        f"cost_{plan.currency}": round(plan.cost, 2),
        f"lower_bound_{plan.currency}": round(plan.lower_bound, 2),
        "gap_pct": round(100 * plan.gap, 3),
        "plan_seconds": round(plan.seconds, 2),
        "consolidations": packed.consolidations,
        "parcels_consolidated": packed.parcels,
        "mean_fill_rate": round(packed.mean_fill_rate, 3),
        "aggregation_events": packed.events,
    }
    if plan.reasons:
        summary["unplanned_because"] = "; ".join(f"{k}: {v}" for k, v in plan.reasons.items())
    return DemoSection("Fulfilment plan and consolidation", summary, list(plan.routes[:12]))
