"""Alembic migrations run from code: ``upgrade(engine)`` brings any store to the newest schema."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("xborder.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (all heads: each area of the platform has its own branch)."""
    command.upgrade(alembic_config(engine), "heads")


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
