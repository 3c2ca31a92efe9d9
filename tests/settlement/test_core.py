"""Core, least core, nucleolus and Nash bargaining on textbook games."""

from __future__ import annotations

import numpy as np
import pytest

from xborder.domain.errors import InvalidValue
from xborder.settlement.core import check_core, least_core, nash_bargaining, nucleolus
from xborder.settlement.game import Game
from xborder.settlement.shapley import shapley_exact


def bankruptcy(estate: float, claims: list[float]) -> Game:
    names = [f"c{i}" for i in range(len(claims))]
    c = dict(zip(names, claims, strict=True))
    return Game.from_function(
        names, lambda s: max(0.0, estate - sum(c[p] for p in c if p not in s))
    )


@pytest.mark.parametrize(
    ("estate", "expected"),
    [(100, [100 / 3] * 3), (200, [50, 75, 75]), (300, [50, 100, 150])],
)
def test_nucleolus_solves_the_talmud_estate_problems(estate: float, expected: list[float]) -> None:
    """Aumann & Maschler (1985): the Talmud's divisions are the nucleolus of the game."""
    assert nucleolus(bankruptcy(estate, [100, 200, 300])) == pytest.approx(expected, abs=1e-6)


def test_glove_game_core_is_one_point_and_shapley_is_outside_it() -> None:
    g = Game.from_json({"players": ["l", "r1", "r2"],
                        "values": {"l,r1": 1, "l,r2": 1, "l,r1,r2": 1, "l": 0, "r1": 0, "r2": 0,
                                   "r1,r2": 0}})  # fmt: skip
    check = check_core(g, shapley_exact(g).value)
    assert not check.in_core and set(check.blocking) in ({"l", "r1"}, {"l", "r2"})
    assert check.max_excess == pytest.approx(1 / 6)
    assert least_core(g).epsilon == pytest.approx(0.0, abs=1e-9)
    assert nucleolus(g) == pytest.approx([1, 0, 0], abs=1e-9)
    assert check_core(g, np.array([1.0, 0, 0])).in_core


def test_majority_game_has_an_empty_core_and_a_symmetric_least_core() -> None:
    g = Game.from_function(["a", "b", "c"], lambda s: float(len(s) >= 2))
    lc = least_core(g)
    assert lc.core_empty and lc.epsilon == pytest.approx(1 / 3)
    assert nucleolus(g) == pytest.approx([1 / 3] * 3)
    assert not check_core(g, np.array([1 / 3] * 3)).in_core


def test_convex_game_shapley_is_in_the_core() -> None:
    """Shapley (1971): in a convex game the Shapley value lies in the core."""
    g = Game.from_function(["a", "b", "c", "d"], lambda s: float(len(s) ** 2))
    assert check_core(g, shapley_exact(g).value).in_core
    assert not least_core(g).core_empty
    assert nucleolus(g) == pytest.approx([4.0] * 4)


def test_nash_bargaining_for_two_partners() -> None:
    g = Game.from_json(
        {"players": ["shop", "line"], "values": {"shop": 1, "line": 2, "shop,line": 6}}
    )
    split = nash_bargaining(g)
    assert split.shares == pytest.approx((2.5, 3.5)) and split.surplus == 3
    assert nash_bargaining(g, power=0.75).shares == pytest.approx((3.25, 2.75))
    with pytest.raises(InvalidValue):
        nash_bargaining(
            Game.from_json({"players": ["a", "b"], "values": {"a": 2, "b": 2, "a,b": 3}})
        )
    with pytest.raises(InvalidValue):
        nash_bargaining(Game.from_function(["a", "b", "c"], lambda s: 1.0))
