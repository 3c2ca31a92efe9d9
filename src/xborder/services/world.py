"""Load a world scenario and initialise a store with it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from xborder.domain.errors import InvalidValue
from xborder.domain.world import World
from xborder.store.uow import UnitOfWork

DEMO_WORLD = "demo"


def read_world(path: Path | None = None) -> World:
    """Parse a scenario TOML file (default: the shipped demo world)."""
    if path is None:
        text = resources.files("xborder").joinpath("data", "worlds", f"{DEMO_WORLD}.toml")
        raw = tomllib.loads(text.read_text(encoding="utf-8"))
    else:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidValue(str(path), f"not valid TOML: {exc}") from None
        except OSError as exc:
            raise InvalidValue(str(path), f"cannot read: {exc.strerror}") from None
    return World.parse(raw)


@dataclass(frozen=True, slots=True)
class InitResult:
    world: str
    loaded: bool
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class LoadWorld:
    world: World | None = None  # default: the shipped demo world


def load_world(uow: UnitOfWork, command: LoadWorld | None = None) -> InitResult:
    """Load the world into the (migrated) store unless it is already there; a store holds one."""
    world = (command.world if command else None) or read_world()
    with uow:
        names = {w["name"] for w in uow.world.loaded()}
        if world.meta.name in names:
            return InitResult(world.meta.name, False, uow.world.counts())
        if names:
            raise InvalidValue("world", f"the store already holds world {sorted(names)[0]!r}")
        uow.world.add(world, uow.clock.now())
        uow.commit()
        return InitResult(world.meta.name, True, uow.world.counts())
