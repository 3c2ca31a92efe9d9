"""Shapley values on games with known answers, the axioms as properties, and Monte Carlo."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xborder.domain.errors import InvalidValue
from xborder.settlement.game import CallableGame, Game
from xborder.settlement.shapley import shapley, shapley_exact, shapley_monte_carlo


def glove(left: int, right: int) -> Game:
    players = [f"l{i}" for i in range(left)] + [f"r{i}" for i in range(right)]

    def worth(s: frozenset[str]) -> float:
        return float(min(sum(p[0] == "l" for p in s), sum(p[0] == "r" for p in s)))

    return Game.from_function(players, worth)


def weighted_majority(quota: int, weights: list[int]) -> Game:
    players = [f"p{i}" for i in range(len(weights))]
    w = dict(zip(players, weights, strict=True))
    return Game.from_function(players, lambda s: float(sum(w[p] for p in s) >= quota))


def airport_closed_form(costs: list[float]) -> np.ndarray:
    """Littlechild & Owen (1973): each segment's cost is shared equally by its users."""
    order = np.argsort(costs, kind="stable")
    c = np.asarray(costs)[order]
    n = len(c)
    steps = np.diff(np.r_[0.0, c]) / (n - np.arange(n))
    result = np.empty(n)
    result[order] = np.cumsum(steps)
    return result


def airport(costs: list[float]) -> Game:
    players = [f"a{i}" for i in range(len(costs))]
    c = dict(zip(players, costs, strict=True))
    return Game.from_function(players, lambda s: max((c[p] for p in s), default=0.0))


def test_glove_game() -> None:
    assert shapley_exact(glove(1, 2)).as_dict() == pytest.approx(
        {"l0": 2 / 3, "r0": 1 / 6, "r1": 1 / 6}
    )
    two_one = shapley_exact(glove(2, 1)).as_dict()
    assert two_one == pytest.approx({"l0": 1 / 6, "l1": 1 / 6, "r0": 2 / 3})


def test_weighted_majority_games() -> None:
    assert shapley_exact(weighted_majority(51, [50, 49, 1])).value == pytest.approx(
        [2 / 3, 1 / 6, 1 / 6]
    )
    # UN Security Council (1965 rules): 5 permanent members with a veto, 10 elected, 9 votes
    # needed: weights 7 and 1, quota 39. Shapley & Shubik (1954) style values: 421/2145, 4/2145.
    council = shapley_exact(weighted_majority(39, [7] * 5 + [1] * 10)).value
    assert council[:5] == pytest.approx([float(Fraction(421, 2145))] * 5)
    assert council[5:] == pytest.approx([float(Fraction(4, 2145))] * 10)


@given(st.lists(st.integers(0, 100), min_size=1, max_size=9))
def test_airport_game_matches_its_closed_form(costs: list[int]) -> None:
    fc = [float(c) for c in costs]
    assert shapley_exact(airport(fc)).value == pytest.approx(airport_closed_form(fc), abs=1e-9)


random_games = st.integers(2, 7).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.integers(-50, 100), min_size=(1 << n) - 1, max_size=(1 << n) - 1),
    )
)


def _game(n: int, values: list[int]) -> Game:
    return Game(tuple(f"p{i}" for i in range(n)), np.r_[0.0, np.asarray(values, dtype=float)])


@given(random_games)
def test_efficiency(data: tuple[int, list[int]]) -> None:
    g = _game(*data)
    assert shapley_exact(g).value.sum() == pytest.approx(g.grand, abs=1e-9)


@given(random_games)
def test_symmetry_and_null_player(data: tuple[int, list[int]]) -> None:
    n, values = data
    v = np.r_[0.0, np.asarray(values, dtype=float)]
    masks = np.arange(1 << n)
    # make players 0 and 1 symmetric: swapping them leaves every coalition's worth unchanged
    swapped = (masks & ~3) | ((masks & 1) << 1) | ((masks >> 1) & 1)
    v = (v + v[swapped]) / 2
    # make the last player null: joining any coalition adds nothing
    last = 1 << (n - 1)
    v[masks & last != 0] = v[masks[masks & last != 0] & ~last]
    phi = shapley_exact(Game(tuple(f"p{i}" for i in range(n)), v)).value
    if n > 2:
        assert phi[0] == pytest.approx(phi[1], abs=1e-9)
    assert phi[-1] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=30)
