"""The benefit split between partners: Shapley value, core, least core, nucleolus, Nash.

No store and no clock: a cooperative game (``settlement.game``) in, every solution concept an
entry point shows out, as one JSON-ready mapping. The engines do the work; this use case decides
which of them apply (the LPs up to ``LP_MAX_PLAYERS``, Nash bargaining for two partners).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xborder.settlement.core import (
    LP_MAX_PLAYERS,
    check_core,
    least_core,
    nash_bargaining,
    nucleolus,
)
from xborder.settlement.game import Game
from xborder.settlement.shapley import shapley


@dataclass(frozen=True, slots=True)
class SplitBenefit:
    game_file: Path  # {"players": [...], "values": {"a,b": 3, ...}}
    samples: int = 20_000  # permutations when sampling (more than 20 players)
    seed: int = 0


def split_benefit(command: SplitBenefit) -> dict[str, Any]:
    """Shapley value (exact, or sampled with a confidence interval), whether it is in the core,
    the least core and the nucleolus (up to LP_MAX_PLAYERS), and the Nash split of two."""
    game = Game.load(command.game_file)
    result = shapley(game, command.samples, command.seed)
    out: dict[str, Any] = {"shapley": result.as_dict(), "exact": result.exact,
                           "grand_coalition": game.grand}  # fmt: skip
    if result.half_width is not None:
        out["confidence"] = result.confidence
        rows = zip(game.players, result.value, result.half_width, strict=True)
        out["interval"] = {p: [float(v - h), float(v + h)] for p, v, h in rows}
    check = check_core(game, result.value)
    out["core"] = {"shapley_in_core": check.in_core, "max_excess": check.max_excess,
                   "blocking_coalition": list(check.blocking)}  # fmt: skip
    if game.n <= LP_MAX_PLAYERS:
        lc = least_core(game)
        out["core"]["empty"] = lc.core_empty
        out["least_core"] = {"epsilon": lc.epsilon, "allocation": dict(
            zip(game.players, map(float, lc.allocation), strict=True))}  # fmt: skip
        out["nucleolus"] = dict(zip(game.players, (round(float(v), 9) for v in nucleolus(game)),
                                    strict=True))  # fmt: skip
    else:
        out["note"] = f"least core and nucleolus are computed for at most {LP_MAX_PLAYERS} players"
    if game.n == 2:
        split = nash_bargaining(game)
        out["nash"] = {"shares": dict(zip(game.players, split.shares, strict=True)),
                       "surplus": split.surplus}  # fmt: skip
    return out
