"""Fulfilment planning benchmark: a wave of multi-line orders over 20+ sources and 50+ lanes.

Times the plan (build + solve) of the class-LP planner and, in the same run, its baselines: the
greedy plan (in-country stock first, then the cheapest lane) on the same wave, and plain HiGHS
(presolve, slack basis) on the LP of the whole un-aggregated wave of a smaller size
(``--plain-orders``; OR-Tools is not installed) next to our planner on that wave. Reading the wave
from the store and storing the plan are timed separately through the use case
(``plan_fulfilment`` on a temporary SQLite store with the demo world, ``--store-orders``).
Prints readable lines, then one JSON object of figures; writes only into a temporary directory.

    .venv/bin/python benchmarks/bench_fulfil.py --orders 1000000
    .venv/bin/python benchmarks/bench_fulfil.py --quick      # small sizes, under a minute
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from xborder.planning.builder import LaneColumns, Network, OrderColumns, Route, build
from xborder.planning.greedy import plan_greedy
from xborder.planning.problem import is_feasible, plan_cost
from xborder.planning.solver import solve_large, solve_lp

GOAL_S, GOAL_GAP = 10.0, 0.005

N_DEST = 12
N_CN = 8
N_SKUS = 1_500  # default catalogue; --skus changes it
MAX_LINES = 5


def make_network(
    seed: int, demand_kg: np.ndarray, sku_demand: np.ndarray, n_skus: int = N_SKUS
) -> Network:
    """8 China warehouses, one overseas warehouse per market, 4 regional hubs: 24 sources.

    Lanes: each China warehouse flies to 6 markets (48 lanes) and each hub trucks to 3 (12 lanes);
    every departure's capacity is 45-90 % of the kg its markets ask for, so capacity binds.
    Overseas stock covers the popular SKUs thinly, so stock binds too.
    """
    rng = np.random.default_rng(seed + 1)
    n_sources = N_CN + N_DEST + 4
    inv = np.zeros((n_sources, n_skus), dtype=np.int64)
    inv[:N_CN] = rng.integers(50, 400, (N_CN, n_skus)) * (rng.random((N_CN, n_skus)) < 0.8)
    inv[:N_CN] += (sku_demand * 0.4).astype(np.int64)  # China holds the bulk of the catalogue
    popular = np.argsort(-sku_demand)[: min(300, n_skus // 5)]  # overseas: the fast movers
    for d in range(N_DEST):
        thin = rng.uniform(0.2, 0.8, popular.size)
        inv[N_CN + d, popular] = (sku_demand[popular] / N_DEST * thin).astype(np.int64)
    for h in range(4):
        inv[N_CN + N_DEST + h, popular[: popular.size // 2]] = (
            sku_demand[popular[: popular.size // 2]] * 0.05
        ).astype(np.int64)
    routes: list[Route] = []
    cap: list[float] = []
    weekdays: list[np.ndarray] = []
    cutoff: list[int] = []
    for s in range(N_CN):
        for d in rng.choice(N_DEST, 6, replace=False):
            lane = len(cap)
            mode = rng.integers(3)
            per_kg = (6.0, 3.5, 1.8)[mode] * rng.uniform(0.8, 1.2)
            mean = (5.0, 9.0, 20.0)[mode] * rng.uniform(0.8, 1.2)
            routes.append(
                Route(
                    f"CN{s}-D{d}",
                    s,
                    int(d),
                    lane,
                    per_kg=per_kg,
                    per_parcel=float(rng.uniform(1, 3)),
                    minimum=3.0,
                    handling=1.2,
                    last_mile_per_parcel=4.0,
                    last_mile_per_kg=0.3,
                    transit_mean=mean,
                    transit_p95=mean * rng.uniform(1.3, 2.0),
                )
            )
            cap.append(float(demand_kg[d] / 6 * rng.uniform(0.45, 0.9)))
            days = np.zeros(7, dtype=bool)
            days[rng.choice(7, rng.integers(2, 6), replace=False)] = True
            weekdays.append(days)
            cutoff.append(int(rng.integers(12, 20)) * 60)
    for d in range(N_DEST):
        routes.append(
            Route(
                f"OW{d}",
                N_CN + d,
                d,
                -1,
                handling=2.5,
                last_mile_per_parcel=4.5,
                last_mile_per_kg=0.4,
                transit_mean=2.0,
                transit_p95=3.5,
            )
        )
    for h in range(4):
        for d in range(3 * h, 3 * h + 3):
            lane = len(cap)
            routes.append(
                Route(
                    f"HUB{h}-D{d}",
                    N_CN + N_DEST + h,
                    d,
                    lane,
                    per_kg=0.9,
                    per_parcel=2.0,
                    handling=2.0,
                    last_mile_per_parcel=4.5,
                    last_mile_per_kg=0.4,
                    transit_mean=4.0,
                    transit_p95=7.0,
                )
            )
            cap.append(float(demand_kg[d] * 0.06))
            weekdays.append(np.array([True, False, True, False, True, False, False]))
            cutoff.append(17 * 60)
    lanes = LaneColumns(np.array(cap), np.array(weekdays), np.array(cutoff, dtype=np.int64))
    return Network(inv, lanes, tuple(routes), late_penalty_per_day=3.0)


def make_orders(
    n: int, seed: int, n_skus: int = N_SKUS, max_lines: int = MAX_LINES
) -> OrderColumns:
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_skus + 1) ** 1.1
    pop /= pop.sum()
    sku_kg = np.round(rng.lognormal(-0.7, 0.8, n_skus), 2) + 0.05
    share = rng.dirichlet(np.full(N_DEST, 3.0))
    dest = rng.choice(N_DEST, n, p=share)
    lines = np.minimum(1 + rng.poisson(0.6, n), max_lines)
    line_order = np.repeat(np.arange(n), lines)
    line_sku = rng.choice(n_skus, line_order.size, p=pop)
    line_qty = np.where(rng.random(line_order.size) < 0.85, 1, 2)
    return OrderColumns(
        dest=dest,
        promise_days=rng.choice(np.array([4.0, 7.0, 12.0]), n, p=[0.3, 0.5, 0.2]),
        penalty=np.full(n, 500.0),
        split=np.zeros(n, dtype=bool),
        line_order=line_order,
        line_sku=line_sku,
        line_qty=line_qty,
        line_weight=sku_kg[line_sku] * line_qty,
        ready_day=np.zeros(n, dtype=np.int64) + 2,  # a Wednesday wave
        ready_minute=rng.choice(np.array([9 * 60, 15 * 60, 21 * 60]), n),
    )


def wave(
    n: int, seed: int = 1, n_skus: int = N_SKUS, max_lines: int = MAX_LINES
) -> tuple[OrderColumns, Network]:
    orders = make_orders(n, seed, n_skus, max_lines)
    demand_kg = np.bincount(
        orders.dest[orders.line_order], weights=orders.line_weight, minlength=N_DEST
    )
    sku_demand = np.bincount(orders.line_sku, weights=orders.line_qty, minlength=n_skus)
    return orders, make_network(seed, demand_kg, sku_demand, n_skus)


def store_run(n: int, seed: int, tmp: str) -> dict[str, Any]:
    """Capture ``n`` generated orders into a fresh SQLite store, then time ``plan_fulfilment``."""
    from datetime import time as clock_time

    from xborder.bootstrap import bootstrap
    from xborder.domain.clock import SettableClock
    from xborder.services.capture import capture_batch
    from xborder.services.planning import PlanFulfilment, plan_fulfilment
    from xborder.services.world import LoadWorld, load_world, read_world
    from xborder.simulation.order_generator import generate_orders

    world = read_world()
    clock = SettableClock(datetime.combine(world.meta.valid_on, clock_time(23, 0), tzinfo=UTC))
    platform = bootstrap(f"sqlite:///{Path(tmp) / 'plan.db'}", clock=clock)
    try:
        load_world(platform.uow(), LoadWorld(world))
        capture_batch(platform.uow(), generate_orders(world, n, seed=seed))
        t0 = time.perf_counter()
        result = plan_fulfilment(platform.uow(), PlanFulfilment())
        total = time.perf_counter() - t0
    finally:
        platform.close()
    t = result.timings
    return {
        "orders": result.orders,
        "assigned": result.assigned,
        "total_s": round(total, 2),
        "read_s": round(t["read_s"], 2),
        "compile_s": round(t["compile_s"], 2),
        "solve_s": round(t["solve_s"], 2),
        "store_s": round(t["store_s"], 2),
        "read_and_store_s": round(t["read_s"] + t["store_s"], 2),
        "gap_pct": round(100 * result.gap, 4),
    }


def plain_run(m: int, seed: int, n_skus: int, max_lines: int) -> dict[str, Any]:
    """Plain HiGHS on the un-aggregated LP of an ``m``-order wave, and our planner on it."""
    small_orders, small_net = wave(m, seed, n_skus, max_lines)
    small = build(small_orders, small_net)
    t0 = time.perf_counter()
    lp_obj, _, _, _ = solve_lp(small, crash=False)
    t1 = time.perf_counter()
    ours = solve_large(small)
    t2 = time.perf_counter()
    return {
        "orders": m,
        "options": small.n_options,
        "plain_lp_s": round(t1 - t0, 2),
        "plain_lp_bound": round(lp_obj, 2),
        "ours_s": round(t2 - t1, 2),
        "speedup": round((t1 - t0) / max(t2 - t1, 1e-9), 2),
        "ours_cost": round(ours.cost, 2),
        "ours_bound": round(ours.lower_bound, 2),
        "ours_gap_pct": round(100 * ours.gap, 4),
        "ours_vs_lp_pct": round(100 * (ours.cost / lp_obj - 1), 4),
        "feasible": is_feasible(small, ours.choice),
        "check_cost": round(plan_cost(small, ours.choice), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--plain-orders", type=int, default=50_000, help="0: skip")
    parser.add_argument("--store-orders", type=int, default=20_000, help="0: skip")
    parser.add_argument("--quick", action="store_true", help="20,000 orders; small baselines")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lp-seconds", type=float, default=None, help="cap the class LP")
    parser.add_argument("--skus", type=int, default=N_SKUS)
    parser.add_argument("--max-lines", type=int, default=MAX_LINES, help="1: single-line orders")
    args = parser.parse_args()
    if args.quick:
        args.orders = min(args.orders, 20_000)
        args.plain_orders = min(args.plain_orders, 5_000)
        args.store_orders = min(args.store_orders, 2_000)
    load_start = os.getloadavg()[0]

    orders, network = wave(args.orders, args.seed, args.skus, args.max_lines)
    t1 = time.perf_counter()
    problem = build(orders, network)
    t2 = time.perf_counter()
    plan = solve_large(problem, lp_seconds=args.lp_seconds)
    t3 = time.perf_counter()
    greedy = plan_greedy(problem)
    out: dict[str, Any] = {
        "orders": args.orders,
        "lines": int(orders.line_sku.size),
        "sources": int(network.inventory.shape[0]),
        "lanes": int(network.lanes.capacity_kg.size),
        "routes": len(network.routes),
        "options": problem.n_options,
        "build_s": round(t2 - t1, 2),
        "solve_s": round(t3 - t2, 2),
        "plan_total_s": round(t3 - t1, 2),
        "method": plan.method,
        "cost": round(plan.cost, 2),
        "lower_bound": round(plan.lower_bound, 2),
        "gap_pct": round(100 * plan.gap, 4),
        "feasible": is_feasible(problem, plan.choice),
        "unserved": int((plan.choice < 0).sum()),
        "stats": {k: round(v, 3) for k, v in plan.stats.items()},
        "greedy_cost": round(greedy.cost, 2),
        "greedy_s": round(greedy.seconds, 2),
        "greedy_unserved": int((greedy.choice < 0).sum()),
        "greedy_dearer_pct": round(100 * (greedy.cost / plan.cost - 1), 3),
    }
    if args.plain_orders:
        out["plain_highs"] = plain_run(
            min(args.plain_orders, args.orders), args.seed, args.skus, args.max_lines
        )
    if args.store_orders:
        with tempfile.TemporaryDirectory(prefix="bench-fulfil-") as tmp:
            out["store"] = store_run(args.store_orders, args.seed, tmp)
    out["load_avg_1m"] = {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)}
    print(f"time to a plan (build + solve): {out['plan_total_s']:.2f} s "
          f"(goal {GOAL_S:.0f} s: ratio {out['plan_total_s'] / GOAL_S:.2f}); "
          f"gap to the bound {out['gap_pct']:.3f} % (goal {100 * GOAL_GAP:.1f} %)")  # fmt: skip
    print(f"greedy baseline (same wave): {out['greedy_s']:.2f} s, "
          f"{out['greedy_dearer_pct']:.1f} % dearer than the plan, "
          f"cost ratio {greedy.cost / plan.cost:.3f}")  # fmt: skip
    if "plain_highs" in out:
        ph = out["plain_highs"]
        print(f"plain HiGHS LP, {ph['orders']:,} orders: {ph['plain_lp_s']:.2f} s (bound only); "
              f"ours {ph['ours_s']:.2f} s (plan, {ph['ours_vs_lp_pct']:.3f} % above that LP): "
              f"speed-up {ph['speedup']:.2f}x")  # fmt: skip
    if "store" in out:
        st = out["store"]
        print(f"store path, {st['orders']:,} stored orders: read {st['read_s']:.2f} s + store "
              f"{st['store_s']:.2f} s (compile {st['compile_s']:.2f} s, solve "
              f"{st['solve_s']:.2f} s)")  # fmt: skip
    print(f"load average (1 min): {out['load_avg_1m']['start']} at start, "
          f"{out['load_avg_1m']['end']} at end")  # fmt: skip
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
