"""The clock port: every stored time comes from an injected clock, never from the wall clock.

Services read ``uow.clock.now()``. The CLI and the API run on the system clock (an adapter,
``xborder.adapters.clock``); tests and the simulator run on a ``SettableClock`` they advance
themselves, so a simulated month takes seconds and nothing stored is dated after "now".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from xborder.domain.errors import InvalidValue


class Clock(Protocol):
    """Tells the time: an aware UTC ``datetime``."""

    def now(self) -> datetime: ...


def aware_utc(moment: datetime, field: str = "time") -> datetime:
    """``moment`` in UTC; a naive time is refused (it would silently mean the host's zone)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValue(field, "needs a UTC offset", moment.isoformat())
    return moment.astimezone(UTC)


class SettableClock:
    """A clock that moves only when told to, and never backwards.

    Moving back would let a later record be dated before an earlier one; the simulator and the
    tests that need "yesterday" start the clock in the past and advance it.
    """

    def __init__(self, start: datetime) -> None:
        self._now = aware_utc(start, "clock start")

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        moment = aware_utc(moment, "clock")
        if moment < self._now:
            raise InvalidValue(
                "clock", f"cannot go back from {self._now.isoformat()}", moment.isoformat()
            )
        self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise InvalidValue("clock", "cannot advance by a negative time", str(delta))
        self._now += delta
        return self._now
