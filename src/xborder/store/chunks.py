"""Reads by many keys go in chunks: bound parameters stay well below SQLite's limit (32,766) and
PostgreSQL's statement sizes stay small."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive slices of ``items``, ``size`` at a time (the last one may be shorter)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
