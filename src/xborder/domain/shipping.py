"""Parcels and consolidations (master bags and containers under a master waybill)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xborder.domain.lifecycle import ParcelStatus


class Parcel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    order_id: int
    sscc: str = Field(pattern=r"^\d{18}$")
    tracking_no: str = Field(min_length=6, max_length=40)
    gross_kg: Decimal = Field(gt=0)
    volume_cm3: Decimal = Field(gt=0)
    lane: str | None = None
    status: ParcelStatus = ParcelStatus.PACKED


class ConsolidationKind(StrEnum):
    BAG = "bag"
    ULD = "uld"
    CONTAINER = "container"


class Consolidation(BaseModel):
    """Parcels for one lane departure shipped as one master consignment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: ConsolidationKind
    lane: str
    master_waybill: str
    sscc: str = Field(pattern=r"^\d{18}$")
    max_kg: Decimal = Field(gt=0)
    max_cm3: Decimal = Field(gt=0)
    parcels: tuple[Parcel, ...] = ()

    @model_validator(mode="after")
    def _within_limits(self) -> Consolidation:
        if self.gross_kg > self.max_kg:
            raise ValueError(f"{self.gross_kg} kg exceeds the {self.max_kg} kg limit")
        if self.volume_cm3 > self.max_cm3:
            raise ValueError(f"{self.volume_cm3} cm3 exceeds the {self.max_cm3} cm3 limit")
        return self

    @property
    def gross_kg(self) -> Decimal:
        return sum((p.gross_kg for p in self.parcels), Decimal(0))

    @property
    def volume_cm3(self) -> Decimal:
        return sum((p.volume_cm3 for p in self.parcels), Decimal(0))

    @property
    def fill_rate(self) -> float:
        """The binding dimension's fill: max of weight and volume utilisation."""
        return float(max(self.gross_kg / self.max_kg, self.volume_cm3 / self.max_cm3))
