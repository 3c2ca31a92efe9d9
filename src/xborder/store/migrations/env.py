"""Alembic environment: uses the engine handed over in ``config.attributes`` when there is one."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import xborder.store.tables  # noqa: F401  (registers every table on the metadata)
from xborder.store.engine import make_engine
from xborder.store.metadata import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
