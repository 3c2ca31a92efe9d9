"""Large waves: class LP prices, follow its integral part, repair the remainder exactly.

Units that are interchangeable form classes (``classes.py``); the class LP (HiGHS dual simplex
from a crash basis, ``highs_model.py``) prices stock and lane departures. Units take the integral
part of their class's LP split (where it still fits), and what is left -- the fractional remainder
and what the LP left unserved -- is re-planned as a class MIP on the stock and capacity left:
integer counts per class and option, exact when the class members are identical. The bound is the
Lagrangian of the whole, un-aggregated wave at the LP's prices (``lagrange.py``), valid whatever
the aggregation did. A wave with more classes than one LP should hold is planned in chunks.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from xborder.planning.classes import (
    WEIGHT_BUCKET,
    aggregate,
    exact,
    follow_split,
    restrict,
    subproblem,
)
from xborder.planning.highs_model import solve_lp
from xborder.planning.lagrange import lagrangian_bound, reduced_costs, regret
from xborder.planning.problem import F64, I64, Plan, Problem, plan_cost, usage
from xborder.planning.rounds import assign_by_rounds

MAX_CLASSES = 80_000
REPAIR_OPTIONS = 400_000  # class options of the remainder the exact class MIP takes on
SAMPLE_ABOVE = 20_000  # classes above which a sample's LP prices the crash basis first
SAMPLE_SHARE = 0.25
CHUNK_REPAIR_SECONDS = 1.0
REPAIR_UNITS = 200_000  # remainders larger than this are placed by priced rounds only


def solve_large(
    problem: Problem,
    max_classes: int = MAX_CLASSES,
    repair_units: int = REPAIR_UNITS,
    repair_seconds: float = 3.0,
    lp_seconds: float | None = None,
) -> Plan:
    """Aggregate into classes, price with the class LP, repair exactly; certify by Lagrange.

    ``lp_seconds`` caps the class LP (its prices still certify a bound, a weaker one). A wave with
    more than ``max_classes`` classes is planned in random chunks (see ``_solve_chunked``).
    """
    t0 = time.perf_counter()
    agg, mult, cls = aggregate(problem, WEIGHT_BUCKET)
    t_agg = time.perf_counter() - t0
    if agg.n_units > max_classes:
        return _solve_chunked(problem, agg.n_units, max_classes, repair_units, repair_seconds,
                              lp_seconds, t0, (agg, mult, cls))  # fmt: skip
    t_w = time.perf_counter()
    warm = _sample_prices(problem) if agg.n_units > SAMPLE_ABOVE else None
    t_w = time.perf_counter() - t_w
    choice, lam_inv, lam_cap, stats = _solve_classes(
        problem, agg, mult, cls, repair_units, repair_seconds, lp_seconds, warm
    )
    t_b = time.perf_counter()
    if exact(problem, agg, cls):  # the same sum over classes, cheaper
        bound = lagrangian_bound(agg, lam_inv, lam_cap, mult=mult)
    else:
        bound = lagrangian_bound(problem, lam_inv, lam_cap)
    cost = plan_cost(problem, choice)
    stats.update({"classes": float(agg.n_units), "chunks": 1.0, "aggregate_s": t_agg,
                  "sample_s": t_w, "bound_s": time.perf_counter() - t_b})  # fmt: skip
    return Plan(choice, cost, min(bound, cost), "aggregated-lp", time.perf_counter() - t0, stats)


def _sample_prices(problem: Problem, share: float = SAMPLE_SHARE) -> tuple[F64, F64]:
    """Prices of the class LP of a random ``share`` of the units on that share of the limits.

    Only a warm start (they choose the crash basis of the whole LP, which then needs about 2.5x
    fewer iterations); a sample's prices are too noisy to certify a good bound themselves.
    """
    units = np.flatnonzero(np.random.default_rng(1).random(problem.n_units) < share)
    inv = np.floor(problem.inventory * share).astype(np.int64)
    sub, _ = restrict(problem, units, inv, problem.capacity * share)
    agg, mult, _ = aggregate(sub, WEIGHT_BUCKET)
    _, _, lam_inv, lam_cap = solve_lp(agg, mult)
    return lam_inv, lam_cap


def _solve_classes(
    problem: Problem, agg: Problem, mult: F64, cls: I64, repair_units: int,
    repair_seconds: float, lp_seconds: float | None, warm: tuple[F64, F64] | None = None,
) -> tuple[I64, F64, F64, dict[str, float]]:  # fmt: skip
    """Class LP, follow its integral part, repair the rest exactly; the choice and the prices."""
    t0 = time.perf_counter()
    _, x, lam_inv, lam_cap = solve_lp(agg, mult, lp_seconds, prices=warm)
    t_lp = time.perf_counter()
    reduced = reduced_costs(problem, lam_inv, lam_cap)
    pref = regret(problem, reduced)
    # units first take the option the LP gives their class (where it still fits) ...
    preferred = follow_split(problem, agg, x, cls)
    only_lp = np.zeros(problem.n_options, dtype=bool)
    only_lp[preferred[preferred >= 0]] = True
    choice = assign_by_rounds(problem, reduced, pref, only_lp)
    t_fix = time.perf_counter()
    # ... and the rest (fractional remainder, LP-unserved, overflow) is re-planned on what is left
    rest = repair(problem, choice, reduced, pref, repair_units, repair_seconds)
    stats = {"lp_s": t_lp - t0, "round_s": t_fix - t_lp,
             "repair_s": time.perf_counter() - t_fix, "repaired": float(rest)}  # fmt: skip
    return choice, lam_inv, lam_cap, stats


def repair(problem: Problem, choice: I64, reduced: F64, pref: F64, repair_units: int,
           repair_seconds: float) -> int:  # fmt: skip
    """Plan the unserved units on the stock and capacity left, in place; returns how many.

    The class MIP of the remainder (integer counts per class and option) decides; its split is
    handed to the member units where it fits, and priced rounds place whatever is still left.
    """
    rest = np.flatnonzero(choice < 0)
    if rest.size == 0:
        return 0
    sub, sub_opts = subproblem(problem, rest, choice)
    sub_choice = np.full(rest.size, -1, dtype=np.int64)
    if sub.n_options and rest.size <= repair_units:
        agg, mult, cls = aggregate(sub, WEIGHT_BUCKET)
        if agg.n_options <= REPAIR_OPTIONS:
            with contextlib.suppress(RuntimeError):  # no incumbent in time: priced rounds below
                _, x, _, _ = solve_lp(agg, mult, repair_seconds, integral=True)
                wanted = follow_split(sub, agg, x, cls)
                only = np.zeros(sub.n_options, dtype=bool)
                only[wanted[wanted >= 0]] = True
                sub_choice = assign_by_rounds(sub, reduced[sub_opts], pref[rest], only)
    left = np.flatnonzero(sub_choice < 0)
    if left.size and sub.n_options:
        last, last_opts = subproblem(sub, left, sub_choice)
        allowed = last.opt_cost < last.unit_penalty[last.opt_unit]
        got = assign_by_rounds(last, reduced[sub_opts][last_opts], pref[rest][left], allowed)
        ok = got >= 0
        sub_choice[left[ok]] = last_opts[got[ok]]
    served = sub_choice >= 0
    choice[rest[served]] = sub_opts[sub_choice[served]]
    return int(rest.size)


def _solve_chunked(
    problem: Problem, n_classes: int, max_classes: int, repair_units: int,
    repair_seconds: float, lp_seconds: float | None, t0: float,
    whole: tuple[Problem, F64, I64] | None = None,
) -> Plan:  # fmt: skip
    """Too many classes for one LP (diverse baskets): random chunks, each on its share.

    Chunk i of k gets the share (its units / units not yet planned) of the stock and capacity
    still left, so what a chunk leaves rolls over to the next and the last gets all the rest;
    each chunk is planned by the class LP; the unserved are then repaired (class MIP) on the
    leftovers. The bound is the Lagrangian of the whole wave at the chunks' average prices
    (valid for any non-negative prices).
    """
    k = int(np.ceil(1.25 * n_classes / max_classes))
    part = np.random.default_rng(0).integers(0, k, problem.n_units)
    choice = np.full(problem.n_units, -1, dtype=np.int64)
    inv_left = problem.inventory.copy()
    cap_left = problem.capacity.copy()
    lam_inv = np.zeros(problem.inventory.shape)
    lam_cap = np.zeros(problem.capacity.size)
    remaining = problem.n_units
    classes = 0.0
    lp_s = 0.0
    for i in range(k):
        units = np.flatnonzero(part == i)
        share = units.size / max(remaining, 1)
        remaining -= units.size
        inv_budget = np.floor(inv_left * share).astype(np.int64) if remaining else inv_left
        cap_budget = cap_left * share if remaining else cap_left
        sub, opts = restrict(problem, units, inv_budget, cap_budget)
        agg, mult, cls = aggregate(sub, WEIGHT_BUCKET)
        classes += agg.n_units
        # a short class-MIP repair per chunk, a longer one at the end; the chunks so far price
        # the crash basis (chunks are alike: random parts of one wave)
        warm = (lam_inv * k / i, lam_cap * k / i) if i else None
        sub_choice, li, lc, st = _solve_classes(
            sub, agg, mult, cls, repair_units, CHUNK_REPAIR_SECONDS, lp_seconds, warm
        )
        lp_s += st["lp_s"]
        lam_inv += li / k
        lam_cap += lc / k
        served = sub_choice >= 0
        choice[units[served]] = opts[sub_choice[served]]
        used_inv, used_cap = usage(sub, sub_choice)
        inv_left = inv_left - used_inv
        cap_left = cap_left - used_cap
    t_r = time.perf_counter()
    reduced = reduced_costs(problem, lam_inv, lam_cap)
    repaired = repair(problem, choice, reduced, regret(problem, reduced), repair_units,
                      repair_seconds)  # fmt: skip
    t_b = time.perf_counter()
    cost = plan_cost(problem, choice)
    # Polyak steps from the average prices did not raise the bound on the benchmark wave (4, 20
    # and 60 steps: no gain), so one evaluation at the average prices; over the classes when
    # they are exact (the same sum, cheaper)
    if whole is not None and exact(problem, whole[0], whole[2]):
        bound = lagrangian_bound(whole[0], lam_inv, lam_cap, mult=whole[1])
    else:
        bound = lagrangian_bound(problem, lam_inv, lam_cap)
    stats = {"classes": classes, "chunks": float(k), "repaired": float(repaired), "lp_s": lp_s,
             "repair_s": t_b - t_r, "bound_s": time.perf_counter() - t_b}  # fmt: skip
    return Plan(choice, cost, min(bound, cost), "aggregated-lp-chunked", time.perf_counter() - t0,
                stats)  # fmt: skip
