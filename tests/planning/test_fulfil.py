"""The fulfilment planner: feasibility, optimality against brute force, bounds, greedy baseline."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from xborder.cli.main import app
from xborder.domain.errors import InvalidValue
from xborder.planning.builder import LaneColumns, Network, OrderColumns, Route, build
from xborder.planning.cost_model import departure_wait, expected_lateness, lognormal_params
from xborder.planning.greedy import plan_greedy
from xborder.planning.instance import Instance, compile_instance, plan_report
from xborder.planning.problem import Problem, is_feasible, plan_cost, usage
from xborder.planning.solver import solve, solve_large, solve_lp, solve_mip


def _instance(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "orders": [
            {
                "id": "o1",
                "sku": "A",
                "qty": 2,
                "weight_kg": 3,
                "value": 10,
                "dest": "DE",
                "promise_days": 5,
            },
            {
                "id": "o2",
                "sku": "A",
                "qty": 1,
                "weight_kg": 1,
                "value": 10,
                "dest": "DE",
                "promise_days": 3,
            },
            {
                "id": "o3",
                "sku": "B",
                "qty": 1,
                "weight_kg": 2,
                "value": 10,
                "dest": "FR",
                "promise_days": 3,
            },
        ],
        "sources": [
            {"id": "CN1", "country": "CN", "inventory": {"A": 3, "B": 5}},
            {"id": "DE1", "country": "DE", "inventory": {"A": 1}},
        ],
        "lanes": [
            {
                "id": "L1",
                "source": "CN1",
                "dest": "DE",
                "cost_per_kg": 4,
                "cost_per_parcel": 2,
                "transit_days": 6,
                "capacity_kg": 100,
            },
            {
                "id": "L2",
                "source": "DE1",
                "dest": "DE",
                "cost_per_kg": 1,
                "cost_per_parcel": 3,
                "transit_days": 1,
                "capacity_kg": 100,
            },
        ],
        "late_penalty_per_day": 2,
    }
    raw.update(over)
    return raw


def test_instance_costs_follow_the_issue_formula() -> None:
    inst = Instance.parse(_instance())
    report = plan_report(inst, p := compile_instance(inst), solve(p))
    by = {a["order"]: a for a in report["assignments"]}
    # o2 from DE1 (1*1+3 = 4); o1 from CN1 (4*3+2 + 2*max(0, 6-5) = 16); o3 no lane to FR
    assert by["o2"] == {"order": "o2", "source": "DE1", "lane": "L2"}
    assert by["o1"] == {"order": "o1", "source": "CN1", "lane": "L1"}
    assert by["o3"]["source"] is None and "lane" in by["o3"]["reason"]
    assert report["cost"] == pytest.approx(4 + 16 + 10_000)
    assert report["lower_bound"] <= report["cost"] + 1e-6
    assert report["gap"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "lanes": [
                    {
                        "id": "L1",
                        "source": "CN1",
                        "dest": "DE",
                        "cost_per_kg": 4,
                        "cost_per_parcel": 2,
                        "transit_days": 6,
                        "capacity_kg": -5,
                    }
                ]
            },
            "lanes[0].capacity_kg",
        ),
        (
            {
                "orders": [
                    {
                        "id": "x",
                        "sku": "ZZZ",
                        "qty": 1,
                        "weight_kg": 1,
                        "dest": "DE",
                        "promise_days": 2,
                    }
                ]
            },
            "orders[0].sku",
        ),
        ({"sources": [{"id": "CN1", "inventory": {"A": -1}}]}, "sources[0].inventory"),
    ],
)
def test_bad_instances_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as err:
        Instance.parse(_instance(**change))
    assert field in str(err.value)


def test_infeasible_orders_are_reported_with_a_reason() -> None:
    raw = _instance()
    raw["sources"][0]["inventory"]["A"] = 0
    raw["sources"][1]["inventory"]["A"] = 0
    inst = Instance.parse(raw)
    report = plan_report(inst, p := compile_instance(inst), solve(p))
    assert all(a["source"] is None and a["reason"] for a in report["assignments"])
    assert report["cost"] == pytest.approx(30_000)


# --- random small instances -----------------------------------------------------------------
@st.composite
def small_problems(draw: st.DrawFn) -> Problem:
    n = draw(st.integers(1, 6))
    n_src, n_sku, n_dest = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    line_order, line_sku, line_qty = [], [], []
    for i in range(n):
        for _ in range(draw(st.integers(1, 2))):
            line_order.append(i)
            line_sku.append(draw(st.integers(0, n_sku - 1)))
            line_qty.append(draw(st.integers(1, 3)))
    weights = [draw(st.floats(0.1, 5.0)) for _ in line_order]
    inv = np.array([[draw(st.integers(0, 5)) for _ in range(n_sku)] for _ in range(n_src)])
    routes: list[Route] = []
    caps: list[float] = []
    for s in range(n_src):
        for d in range(n_dest):
            if draw(st.booleans()):
                routes.append(
                    Route(
                        f"r{s}{d}",
                        s,
                        d,
                        len(caps),
                        per_kg=draw(st.floats(0, 5)),
                        per_parcel=draw(st.floats(0, 5)),
                        transit_mean=draw(st.floats(1, 9)),
                    )
                )
                caps.append(draw(st.floats(0.0, 12.0)))
    if not routes:
        routes.append(Route("r00", 0, 0, 0, per_kg=1.0, transit_mean=2.0))
        caps.append(10.0)
    orders = OrderColumns(
        dest=np.array([draw(st.integers(0, n_dest - 1)) for _ in range(n)]),
        promise_days=np.array([draw(st.floats(0, 8)) for _ in range(n)]),
        penalty=np.full(n, draw(st.floats(5, 60))),
        split=np.array([draw(st.booleans()) for _ in range(n)]),
        line_order=np.array(line_order),
        line_sku=np.array(line_sku),
        line_qty=np.array(line_qty),
        line_weight=np.array(weights),
    )
    return build(orders, Network(inv, LaneColumns(np.array(caps)), tuple(routes), 1.5))


def brute_force(p: Problem) -> float:
    per_unit = [[-1, *np.flatnonzero(p.opt_unit == u).tolist()] for u in range(p.n_units)]
    best = float("inf")
    for combo in itertools.product(*per_unit):
        choice = np.array(combo, dtype=np.int64)
        if is_feasible(p, choice):
            best = min(best, plan_cost(p, choice))
    return best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems())
def test_mip_is_optimal_and_bounds_hold(p: Problem) -> None:
    exact = solve_mip(p)
    assert is_feasible(p, exact.choice)
    assert exact.cost == pytest.approx(brute_force(p), rel=1e-7, abs=1e-6)
    assert exact.lower_bound <= exact.cost + 1e-6
    lp, _, _, _ = solve_lp(p)
    assert lp <= exact.cost + 1e-6  # the LP relaxation never exceeds the optimum
    large = solve_large(p)
    assert is_feasible(p, large.choice)
    assert large.lower_bound <= exact.cost + 1e-6  # the Lagrangian bound is valid
    assert large.cost >= exact.cost - 1e-6
    greedy = plan_greedy(p)
    assert is_feasible(p, greedy.choice)
    assert greedy.cost >= exact.cost - 1e-6


def test_large_waves_respect_stock_and_every_departure() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    line_order = np.repeat(np.arange(n), rng.integers(1, 3, n))
    orders = OrderColumns(
        dest=rng.integers(0, 3, n),
        promise_days=rng.uniform(2, 9, n),
        penalty=np.full(n, 200.0),
        split=np.zeros(n, dtype=bool),
        line_order=line_order,
        line_sku=rng.integers(0, 20, line_order.size),
        line_qty=rng.integers(1, 3, line_order.size),
        line_weight=rng.uniform(0.2, 4, line_order.size),
        ready_day=np.full(n, 4),
        ready_minute=rng.integers(0, 1440, n),
    )
    routes = tuple(
        Route(
            f"r{s}{d}",
            s,
            d,
            s * 3 + d,
            per_kg=1 + s,
            per_parcel=2,
            transit_mean=3 + 2 * s,
            transit_p95=6 + 3 * s,
        )
        for s in range(4)
        for d in range(3)
    )
    weekdays = np.tile(np.array([True, False, True, False, True, False, False]), (12, 1))
    lanes = LaneColumns(np.full(12, 900.0), weekdays, np.full(12, 15 * 60))
    inv = rng.integers(50, 300, (4, 20))
    p = build(orders, Network(inv, lanes, routes, 4.0))
    plan = solve(p, "lp")
    assert plan.method == "aggregated-lp"
    assert is_feasible(p, plan.choice)
    inv_used, cap_used = usage(p, plan.choice)
    assert (inv_used <= p.inventory).all() and (cap_used <= p.capacity + 1e-6).all()
    assert plan.lower_bound <= plan.cost
    # cut-offs: Friday (day 4) after 15:00 cannot make Friday's departure -> next Monday (3 days)
    served = np.flatnonzero(plan.choice >= 0)
    wait = p.extra["wait_days"][plan.choice[served]]
    assert orders.ready_minute is not None
    late = orders.ready_minute[p.unit_order[served]] > 15 * 60
    assert (wait[late] == 3).all() and (wait[~late] == 0).all()
    greedy = plan_greedy(p)
    assert greedy.cost >= plan.lower_bound
    # too many classes for one LP: planned in chunks, still feasible, the bound still valid
    chunked = solve_large(p, max_classes=600)
    assert chunked.method == "aggregated-lp-chunked" and chunked.stats["chunks"] > 1
    assert is_feasible(p, chunked.choice)
    assert chunked.lower_bound <= plan.cost + 1e-6
    assert chunked.cost <= greedy.cost


def test_lognormal_fit_and_lateness() -> None:
    mu, sigma = lognormal_params(5.0, 9.0)
    assert np.exp(mu + sigma**2 / 2) == pytest.approx(5.0)
    assert np.exp(mu + 1.6448536 * sigma) == pytest.approx(9.0, rel=1e-6)
    late = expected_lateness(5.0, 9.0, np.array([-1.0, 0.0, 5.0, 30.0]))
    assert late[0] == pytest.approx(6.0) and late[1] == pytest.approx(5.0)
    assert 0 < late[2] < 5.0 and late[3] < 1e-4
    assert (expected_lateness(4.0, None, np.array([1.0, 6.0])) == np.array([3.0, 0.0])).all()


def test_departure_waits_for_the_next_departure_day() -> None:
    mon_wed = np.array([True, False, True, False, False, False, False])
    wait = departure_wait(np.array([0, 0, 1, 2, 3]), np.array([600, 1200, 0, 0, 0]), mon_wed, 1080)
    assert wait.tolist() == [0, 2, 1, 0, 4]


def test_cli_plans_an_instance_and_refuses_bad_input(tmp_path: Path) -> None:
    good = tmp_path / "wave.json"
    good.write_text(json.dumps(_instance()), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", "fulfil", "--instance", str(good)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {a["order"] for a in out["assignments"]} == {"o1", "o2", "o3"}
    assert out["lower_bound"] <= out["cost"] and out["gap"] >= 0
    bad = tmp_path / "bad.json"
    raw = _instance()
    raw["lanes"][0]["capacity_kg"] = -1
    bad.write_text(json.dumps(raw), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", "fulfil", "--instance", str(bad)])
    assert result.exit_code == 2
    assert "lanes[0].capacity_kg" in result.output
    assert "Traceback" not in result.output
