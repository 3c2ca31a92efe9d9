"""The Shapley value: exact by subset enumeration (vectorised over bitmasks) or Monte Carlo.

Exact: phi_i = sum over S without i of |S|!(n-|S|-1)!/n! * (v(S+i) - v(S)). With the game as a
vector indexed by bitmask, each player's sum is one masked NumPy reduction over 2**(n-1)
coalitions: n passes, no Python loop over coalitions. Above EXACT_MAX players, random permutations
(Castro, Gomez & Tejada 2009): a permutation's marginal contributions are differences of the worth
of its prefixes, all prefixes of all sampled permutations evaluated in one call; the estimate comes
with a normal confidence interval, and every sampled permutation sums to v(N), so it is efficient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xborder.domain.errors import InvalidValue
from xborder.settlement.game import CoalitionGame, Game, popcount

EXACT_MAX = 20


@dataclass(frozen=True, slots=True)
class ShapleyResult:
    players: tuple[str, ...]
    value: np.ndarray
    exact: bool
    samples: int = 0
    half_width: np.ndarray | None = None  # of the confidence interval, per player
    confidence: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {p: float(v) for p, v in zip(self.players, self.value, strict=True)}


def shapley_exact(game: Game) -> ShapleyResult:
    n = game.n
    if n > EXACT_MAX:
        raise InvalidValue("players", f"exact Shapley is for at most {EXACT_MAX} players", n)
    v = game.values
    masks = np.arange(1 << n, dtype=np.int64)
    size = popcount(masks)
    # weight of a coalition S (not containing i) in player i's sum, by |S|
    weights = np.array([
        math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)
    ])  # fmt: skip
    w = weights[np.minimum(size, n - 1)]
    phi = np.empty(n)
    for i in range(n):  # n vectorised passes over the 2**(n-1) coalitions without i
        without = masks[(masks >> i) & 1 == 0]
        phi[i] = np.dot(w[without], v[without | (1 << i)] - v[without])
    return ShapleyResult(game.players, phi, exact=True)


def shapley_monte_carlo(
    game: CoalitionGame, samples: int = 20_000, seed: int = 0, confidence: float = 0.95,
    chunk: int = 4096,
) -> ShapleyResult:  # fmt: skip
    players = game.players
    n = len(players)
    if samples < 2:
        raise InvalidValue("samples", "at least 2 permutations are needed", samples)
    if not 0 < confidence < 1:
        raise InvalidValue("confidence", "must be between 0 and 1", confidence)
    rng = np.random.default_rng(seed)
    total = np.zeros(n)
    squares = np.zeros(n)
    bits = np.left_shift(np.int64(1), np.arange(n, dtype=np.int64))
    done = 0
    while done < samples:
        m = min(chunk, samples - done)
        perms = rng.permuted(np.tile(np.arange(n), (m, 1)), axis=1)
        prefix = np.cumsum(bits[perms], axis=1)  # coalition after each arrival (disjoint bits)
        worth = game.worth_of_masks(prefix.ravel()).reshape(m, n)
        marginal = np.diff(worth, axis=1, prepend=0.0)
        contrib = np.zeros((m, n))
        np.put_along_axis(contrib, perms, marginal, axis=1)
        total += contrib.sum(axis=0)
        squares += (contrib**2).sum(axis=0)
        done += m
    mean = total / samples
    var = np.maximum(squares / samples - mean**2, 0.0) * samples / (samples - 1)
    z = _normal_quantile(0.5 + confidence / 2)
    half = z * np.sqrt(var / samples)
    return ShapleyResult(players, mean, False, samples, half, confidence)


def shapley(game: CoalitionGame, samples: int = 20_000, seed: int = 0) -> ShapleyResult:
    """Exact when the game is tabulated and small enough, else Monte Carlo."""
    if isinstance(game, Game) and game.n <= EXACT_MAX:
        return shapley_exact(game)
    return shapley_monte_carlo(game, samples, seed)


def _normal_quantile(p: float) -> float:
    """Inverse standard normal CDF by bisection on erf (exact enough for an interval)."""
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
