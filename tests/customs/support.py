"""Helpers for the customs tests: units of work on a settable clock, and the pure quote."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, create_engine

from xborder.domain.clock import SettableClock
from xborder.services import customs
from xborder.store.uow import UnitOfWork

# Requests without their own date are quoted on the clock's today.
QUOTE_DAY = date(2025, 6, 1)


def clock_at(day: date, hour: int = 10) -> SettableClock:
    return SettableClock(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


def _no_store() -> Engine:
    """An engine whose database cannot be opened: a quote that touched the store would fail."""
    return create_engine("sqlite:////nonexistent-directory/xborder-customs-tests/store.db")


def pure_uow(day: date = QUOTE_DAY) -> UnitOfWork:
    """A unit of work only for its clock (the pure quote and match never open it)."""
    return UnitOfWork(_no_store(), clock=clock_at(day))


def quote(request: Any, **options: Any) -> dict[str, Any]:
    """``customs.quote`` without the store, on a clock at ``QUOTE_DAY``."""
    return customs.quote(pure_uow(), customs.QuoteOrder(request, **options))
