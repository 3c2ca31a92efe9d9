"""Stability of an allocation: the core, the least core and the nucleolus (LPs with HiGHS), and
the Nash bargaining split for two partners.

The core is every efficient allocation x with x(S) >= v(S) for each coalition S: no group of
partners would do better leaving. Membership is checked directly (all coalition sums at once,
vectorised); emptiness by the least-core LP: min e such that x(S) + e >= v(S), x(N) = v(N). When
e* <= 0 the core is not empty. The nucleolus (Schmeidler 1969) lexicographically minimises the
sorted excesses; it is computed by the standard sequence of LPs (Maschler, Peleg & Shapley 1979),
fixing at each round the coalitions whose constraint has a positive dual value, which strict
complementary slackness makes tight in every optimal solution.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from xborder.domain.errors import InvalidValue
from xborder.settlement.game import Game

LP_MAX_PLAYERS = 16  # 2**16 constraints per LP
TOL = 1e-7


@dataclass(frozen=True, slots=True)
class CoreCheck:
    in_core: bool
    max_excess: float  # max over coalitions of v(S) - x(S): <= 0 inside the core
    blocking: tuple[str, ...]  # the coalition with that excess (empty when in the core)


@dataclass(frozen=True, slots=True)
class LeastCore:
    epsilon: float  # <= 0: the core is not empty
    allocation: np.ndarray

    @property
    def core_empty(self) -> bool:
        return self.epsilon > TOL


def coalition_sums(x: np.ndarray) -> np.ndarray:
    """x(S) for every bitmask S, built bit by bit (n vectorised steps)."""
    n = len(x)
    sums = np.zeros(1 << n)
    for i in range(n):
        sums[1 << i : 2 << i] = sums[: 1 << i] + x[i]
    return sums


def check_core(game: Game, allocation: np.ndarray, tol: float = 1e-9) -> CoreCheck:
    x = np.asarray(allocation, dtype=np.float64)
    if x.shape != (game.n,):
        raise InvalidValue("allocation", f"expected {game.n} shares", x.shape)
    scale = max(1.0, float(np.abs(game.values).max()))
    if abs(float(x.sum()) - game.grand) > tol * scale:
        return CoreCheck(False, float("nan"), game.players)  # not even efficient
    excess = game.values - coalition_sums(x)
    if game.n == 1:
        return CoreCheck(True, 0.0, ())
    excess[0] = excess[-1] = -np.inf  # only proper, non-empty coalitions can block
    worst = int(np.argmax(excess))
    if excess[worst] <= tol * scale:
        return CoreCheck(True, float(excess[worst]), ())
    members = tuple(p for i, p in enumerate(game.players) if worst >> i & 1)
    return CoreCheck(False, float(excess[worst]), members)


def _bits(n: int, masks: np.ndarray) -> np.ndarray:
    return ((masks[:, None] >> np.arange(n)) & 1).astype(np.float64)


_banner_done = False


def _highs() -> Any:
    """A silent solver. HiGHS prints a banner on stdout when the first instance is built, which
    would corrupt JSON output; the file descriptor is muted for that one construction."""
    global _banner_done
    if _banner_done:
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _banner_done = True
    h.setOptionValue("output_flag", False)
    # HiGHS starts one global task scheduler per process with the first instance that runs, and
    # refuses later instances asking for another thread count: one thread, as the planner asks
    h.setOptionValue("threads", 1)
    return h


def _solve(
    cost: np.ndarray, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray,
    col_lower: np.ndarray, col_upper: np.ndarray, maximise: bool = False,
) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
    """Solve an LP with HiGHS; returns (x, row duals, objective)."""
    h = _highs()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = rows.shape[1], rows.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = col_lower, col_upper
    lp.row_lower_, lp.row_upper_ = lower, upper
    if maximise:
        lp.sense_ = highspy.ObjSense.kMaximize
    r, c = np.nonzero(rows)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.searchsorted(r, np.arange(rows.shape[0] + 1)).astype(np.int32)
    lp.a_matrix_.index_ = c.astype(np.int32)
    lp.a_matrix_.value_ = rows[r, c]
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = rows.shape[1], rows.shape[0]
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise InvalidValue(
            "game", f"the LP was not solved: {h.modelStatusToString(h.getModelStatus())}"
        )
    sol = h.getSolution()
    return (
        np.array(sol.col_value),
        np.array(sol.row_dual),
        float(h.getInfo().objective_function_value),
    )


def _check_size(game: Game) -> None:
    if game.n > LP_MAX_PLAYERS:
        raise InvalidValue("players", f"core LPs are for at most {LP_MAX_PLAYERS} players", game.n)


def least_core(game: Game) -> LeastCore:
    _check_size(game)
    n = game.n
    masks = np.arange(1, (1 << n) - 1, dtype=np.int64)
    if n == 1:
        return LeastCore(0.0, np.array([game.grand]))
    rows = np.hstack([_bits(n, masks), np.ones((len(masks), 1))])
    grand = np.r_[np.ones(n), 0.0][None, :]
    a = np.vstack([rows, grand])
    lower = np.r_[game.values[masks], game.grand]
    upper = np.r_[np.full(len(masks), np.inf), game.grand]
    cost = np.r_[np.zeros(n), 1.0]
    x, _, eps = _solve(cost, a, lower, upper, np.full(n + 1, -np.inf), np.full(n + 1, np.inf))
    return LeastCore(eps, x[:n])


def nucleolus(game: Game) -> np.ndarray:
    """The nucleolus by sequential LPs; every round fixes at least one coalition's excess."""
    _check_size(game)
    n = game.n
    if n == 1:
        return np.array([game.grand])
    free = np.arange(1, (1 << n) - 1, dtype=np.int64)
    fixed_rows: list[np.ndarray] = [np.ones(n)]  # x(N) = v(N)
    fixed_rhs: list[float] = [game.grand]
    x = np.zeros(n)
    for _ in range(1 << n):
        fixed = np.array(fixed_rows)
        rows = np.hstack([_bits(n, free), np.ones((len(free), 1))])
        eq = np.hstack([fixed, np.zeros((len(fixed_rows), 1))])
        a = np.vstack([rows, eq])
        lower = np.r_[game.values[free], fixed_rhs]
        upper = np.r_[np.full(len(free), np.inf), fixed_rhs]
        cost = np.r_[np.zeros(n), 1.0]
        sol, duals, eps = _solve(cost, a, lower, upper, np.full(n + 1, -np.inf),
                                 np.full(n + 1, np.inf))  # fmt: skip
        x = sol[:n]
        binding = np.abs(duals[: len(free)]) > TOL
        if not binding.any():  # degenerate dual: fall back on the tight constraints
            slack = _bits(n, free) @ x + eps - game.values[free]
            binding = slack <= TOL * max(1.0, abs(eps))
        for mask in free[binding]:
            fixed_rows.append(_bits(n, np.array([mask]))[0])
            fixed_rhs.append(float(game.values[mask]) - eps)
        fixed = np.array(fixed_rows)
        if np.linalg.matrix_rank(fixed) >= n:
            break
        # drop coalitions whose sum the fixed ones already determine (their excess cannot move)
        _, sv, vt = np.linalg.svd(fixed)
        q = vt[: int((sv > 1e-9).sum())].T  # orthonormal basis of the fixed rows' span
        rest = free[~binding]
        b = _bits(n, rest)
        residual = np.linalg.norm(b - (b @ q) @ q.T, axis=1)
        free = rest[residual > 1e-9]
        if len(free) == 0:
            break
    if np.linalg.matrix_rank(np.array(fixed_rows)) >= n:
        x = np.linalg.lstsq(np.array(fixed_rows), np.array(fixed_rhs), rcond=None)[0]
    return np.asarray(x)


@dataclass(frozen=True, slots=True)
class NashSplit:
    shares: tuple[float, float]
    surplus: float


def nash_bargaining(game: Game, power: float = 0.5) -> NashSplit:
    """Two partners: maximise (x1-d1)^power (x2-d2)^(1-power) on x1+x2 = v(12), d_i = v({i}).

    The optimum gives each its stand-alone worth plus its power's share of the surplus."""
    if game.n != 2:
        raise InvalidValue("players", "Nash bargaining here is for exactly two partners", game.n)
    if not 0 < power < 1:
        raise InvalidValue("power", "must be strictly between 0 and 1", power)
    d1, d2, together = float(game.values[1]), float(game.values[2]), game.grand
    surplus = together - d1 - d2
    if surplus < 0:
        raise InvalidValue("values", "cooperating is worth less than the partners alone: no deal",
                           surplus)  # fmt: skip
    return NashSplit((d1 + power * surplus, d2 + (1 - power) * surplus), surplus)
