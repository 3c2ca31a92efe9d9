"""The demo: one day of the demo world run through the platform, step by step.

Each step takes the shared ``DemoContext`` and returns a ``DemoSection`` for the summary. Later
areas (customs, planning, traceability, settlement) add their step to ``DEMO_STEPS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine

from xborder.domain.money import Money
from xborder.domain.world import World
from xborder.services.capture import capture_batch
from xborder.services.customs_demo import step_customs
from xborder.services.delivery_demo import step_deliver
from xborder.services.planning_demo import step_plan
from xborder.services.settlement_demo import step_settle
from xborder.services.trace_demo import step_trace
from xborder.services.world import init_store, read_world
from xborder.simulation.order_generator import generate_orders
from xborder.store.uow import UnitOfWork

Progress = Callable[[str, int, int], None]
CHUNK = 20_000


@dataclass
class DemoContext:
    engine: Engine
    world: World
    day: date
    seed: int
    orders: int
    progress: Progress | None = None
    order_ids: list[int] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DemoSection:
    title: str
    summary: dict[str, Any]
    table: list[dict[str, Any]] = field(default_factory=list)


def step_capture(ctx: DemoContext) -> DemoSection:
    """Generate the day's orders and capture them through the bulk path."""
    batch = generate_orders(ctx.world, ctx.orders, seed=ctx.seed, day=ctx.day)
    created = existing = rejected = 0
    recs = batch.orders.get_column("rec")
    for start in range(0, ctx.orders, CHUNK):
        part = recs.slice(start, CHUNK).implode()
        chunk = type(batch)(batch.orders.filter(pl.col("rec").is_in(part)),
                            batch.lines.filter(pl.col("rec").is_in(part)))  # fmt: skip
        with UnitOfWork(ctx.engine) as uow:
            report = capture_batch(uow, chunk)
            uow.commit()
        ctx.order_ids.extend(report.results.get_column("order_id").to_list())
        created, existing = created + report.created, existing + report.existing
        rejected += report.rejected
        if ctx.progress:
            ctx.progress("capture orders", min(start + CHUNK, ctx.orders), ctx.orders)
    with UnitOfWork(ctx.engine) as uow:
        rows = uow.orders.summary(ctx.order_ids)
    table = [
        {"destination": r["destination"], "direction": r["direction"], "orders": r["orders"],
         "lines": r["lines"],
         "goods": str(Money.from_minor(int(r["goods_minor"]), r["currency"]))}
        for r in rows
    ]  # fmt: skip
    return DemoSection(
        "Orders captured",
        {"generated": ctx.orders, "created": created, "already_stored": existing,
         "rejected": rejected, "day": ctx.day.isoformat(), "seed": ctx.seed},
        table,
    )  # fmt: skip


# The order of a parcel's trip: capture, declare, plan and bag, trace to departure, deliver,
# then settle the money (release on delivery needs the deliveries).
DEMO_STEPS: list[Callable[[DemoContext], DemoSection]] = [
    step_capture,
    step_customs,
    step_plan,
    step_trace,
    step_deliver,
    step_settle,
]


def run_demo(
    engine: Engine, orders: int = 10_000, seed: int = 7, day: date | None = None,
    progress: Progress | None = None,
) -> list[DemoSection]:  # fmt: skip
    """Initialise the store with the demo world, then run every demo step in order."""
    world = read_world()
    init = init_store(engine, world)
    ctx = DemoContext(engine, world, day or world.meta.valid_on, seed, orders, progress)
    sections = [DemoSection("World", {"name": init.world, **init.counts})]
    sections.extend(step(ctx) for step in DEMO_STEPS)
    return sections
