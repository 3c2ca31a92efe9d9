"""Tiny random instances against brute force: optimal cost, valid bounds, feasible plans."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xborder.domain.errors import InvalidValue
from xborder.planning.network import Instance, solve, solve_fixed, violations
from xborder.planning.network.lagrange import evaluate, initial_multipliers

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    m = draw(st.integers(1, 4))
    n = draw(st.integers(1, 5))
    ints = st.integers
    demand = draw(st.lists(ints(1, 8), min_size=n, max_size=n))
    capacity = draw(st.lists(ints(1, 16), min_size=m, max_size=m))
    fixed = draw(st.lists(ints(0, 60), min_size=m, max_size=m))
    cost = draw(st.lists(st.lists(ints(0, 40), min_size=n, max_size=n), min_size=m, max_size=m))
    if sum(capacity) < sum(demand):
        capacity[0] += sum(demand) - sum(capacity)
    return Instance.of(fixed, capacity, demand, cost)


def brute_single(inst: Instance) -> float:
    """Every assignment of regions to sites (m^n), cheapest feasible; inf if none."""
    a = np.array(list(itertools.product(range(inst.m), repeat=inst.n)))  # (k, n)
    cols = np.arange(inst.n)
    onehot = a[:, None, :] == np.arange(inst.m)[None, :, None]  # (k, m, n)
    load = (onehot * inst.demand).sum(axis=2)
    used = onehot.any(axis=2)
    cost = inst.assign_cost[a, cols].sum(axis=1) + used @ inst.fixed_cost
    ok = (load <= inst.capacity + 1e-9).all(axis=1)
    return float(cost[ok].min()) if ok.any() else float("inf")


def brute_multi(inst: Instance) -> float:
    """Every open set that can carry the demand, each with its transportation LP."""
    best = float("inf")
    for mask in itertools.product([False, True], repeat=inst.m):
        open_ = np.array(mask)
        if open_.any() and inst.capacity[open_].sum() >= inst.total_demand:
            best = min(best, solve_fixed(inst, open_).cost)
    return best


@SETTINGS
@given(instances(), st.sampled_from(["exact", "lagrangian"]))
def test_multi_source_matches_brute_force(inst: Instance, method: str) -> None:
    optimum = brute_multi(inst)
    plan = solve(inst, method=method, time_limit=20)  # type: ignore[arg-type]
    assert violations(inst, plan.open, plan.share) == []
    assert plan.cost == pytest.approx(optimum, rel=1e-6, abs=1e-6)
    assert plan.lower_bound <= optimum + 1e-6 * max(1.0, optimum)


@SETTINGS
@given(instances(), st.sampled_from(["exact", "lagrangian"]))
def test_single_source_matches_brute_force(inst: Instance, method: str) -> None:
    single = inst.with_single_source(True) if (inst.demand.max() <= inst.capacity.max()) else None
    if single is None:
        with pytest.raises(InvalidValue):
            inst.with_single_source(True)
        return
    optimum = brute_single(single)
    if not np.isfinite(optimum):
        with pytest.raises(InvalidValue, match="no feasible plan"):
            solve(single, method=method, time_limit=20)  # type: ignore[arg-type]
        return
    plan = solve(single, method=method, time_limit=20)  # type: ignore[arg-type]
    assert violations(single, plan.open, plan.share) == []
    assert set(np.unique(plan.share).tolist()) <= {0.0, 1.0}
    assert plan.cost == pytest.approx(optimum, rel=1e-6, abs=1e-6)
    assert plan.lower_bound <= optimum + 1e-6 * max(1.0, optimum)


@SETTINGS
@given(instances(), st.lists(st.floats(-50, 80), min_size=5, max_size=5))
def test_every_lagrangian_value_is_a_lower_bound(inst: Instance, shift: list[float]) -> None:
    u = initial_multipliers(inst) + np.array(shift[: inst.n])
    assert evaluate(inst, u).bound <= brute_multi(inst) + 1e-6
