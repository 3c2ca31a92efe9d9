"""Pagination: ``?limit=`` and an opaque ``?cursor=`` in, ``{items, next_cursor, limit}`` out.

The cursor is made by the service layer (``services.tenancy.encode_cursor``: the last row's sort
key), so it stays valid while new rows arrive; a client passes back ``next_cursor`` unchanged
until it is null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from xborder.services.tenancy import DEFAULT_LIMIT, MAX_LIMIT

T = TypeVar("T")


class PageModel(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    limit: int


@dataclass(frozen=True, slots=True)
class PageParams:
    cursor: str | None
    limit: int


def page_params(
    cursor: str | None = Query(
        None, max_length=512, description="next_cursor of the previous page (opaque)"
    ),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items per page"),
) -> PageParams:
    return PageParams(cursor or None, limit)
