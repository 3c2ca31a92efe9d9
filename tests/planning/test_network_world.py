"""The demo world's network design: derived instance, designed plan, saving against today."""

from __future__ import annotations

import numpy as np
import pytest

from xborder.domain.world import World
from xborder.planning.network import solve_fixed, violations
from xborder.planning.network.world_model import build
from xborder.services.network_design import design_network_for_world


def test_instance_from_world(demo_world: World) -> None:
    model = build(demo_world, daily_orders=10_000)
    inst = model.instance
    assert inst.total_demand == pytest.approx(10_000)
    assert inst.n == sum(len(d.cities) for d in demo_world.demand)
    existing = {w.id for w in demo_world.warehouses}
    assert {s.id for s in model.sites if s.existing and s.kind is not None} <= existing
    assert any(not s.existing for s in model.sites)  # extra candidates from hubs
    # today's network can serve everything (the design must beat a feasible baseline)
    today = solve_fixed(inst, model.today)
    assert violations(inst, today.open, today.share) == []


def test_design_saves_against_today(demo_world: World) -> None:
    result = design_network_for_world(demo_world, daily_orders=10_000, time_limit=20)
    inst = result.model.instance
    assert violations(inst, result.plan.open, result.plan.share) == []
    assert result.plan.lower_bound <= result.plan.cost + 1e-6
    # today's plan is feasible for the same instance, so the optimum is never dearer
    assert result.plan.cost <= result.today.cost + 1e-6
    assert result.saving_per_day >= 0
    out = result.to_json()
    assert set(out["open"]) == {inst.site_ids[i] for i in np.flatnonzero(result.plan.open)}
    assert sum(f["share"] for f in out["flows"]) == pytest.approx(inst.n)  # every region whole


def test_single_source_design(demo_world: World) -> None:
    result = design_network_for_world(demo_world, single_source=True, time_limit=20)
    share = result.plan.share
    assert set(np.unique(share).tolist()) <= {0.0, 1.0}
    assert result.plan.cost <= result.today.cost + 1e-6
