"""Response models shared by the routes. Money is an exact decimal string with its currency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from xborder.domain.money import Money


class MoneyModel(BaseModel):
    amount: str = Field(pattern=r"^-?\d+(\.\d+)?$", examples=["12.50"])
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])


def money(value: Money) -> MoneyModel:
    return MoneyModel(amount=format(value.amount, "f"), currency=value.currency)


MAX_ID = 2**53  # ids in paths and queries: beyond any stored id, within every store's integers


def maybe_money(value: Money | None) -> MoneyModel | None:
    return None if value is None else money(value)


def as_utc(moment: datetime) -> datetime:
    """A stored time in UTC (SQLite hands back naive times, which are UTC by the store's rule)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(as_utc)]
"""A point in time in a response: always with its offset (UTC)."""
