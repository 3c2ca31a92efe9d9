"""Parties of the ecosystem and the roles they play."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from xborder.domain.values import CountryCode


class Role(StrEnum):
    SELLER = "seller"
    PLATFORM = "platform"
    LOGISTICS_PROVIDER = "logistics_provider"  # forwarder, consolidator, line haul
    WAREHOUSE_OPERATOR = "warehouse_operator"
    LAST_MILE_CARRIER = "last_mile_carrier"
    CUSTOMS_BROKER = "customs_broker"
    PAYMENT_PROVIDER = "payment_provider"
    BUYER = "buyer"


class Party(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    roles: frozenset[Role] = Field(min_length=1)
    country: CountryCode
    customs_code: str | None = Field(default=None, pattern=r"^[0-9A-Z]{10}$")
    gln: str | None = Field(default=None, pattern=r"^\d{13}$")

    def has(self, role: Role) -> bool:
        return role in self.roles
