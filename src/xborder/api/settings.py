"""The API's settings: size limits, the per-key rate limit and where simulation runs are kept.

Read from the environment by default (``ApiSettings.from_env``) so that every worker process
of ``xborder serve`` agrees; a test passes its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

MIB = 1024 * 1024
RATE_LIMIT_ENV = "XBORDER_API_RATE_LIMIT"
DATA_DIR_ENV = "XBORDER_DATA_DIR"
DEFAULT_RATE_LIMIT = 6000  # requests per key per minute


def default_data_dir() -> Path:
    return Path(user_data_dir("xborder", appauthor=False))


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """``max_json_bytes``: any request body but a bulk upload; ``max_bulk_bytes``: an NDJSON
    upload; ``rate_limit_per_minute``: per key (0: no limit); ``bulk_chunk_lines``: orders per
    transaction of a bulk upload; ``data_dir``: simulation runs go to ``data_dir/simulations``."""

    max_json_bytes: int = MIB
    max_bulk_bytes: int = 64 * MIB
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT
    bulk_chunk_lines: int = 5000
    data_dir: Path = field(default_factory=default_data_dir)
    simulations_inline: bool = False  # run a simulation in the request's thread (tests)

    @property
    def simulations_dir(self) -> Path:
        return self.data_dir / "simulations"

    @classmethod
    def from_env(cls) -> ApiSettings:
        rate = os.environ.get(RATE_LIMIT_ENV, "").strip()
        data = os.environ.get(DATA_DIR_ENV, "").strip()
        return cls(
            rate_limit_per_minute=int(rate) if rate else DEFAULT_RATE_LIMIT,
            data_dir=Path(data) if data else default_data_dir(),
        )
