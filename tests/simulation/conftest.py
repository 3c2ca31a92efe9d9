"""Simulation fixtures: the platform on the demo world, on a settable clock at the world's day.

The clock starts at the demo world's ``meta.valid_on``, 00:00 UTC, and moves only when a test
moves it, so every stored time is known relative to it and never depends on the day the suite
runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import Engine

from xborder.bootstrap import Platform, bootstrap
from xborder.domain.clock import SettableClock
from xborder.domain.world import World
from xborder.services.world import LoadWorld, load_world


def world_start(world: World) -> datetime:
    """The first moment of the world's day (its stock and prices are as of that day)."""
    return datetime.combine(world.meta.valid_on, time(0), tzinfo=UTC)


def world_platform(engine: Engine, world: World) -> tuple[Platform, SettableClock]:
    """A platform on a migrated, empty ``engine`` with ``world`` loaded, and its clock."""
    clock = SettableClock(world_start(world))
    platform = bootstrap(engine=engine, migrate=False, clock=clock)
    load_world(platform.uow(), LoadWorld(world))
    return platform, clock


@pytest.fixture
def sim(engine: Engine, demo_world: World) -> Iterator[tuple[Platform, SettableClock]]:
    """The platform (SQLite and PostgreSQL) with the demo world loaded, and its clock."""
    yield world_platform(engine, demo_world)


@pytest.fixture
def platform(sim: tuple[Platform, SettableClock]) -> Platform:
    return sim[0]


@pytest.fixture
def clock(sim: tuple[Platform, SettableClock]) -> SettableClock:
    return sim[1]
