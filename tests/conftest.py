"""Fixtures: stores on SQLite and on a real PostgreSQL server started by the suite itself."""

from __future__ import annotations

import os

# Pin the console width before any xborder import: ``xborder.cli.common`` creates its Rich consoles
# at import time, and Rich fixes a console's width from COLUMNS when it is created (a COLUMNS=200
# exported by the caller's shell would stick); without COLUMNS, each print asks whatever terminal
# is attached (pytest -s, a developer's window). The contract is that a person reads every default
# CLI view at 80 columns, so the CLI tests render, and assert, at exactly 80.
# TERM is left alone: under the test runner the output is not a terminal, so Rich writes no colour.
os.environ["COLUMNS"] = "80"

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.pg_server import PostgresServer
from xborder.domain.world import World
from xborder.services.world import read_world
from xborder.store.engine import make_engine
from xborder.store.migrate import upgrade

_counter = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def _private_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Parties' signing keys go to a throw-away folder, never the user's data directory."""
    previous = os.environ.get("XBORDER_KEYS_DIR")
    os.environ["XBORDER_KEYS_DIR"] = str(tmp_path_factory.mktemp("keys"))
    yield
    if previous is None:
        os.environ.pop("XBORDER_KEYS_DIR", None)
    else:
        os.environ["XBORDER_KEYS_DIR"] = previous


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    admin_url = server.start()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE xb_template"))
    template = make_engine(server.url("xb_template"))
    upgrade(template)
    template.dispose()
    server.admin = admin  # type: ignore[attr-defined]
    yield server
    admin.dispose()
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


def _postgres_url(server: PostgresServer) -> str:
    name = f"xb_test_{next(_counter)}"
    with server.admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE xb_template"))
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A freshly migrated, empty store of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    return _postgres_url(request.getfixturevalue("postgres"))


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    result = make_engine(store_url)
    yield result
    result.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """SQLite only, for tests of behaviour that does not depend on the store kind."""
    path = tmp_path / "store.db"
    shutil.copy(sqlite_template, path)
    result = make_engine(f"sqlite:///{path}")
    yield result
    result.dispose()


@pytest.fixture(scope="session")
def demo_world() -> World:
    return read_world()