@given(random_games, random_games)
def test_additivity(a: tuple[int, list[int]], b: tuple[int, list[int]]) -> None:
    n = min(a[0], b[0])
    ga, gb = _game(n, a[1][: (1 << n) - 1]), _game(n, b[1][: (1 << n) - 1])
    both = Game(ga.players, ga.values + gb.values)
    assert shapley_exact(both).value == pytest.approx(
        shapley_exact(ga).value + shapley_exact(gb).value, abs=1e-9
    )


def test_monte_carlo_interval_covers_the_exact_value() -> None:
    g = weighted_majority(51, [30, 25, 20, 15, 10, 5, 3, 2])
    exact = shapley_exact(g).value
    mc = shapley_monte_carlo(g, samples=20_000, seed=3)
    assert mc.half_width is not None and mc.value.sum() == pytest.approx(1.0)
    assert np.all(np.abs(mc.value - exact) <= 2 * mc.half_width + 1e-12)


def test_monte_carlo_above_twenty_players_on_a_callable_game() -> None:
    costs = [float((7 * i) % 23 + 1) for i in range(30)]
    names = tuple(f"a{i}" for i in range(30))
    c = dict(zip(names, costs, strict=True))
    calls: list[frozenset[str]] = []

    def worth(s: frozenset[str]) -> float:
        calls.append(s)
        return max((c[p] for p in s), default=0.0)

    game = CallableGame(names, worth)
    result = shapley(game, samples=4_000, seed=1)
    assert not result.exact and result.half_width is not None
    assert np.all(np.abs(result.value - airport_closed_form(costs)) <= 2 * result.half_width + 1e-9)
    assert len(calls) == len(set(calls))  # each coalition is asked once (cached)


def test_json_games_accept_any_key_order_and_name_bad_fields() -> None:
    g = Game.from_json({"players": ["a", "b"], "values": {"b,a": 3, "a": 1, " b ": 1.5}})
    assert g.value(["a", "b"]) == 3 and g.value([]) == 0
    with pytest.raises(InvalidValue) as missing:
        Game.from_json({"players": ["a", "b"], "values": {"a": 1, "a,b": 2}})
    assert missing.value.field == "values['b']"
    with pytest.raises(InvalidValue) as unknown:
        Game.from_json({"players": ["a"], "values": {"a,z": 1}})
    assert "unknown player" in unknown.value.reason
    with pytest.raises(InvalidValue) as twice:
        Game.from_json({"players": ["a", "b"], "values": {"a": 1, "b": 1, "a,b": 2, "b,a": 3}})
    assert "two values" in twice.value.reason
    with pytest.raises(InvalidValue):
        Game.from_json({"players": ["a", "a"], "values": {}})
    with pytest.raises(InvalidValue):
        Game.from_json({"players": ["a"], "values": {"a": "much"}})


def test_exact_equals_the_permutation_definition_on_a_small_game() -> None:
    """Brute force over all coalitions with Fractions, as a reference."""
    g = _game(4, [3, 1, 7, -2, 5, 4, 9, 0, 2, 6, 8, 1, 3, 5, 12])
    n = g.n
    phi = []
    fact = [1, 1, 2, 6, 24]
    for i in range(n):
        total = Fraction(0)
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for subset in combinations(others, size):
                mask = sum(1 << j for j in subset)
                gain = Fraction(g.values[mask | 1 << i]) - Fraction(g.values[mask])
                total += Fraction(fact[size] * fact[n - size - 1], fact[n]) * gain
        phi.append(float(total))
    assert shapley_exact(g).value == pytest.approx(phi)
