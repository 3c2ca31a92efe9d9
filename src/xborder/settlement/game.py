"""Cooperative games in characteristic-function form, stored as a bitmask-indexed value vector.

A coalition is a bitmask over ``players`` (bit ``i`` is player ``i``); ``Game.values[mask]`` is its
worth. A game comes from JSON (``{"players": [...], "values": {"a,b": 3.0}}``: keys in any player
order, the empty coalition 0 when absent) or from a function evaluated on demand. That function is
the seam for the ecosystem simulator: the worth of a coalition is what the ecosystem earns with
only that coalition's partners integrated, so ``CallableGame`` asks for it only when an algorithm
needs it, many coalitions at once (``worth_of_masks``), and remembers each answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from xborder.domain.errors import InvalidValue

MAX_TABULATED = 24  # 2**24 float64 values = 128 MiB: the largest game kept as a full vector
MAX_PLAYERS = 62  # coalitions are int64 bitmasks

Worth = Callable[[frozenset[str]], float]


class CoalitionGame(Protocol):
    """What the algorithms need: the players, and the worth of many coalitions at once."""

    @property
    def players(self) -> tuple[str, ...]: ...

    def worth_of_masks(self, masks: np.ndarray) -> np.ndarray: ...


def _check_players(players: Iterable[Any]) -> tuple[str, ...]:
    names = tuple(players)
    if not names:
        raise InvalidValue("players", "at least one player is required")
    for name in names:
        if not isinstance(name, str) or not name.strip() or "," in name:
            raise InvalidValue("players", "each player is a non-empty name without commas", name)
    if len(set(names)) != len(names):
        raise InvalidValue("players", "names must be unique", sorted(names))
    if len(names) > MAX_PLAYERS:
        raise InvalidValue("players", f"at most {MAX_PLAYERS} players", len(names))
    return names


@dataclass(frozen=True)
class Game:
    """A game with every coalition's worth tabulated (up to MAX_TABULATED players)."""

    players: tuple[str, ...]
    values: np.ndarray  # float64, length 2**n, values[0] == 0

    def __post_init__(self) -> None:
        n = len(self.players)
        if self.values.shape != (1 << n,):
            raise InvalidValue("values", f"expected {1 << n} coalition values", self.values.shape)
        if not np.all(np.isfinite(self.values)):
            raise InvalidValue("values", "every coalition value must be a finite number")
        if self.values[0] != 0:
            raise InvalidValue("values", "the empty coalition is worth 0", float(self.values[0]))

    @property
    def n(self) -> int:
        return len(self.players)

    @property
    def grand(self) -> float:
        return float(self.values[-1])

    def worth_of_masks(self, masks: np.ndarray) -> np.ndarray:
        return np.asarray(self.values[masks], dtype=np.float64)

    def mask(self, coalition: Iterable[str]) -> int:
        index = {p: i for i, p in enumerate(self.players)}
        result = 0
        for player in coalition:
            if player not in index:
                raise InvalidValue("coalition", "unknown player", player)
            result |= 1 << index[player]
        return result

    def value(self, coalition: Iterable[str]) -> float:
        return float(self.values[self.mask(coalition)])

    @classmethod
    def from_function(cls, players: Iterable[str], worth: Worth) -> Game:
        """Tabulate a function of the coalition (a frozenset of player names)."""
        names = _check_players(players)
        if len(names) > MAX_TABULATED:
            raise InvalidValue("players", f"tabulated games have at most {MAX_TABULATED} players; "
                               "use CallableGame with Monte Carlo sampling",
                               len(names))  # fmt: skip
        values = np.array(
            [0.0] + [float(worth(_members(names, m))) for m in range(1, 1 << len(names))]
        )
        return cls(names, values)

    @classmethod
    def from_json(cls, raw: Any) -> Game:
        """``{"players": [...], "values": {"a,b": 3.0, ...}}``; every non-empty coalition given."""
        if not isinstance(raw, Mapping):
            raise InvalidValue("game", "must be a JSON object with players and values")
        names = _check_players(raw.get("players") or ())
        n = len(names)
        if n > MAX_TABULATED:
            raise InvalidValue("players", f"a JSON game has at most {MAX_TABULATED} players", n)
        given = raw.get("values")
        if not isinstance(given, Mapping):
            raise InvalidValue("values", "must be an object keyed by comma-joined coalitions")
        index = {p: i for i, p in enumerate(names)}
        values = np.full(1 << n, np.nan)
        values[0] = 0.0
        seen_empty = False
        for key, worth in given.items():
            members = [p.strip() for p in str(key).split(",") if p.strip()]
            unknown = [p for p in members if p not in index]
            if unknown:
                raise InvalidValue(f"values[{key!r}]", f"unknown player(s) {unknown}", key)
            if len(set(members)) != len(members):
                raise InvalidValue(f"values[{key!r}]", "a player appears twice", key)
            if isinstance(worth, bool) or not isinstance(worth, int | float):
                raise InvalidValue(f"values[{key!r}]", "must be a number", worth)
            if not math.isfinite(worth):
                raise InvalidValue(f"values[{key!r}]", "must be finite", worth)
            mask = sum(1 << index[p] for p in members)
            if mask == 0:
                if worth != 0:
                    raise InvalidValue("values['']", "the empty coalition is worth 0", worth)
                seen_empty = True
                continue
            if not np.isnan(values[mask]) and values[mask] != worth:
                raise InvalidValue(f"values[{key!r}]", "the same coalition has two values", worth)
            values[mask] = float(worth)
        missing = np.flatnonzero(np.isnan(values))
        if missing.size:
            first = ",".join(_members(names, int(missing[0])))
            raise InvalidValue(f"values[{first!r}]",
                               f"missing ({missing.size} coalitions have no value)")  # fmt: skip
        del seen_empty
        return cls(names, values)

    @classmethod
    def load(cls, path: Path) -> Game:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidValue("GAME", f"cannot read: {exc.strerror}", str(path)) from None
        except json.JSONDecodeError as exc:
            raise InvalidValue(
                "GAME", f"not JSON: {exc.msg} at line {exc.lineno}", str(path)
            ) from None
        return cls.from_json(raw)


@dataclass
class CallableGame:
    """A game whose worth comes from a function, asked on demand and cached per coalition."""

    players: tuple[str, ...]
    worth: Worth
    cache: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.players = _check_players(self.players)

    def worth_of_masks(self, masks: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(masks, return_inverse=True)
        known = np.array([self._one(int(m)) for m in unique], dtype=np.float64)
        return known[inverse].reshape(masks.shape)

    def _one(self, mask: int) -> float:
        if mask not in self.cache:
            value = 0.0 if mask == 0 else float(self.worth(_members(self.players, mask)))
            if not math.isfinite(value):
                raise InvalidValue("worth", "must be finite", value)
            self.cache[mask] = value
        return self.cache[mask]

    def tabulate(self) -> Game:
        return Game.from_function(self.players, lambda c: self._one(_mask(self.players, c)))


def _members(players: tuple[str, ...], mask: int) -> frozenset[str]:
    return frozenset(p for i, p in enumerate(players) if mask >> i & 1)


def _mask(players: tuple[str, ...], coalition: frozenset[str]) -> int:
    return sum(1 << i for i, p in enumerate(players) if p in coalition)


def popcount(masks: np.ndarray) -> np.ndarray:
    return np.bitwise_count(masks.astype(np.uint64)).astype(np.int64)
