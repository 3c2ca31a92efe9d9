"""Imports every table module so that ``metadata`` knows the whole schema (Alembic, tests).

Each area of the platform keeps its tables in its own ``schema_*`` module; add it here.
"""

from xborder.store import (
    schema,  # noqa: F401
    schema_api,  # noqa: F401
    schema_capture,  # noqa: F401
    schema_customs,  # noqa: F401
    schema_planning,  # noqa: F401
    schema_settlement,  # noqa: F401
    schema_trace,  # noqa: F401
    schema_webhooks,  # noqa: F401
)
from xborder.store.metadata import metadata

__all__ = ["metadata"]
