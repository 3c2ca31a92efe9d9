"""The physical network: hubs, warehouses and inventory, international lanes, last mile."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xborder.domain.errors import InvalidValue
from xborder.domain.money import Money
from xborder.domain.values import CountryCode, CurrencyCode, Dimensions

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Hub(_Frozen):
    id: str
    name: str
    country: CountryCode
    locode: str | None = Field(default=None, pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    # China customs office (JGS/T 18 customs area code) accepting the CBEC import lists of goods
    # entering or leaving a bonded zone here: a CEB621 list's customsCode and portCode.
    customs_office: str | None = Field(default=None, pattern=r"^[0-9A-Z]{4}$")


class WarehouseKind(StrEnum):
    DOMESTIC = "domestic"
    BONDED = "bonded"
    OVERSEAS = "overseas"
    HUB = "hub"


class Warehouse(_Frozen):
    id: str
    name: str
    kind: WarehouseKind
    country: CountryCode
    operator: str
    capacity_units: int = Field(ge=0)
    handling_per_order: Decimal = Field(ge=0)
    handling_currency: CurrencyCode
    locode: str | None = Field(default=None, pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    hub: str | None = None
    customs_mode: str | None = Field(default=None, pattern=r"^(1210|1239|9610|9710|9810)$")

    @property
    def handling(self) -> Money:
        return Money(self.handling_per_order, self.handling_currency)


class InventoryPosition(_Frozen):
    """Units of one SKU in one warehouse; reserved units are promised to planned orders."""

    warehouse: str
    sku: str
    on_hand: int = Field(ge=0)
    reserved: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _reserved_within(self) -> InventoryPosition:
        if self.reserved > self.on_hand:
            raise ValueError("reserved must not exceed on_hand")
        return self

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def reserve(self, qty: int) -> InventoryPosition:
        if qty <= 0:
            raise InvalidValue("qty", "must be positive", qty)
        if qty > self.available:
            raise InvalidValue("qty", f"only {self.available} available", qty)
        return self.model_copy(update={"reserved": self.reserved + qty})

    def release(self, qty: int) -> InventoryPosition:
        if not 0 < qty <= self.reserved:
            raise InvalidValue("qty", f"must be between 1 and {self.reserved}", qty)
        return self.model_copy(update={"reserved": self.reserved - qty})


class LaneMode(StrEnum):
    AIR = "air"
    SEA = "sea"
    RAIL = "rail"
    EXPRESS = "express"
    POSTAL = "postal"
    DEDICATED_LINE = "dedicated_line"


class Lane(_Frozen):
    """An international line haul from an origin hub to a destination country (and hub)."""

    id: str
    name: str
    mode: LaneMode
    carrier: str
    origin_hub: str
    dest_country: CountryCode
    dest_hub: str | None = None
    per_kg: Decimal = Field(ge=0)
    per_parcel: Decimal = Field(ge=0)
    minimum: Decimal = Field(ge=0)
    currency: CurrencyCode
    volumetric_divisor: int = Field(ge=0)
    transit_mean_days: float = Field(gt=0)
    transit_p95_days: float = Field(gt=0)
    daily_capacity_kg: int = Field(ge=0)
    departure_days: tuple[str, ...] = Field(min_length=1)
    cutoff: str
    loss_rate: float = Field(ge=0, le=1)
    damage_rate: float = Field(ge=0, le=1)
    max_parcel_kg: Decimal | None = Field(default=None, gt=0)
    source: str = ""

    @field_validator("departure_days")
    @classmethod
    def _weekdays(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
        return tuple(sorted(set(days), key=WEEKDAYS.index))

    @field_validator("cutoff")
    @classmethod
    def _cutoff(cls, value: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError("must be HH:MM (24-hour)")
        return value

    @model_validator(mode="after")
    def _p95_after_mean(self) -> Lane:
        if self.transit_p95_days < self.transit_mean_days:
            raise ValueError("transit_p95_days must be at least transit_mean_days")
        return self

    def chargeable_kg(self, gross_kg: Decimal, dims: Dimensions | None = None) -> Decimal:
        """Carriers bill the greater of actual and volumetric weight."""
        if dims is None or self.volumetric_divisor == 0:
            return gross_kg
        return max(gross_kg, dims.volumetric_weight(self.volumetric_divisor).kg)

    def freight(self, gross_kg: Decimal, dims: Dimensions | None = None) -> Money:
        """Rate card: per kg on chargeable weight plus per parcel, not below the minimum."""
        charge = self.per_kg * self.chargeable_kg(gross_kg, dims) + self.per_parcel
        return Money(max(charge, self.minimum), self.currency).rounded()

    def transit_sigma_days(self) -> float:
        """Lognormal spread implied by mean and 95th percentile (used by lateness estimates)."""
        return max(math.log(self.transit_p95_days / self.transit_mean_days) / 1.645, 1e-6)


class LastMileCarrier(_Frozen):
    id: str
    name: str
    carrier: str
    country: CountryCode
    per_parcel: Decimal = Field(ge=0)
    per_kg: Decimal = Field(ge=0)
    currency: CurrencyCode
    transit_mean_days: float = Field(gt=0)
    transit_p95_days: float = Field(gt=0)
    on_time_rate: float = Field(ge=0, le=1)
    first_attempt_rate: float = Field(ge=0, le=1)
    damage_rate: float = Field(ge=0, le=1)
    loss_rate: float = Field(ge=0, le=1)
    source: str = ""

    def cost(self, gross_kg: Decimal) -> Money:
        return Money(self.per_parcel + self.per_kg * gross_kg, self.currency).rounded()
