"""The system clock: the one place that reads the wall clock (wired by ``xborder.bootstrap``)."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Now, in UTC, from the host's clock; for the CLI and the API."""

    def now(self) -> datetime:
        return datetime.now(UTC)
