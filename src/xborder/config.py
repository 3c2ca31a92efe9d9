"""Where the store lives: ``XBORDER_DATABASE_URL``, else an SQLite file in the user data dir."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

DATABASE_URL_ENV = "XBORDER_DATABASE_URL"


def default_database_path() -> Path:
    return Path(user_data_dir("xborder", appauthor=False)) / "xborder.db"


def database_url() -> str:
    """The SQLAlchemy URL every command uses (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    return url or f"sqlite:///{default_database_path()}"
