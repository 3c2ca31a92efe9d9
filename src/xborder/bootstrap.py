"""The composition root: the one place that wires the store, the clock, the keys and the partners.

Entry points (the CLI, later the API, the simulator) ask ``bootstrap()`` for a ``Platform`` and
pass ``platform.uow()`` to use cases (``xborder.services``); nothing else builds an engine or
reads the wall clock. A test or a simulation hands in its own clock and key store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from xborder.adapters.clock import SystemClock
from xborder.config import database_url
from xborder.domain.clock import Clock
from xborder.store.engine import make_engine
from xborder.store.migrate import upgrade
from xborder.store.uow import UnitOfWork
from xborder.trace.signing import KeyStore


@dataclass
class Platform:
    """What every use case needs: a unit-of-work factory over one store, a clock, a key store."""

    engine: Engine
    clock: Clock = field(default_factory=SystemClock)
    keys: KeyStore = field(default_factory=KeyStore)

    def uow(self) -> UnitOfWork:
        """A fresh unit of work (one per use-case call; it may be entered again to nest)."""
        return UnitOfWork(self.engine, self.clock, self.keys)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()


def wall_clock() -> Clock:
    """The system clock, for an entry point that needs "now" before it builds a platform."""
    return SystemClock()


def bootstrap(
    url: str | None = None,
    *,
    clock: Clock | None = None,
    keys: KeyStore | None = None,
    engine: Engine | None = None,
    migrate: bool = True,
) -> Platform:
    """The platform on ``url`` (default: ``XBORDER_DATABASE_URL`` or the embedded SQLite file),
    migrated to the newest schema unless ``migrate`` is off (a no-op when it is current)."""
    store = engine if engine is not None else make_engine(url or database_url())
    if migrate:
        upgrade(store)
    return Platform(store, clock or SystemClock(), keys or KeyStore())
