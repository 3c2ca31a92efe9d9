"""API fixtures shared by the keys, API, EPCIS, web and webhook tests.

``api_platform`` is a Platform on a fresh, migrated SQLite file with the demo world loaded and a
small scenario worked through it, so orders, payments, parcels, bags, declarations and trace
events exist for every kind of party. The clock starts at the world's ``valid_on`` 12:00 UTC;
``API_ORDERS`` orders are placed that day and worked for two weeks, so the platform's
``SettableClock`` then stands at ``API_UNTIL`` (nothing stored is after it). The scenario runs
ONCE per test session (about 8 s) into a template; each module gets its own copy of that file
(module scope: tests of one module share the store, so write tests should use fresh ids).
``postgres_api_platform`` is the same story on the suite's PostgreSQL server (the scenario runs
once per session into a template database that each module clones).

``make_key(party_id, role, scopes=None) -> (token, Principal)`` creates a key through the use
case (scopes ``None``: the role's defaults) and returns the token and the principal it
authenticates as. Parties of the demo world for each role: ``PARTIES``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.pg_server import PostgresServer
from xborder.bootstrap import Platform, bootstrap
from xborder.domain.clock import SettableClock
from xborder.domain.world import World
from xborder.services.access import OPERATOR_PARTY, ApiRole, Principal
from xborder.services.api_keys import Authenticate, CreateKey, authenticate, create_key
from xborder.services.world import read_world
from xborder.simulation.scenario import Scenario, run_scenario
from xborder.store.engine import make_engine
from xborder.trace.signing import KeyStore

API_ORDERS = 200
API_SEED = 7
API_WORLD = read_world()
API_ORDER_DAY = API_WORLD.meta.valid_on
API_START = datetime.combine(API_ORDER_DAY, time(12), tzinfo=UTC)
API_UNTIL = API_START + timedelta(days=14)

# One party of the demo world per API role (operator keys belong to the party "operator").
PARTIES: dict[ApiRole, str] = {
    ApiRole.OPERATOR: OPERATOR_PARTY,
    ApiRole.SELLER: "seller-sz-gadgets",
    ApiRole.PLATFORM: "platform-global-na",
    ApiRole.CARRIER: "lp-meridian-express",
    ApiRole.WAREHOUSE: next(w.operator for w in API_WORLD.warehouses),
    ApiRole.BROKER: next(p.id for p in API_WORLD.parties if "customs_broker" in p.roles),
    ApiRole.PAYMENT_PROVIDER: next(
        p.id for p in API_WORLD.parties if "payment_provider" in p.roles
    ),
}

MakeKey = Callable[..., tuple[str, Principal]]


@dataclass(frozen=True)
class _Template:
    keys_dir: Path
    sqlite_file: Path | None = None
    postgres_db: str | None = None


def _work_scenario(platform: Platform, clock: SettableClock, world: World) -> None:
    run_scenario(platform, clock, world, Scenario(API_ORDERS, API_SEED, API_ORDER_DAY, API_UNTIL))


@pytest.fixture(scope="session")
def api_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parties' signing keys of the scenario (every copy of the store shares them)."""
    return tmp_path_factory.mktemp("api-party-keys")


@pytest.fixture(scope="session")
def api_sqlite_template(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, api_keys_dir: Path
) -> _Template:
    path = tmp_path_factory.mktemp("api-template") / "api.db"
    shutil.copy(sqlite_template, path)
    clock = SettableClock(API_START)
    platform = bootstrap(
        engine=make_engine(f"sqlite:///{path}"),
        clock=clock,
        keys=KeyStore(api_keys_dir),
        migrate=False,
    )
    _work_scenario(platform, clock, API_WORLD)
    platform.close()  # the last connection checkpoints the WAL into the file
    return _Template(api_keys_dir, sqlite_file=path)


@pytest.fixture(scope="session")
def api_postgres_template(postgres: PostgresServer, api_keys_dir: Path) -> _Template:
    name = "xb_api_template"
    with postgres.admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE xb_template"))
    clock = SettableClock(API_START)
    platform = bootstrap(
        engine=make_engine(postgres.url(name)),
        clock=clock,
        keys=KeyStore(api_keys_dir),
        migrate=False,
    )
    _work_scenario(platform, clock, API_WORLD)
    platform.close()  # no connection may stay open on a template database
    return _Template(api_keys_dir, postgres_db=name)


_copies = iter(range(1_000_000))


@pytest.fixture(scope="module")
def api_platform(
    api_sqlite_template: _Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """The scenario's platform on its own SQLite file (see the module docstring)."""
    assert api_sqlite_template.sqlite_file is not None
    path = tmp_path_factory.mktemp("api") / "api.db"
    shutil.copy(api_sqlite_template.sqlite_file, path)
    platform = bootstrap(
        engine=make_engine(f"sqlite:///{path}"),
        clock=SettableClock(API_UNTIL),
        keys=KeyStore(api_sqlite_template.keys_dir),
        migrate=False,
    )
    yield platform
    platform.close()


@pytest.fixture(scope="module")
def postgres_api_platform(
    api_postgres_template: _Template, postgres: PostgresServer
) -> Iterator[Platform]:
    """The scenario's platform on its own PostgreSQL database (a clone of the template)."""
    name = f"xb_api_{next(_copies)}"
    with postgres.admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {api_postgres_template.postgres_db}"))
    platform = bootstrap(
        engine=make_engine(postgres.url(name)),
        clock=SettableClock(API_UNTIL),
        keys=KeyStore(api_postgres_template.keys_dir),
        migrate=False,
    )
    yield platform
    platform.close()


def key_factory(platform: Platform) -> MakeKey:
    """``make_key`` for any platform (the fixtures below bind it to theirs)."""

    def make_key(
        party_id: str, role: ApiRole | str, scopes: Iterable[str] | None = None
    ) -> tuple[str, Principal]:
        created = create_key(
            platform.uow(),
            CreateKey(party_id, role, None if scopes is None else frozenset(scopes), "test"),
        )
        return created.token, authenticate(platform.uow(), Authenticate(created.token))

    return make_key


@pytest.fixture(scope="module")
def make_key(api_platform: Platform) -> MakeKey:
    return key_factory(api_platform)


@pytest.fixture(scope="module")
def postgres_make_key(postgres_api_platform: Platform) -> MakeKey:
    return key_factory(postgres_api_platform)
