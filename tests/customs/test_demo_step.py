"""The demo's customs step on a day of the demo world (SQLite)."""

from __future__ import annotations

from sqlalchemy import Engine

from xborder.services.customs_demo import step_customs
from xborder.services.demo import DemoContext, step_capture
from xborder.services.world import init_store, read_world


def test_customs_step_declares_and_matches_the_days_orders(sqlite_engine: Engine) -> None:
    world = read_world()
    init_store(sqlite_engine, world)
    ctx = DemoContext(sqlite_engine, world, world.meta.valid_on, 5, 600)
    step_capture(ctx)
    section = step_customs(ctx)
    summary = section.summary
    assert summary["declared"] > 0 and summary["errors"] == 0, summary
    assert summary["declared"] + summary["not_modelled"] == len(ctx.order_ids)
    channels = {row["channel"] for row in section.table}
    assert "cbec" in channels and {"ioss", "de_minimis", "entry"} & channels
    assert "matched" in summary["cn_match"]
    again = step_customs(ctx)  # idempotent: nothing declared twice
    assert (
        again.summary["declared"] == 0 and again.summary["already_declared"] == summary["declared"]
    )
    assert again.table == section.table
