"""The large-wave planner against the exact MIP: valid bounds, feasible plans, exact class MIPs.

Waves here repeat orders (several identical copies) so that classes of interchangeable units have
multiplicities above one, as in a real wave; every instance is small enough for HiGHS to solve the
un-aggregated MIP exactly, which is the yardstick.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xborder.planning.builder import LaneColumns, Network, OrderColumns, Route, build
from xborder.planning.classes import aggregate, exact
from xborder.planning.highs_model import solve_lp, solve_mip
from xborder.planning.lagrange import lagrangian_bound, subgradient_bound
from xborder.planning.large import repair, solve_large
from xborder.planning.problem import Problem, is_feasible, plan_cost, usage


def _wave(seed: int, n_kinds: int, copies: int, scarce: float) -> Problem:
    """``n_kinds`` distinct orders, each repeated 1..``copies`` times; stock and lanes scarce."""
    rng = np.random.default_rng(seed)
    n_src, n_sku, n_dest = 3, 4, 2
    kinds_lines = [rng.choice(n_sku, rng.integers(1, 3), replace=False) for _ in range(n_kinds)]
    kinds_qty = [rng.integers(1, 3, k.size) for k in kinds_lines]
    kind_dest = rng.integers(0, n_dest, n_kinds)
    kind_promise = rng.choice(np.array([2.0, 5.0]), n_kinds)
    reps = rng.integers(1, copies + 1, n_kinds)
    kind = np.repeat(np.arange(n_kinds), reps)
    n = kind.size
    line_order = np.concatenate([np.full(kinds_lines[k].size, i) for i, k in enumerate(kind)])
    line_sku = np.concatenate([kinds_lines[k] for k in kind])
    line_qty = np.concatenate([kinds_qty[k] for k in kind])
    sku_kg = np.array([0.5, 1.0, 2.0, 0.3])
    demand = np.bincount(line_sku, weights=line_qty, minlength=n_sku)
    inv = (rng.uniform(0.1, scarce, (n_src, n_sku)) * demand).astype(np.int64)
    routes: list[Route] = []
    caps: list[float] = []
    for s in range(n_src):
        for d in range(n_dest):
            routes.append(Route(f"r{s}{d}", s, d, len(caps), per_kg=1.0 + s, per_parcel=2.0,
                                transit_mean=2.0 + 2 * s))  # fmt: skip
            caps.append(float(rng.uniform(0.1, scarce) * n * 1.5))
    orders = OrderColumns(
        dest=kind_dest[kind],
        promise_days=kind_promise[kind],
        penalty=np.full(n, 40.0),
        split=np.zeros(n, dtype=bool),
        line_order=line_order,
        line_sku=line_sku,
        line_qty=line_qty,
        line_weight=sku_kg[line_sku] * line_qty,
    )
    return build(orders, Network(inv, LaneColumns(np.array(caps)), tuple(routes), 3.0))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(2, 12), st.integers(1, 4), st.floats(0.2, 1.2))
def test_bound_never_exceeds_the_exact_optimum(
    seed: int, kinds: int, copies: int, scarce: float
) -> None:
    p = _wave(seed, kinds, copies, scarce)
    mip = solve_mip(p)
    assert is_feasible(p, mip.choice)
    optimum = mip.cost
    plan = solve_large(p)
    assert is_feasible(p, plan.choice)
    inv, cap = usage(p, plan.choice)
    assert (inv <= p.inventory).all() and (cap <= p.capacity + 1e-6).all()
    assert plan.lower_bound <= optimum + 1e-6  # the Lagrangian bound is valid
    assert plan.cost >= optimum - 1e-6
    assert plan.cost == pytest.approx(plan_cost(p, plan.choice))
    # the class LP from the crash basis is the same LP as plain HiGHS's, and below the optimum
    agg, mult, cls = aggregate(p)
    crash = solve_lp(agg, mult)[0]
    plain = solve_lp(agg, mult, crash=False)[0]
    assert crash == pytest.approx(plain, rel=1e-9, abs=1e-6)
    assert crash <= optimum + 1e-6
    # a crash basis priced by (any) earlier prices reaches the same optimum
    rng = np.random.default_rng(seed)
    earlier = (rng.exponential(3.0, p.inventory.shape), rng.exponential(0.5, p.capacity.size))
    warm = solve_lp(agg, mult, prices=earlier)[0]
    assert warm == pytest.approx(plain, rel=1e-9, abs=1e-6)
    # identical copies: the class MIP (integer counts) is the exact MIP of the whole wave
    whole = solve_lp(agg, mult, integral=True)[0]
    assert whole == pytest.approx(optimum, rel=1e-4, abs=1e-6)
    # weak duality: any non-negative prices give a bound
    rng = np.random.default_rng(seed)
    lam_inv = rng.exponential(5.0, p.inventory.shape)
    lam_cap = rng.exponential(1.0, p.capacity.size)
    unit_bound = lagrangian_bound(p, lam_inv, lam_cap)
    assert unit_bound <= optimum + 1e-6
    # identical members: the class-level sum is the same bound, and so are subgradient steps
    assert exact(p, agg, cls)
    class_bound = lagrangian_bound(agg, lam_inv, lam_cap, mult=mult)
    assert class_bound == pytest.approx(unit_bound, rel=1e-9, abs=1e-6)
    assert subgradient_bound(agg, lam_inv, lam_cap, plan.cost, mult=mult) <= optimum + 1e-6
    assert subgradient_bound(agg, lam_inv, lam_cap, plan.cost, mult=mult) == pytest.approx(
        subgradient_bound(p, lam_inv, lam_cap, plan.cost), rel=1e-9, abs=1e-6
    )


def test_classes_with_different_weights_are_not_exact() -> None:
    """Two orders of the same item whose weights differ within a bucket share a class, but the
    class problem is then an average, so the bound must be taken over the units."""
    routes = (Route("r", 0, 0, 0, per_kg=2.0, per_parcel=1.0, transit_mean=2.0),)
    orders = OrderColumns(
        dest=np.zeros(2, dtype=np.int64),
        promise_days=np.full(2, 5.0),
        penalty=np.full(2, 50.0),
        split=np.zeros(2, dtype=bool),
        line_order=np.arange(2),
        line_sku=np.zeros(2, dtype=np.int64),
        line_qty=np.ones(2, dtype=np.int64),
        line_weight=np.array([1.0, 1.01]),
    )
    p = build(orders, Network(np.array([[5]]), LaneColumns(np.array([10.0])), routes))
    agg, mult, cls = aggregate(p)
    assert agg.n_units == 1 and mult[0] == 2
    assert not exact(p, agg, cls)
    plan = solve_large(p)
    assert plan.lower_bound <= solve_mip(p).cost + 1e-9


def test_crash_basis_is_faster_than_the_slack_basis_on_a_real_size() -> None:
    """Same optimum in fewer simplex iterations: the point of the crash basis (not a timing)."""
    import highspy

    from xborder.planning.highs_model import _build, _crash_basis, highs_instance

    p = _wave(7, 400, 6, 0.5)
    agg, mult, _ = aggregate(p)
    iterations = []
    objectives = []
    for crash in (False, True):
        h = highs_instance()
        h.setOptionValue("presolve", "off")
        model = _build(agg, mult, h, integral=False)
        if crash:
            _crash_basis(h, agg, model.cost)
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        iterations.append(h.getInfo().simplex_iteration_count)
        objectives.append(h.getInfo().objective_function_value)
    assert objectives[1] == pytest.approx(objectives[0], rel=1e-9)
    assert iterations[1] < iterations[0]


def test_chunks_and_repair_stay_feasible_with_a_valid_bound() -> None:
    p = _wave(3, 150, 4, 0.6)
    mip = solve_mip(p, time_limit=60)
    chunked = solve_large(p, max_classes=40)
    assert chunked.method == "aggregated-lp-chunked" and chunked.stats["chunks"] > 1
    assert is_feasible(p, chunked.choice)
    assert chunked.lower_bound <= mip.lower_bound + 1e-6 <= mip.cost + 1e-6
    assert chunked.cost >= mip.cost - 1e-6
    single = solve_large(p)
    assert single.method == "aggregated-lp"
    for key in ("lp_s", "round_s", "repair_s", "aggregate_s", "bound_s", "classes"):
        assert key in single.stats
    # the repair alone, from nothing planned, yields a feasible plan that serves someone
    choice = np.full(p.n_units, -1, dtype=np.int64)
    zero = np.zeros(p.n_options)
    assert repair(p, choice, p.opt_cost.copy(), zero, 10_000, 5.0) == p.n_units
    assert is_feasible(p, choice) and (choice >= 0).any()
    assert plan_cost(p, choice) >= mip.cost - 1e-6
