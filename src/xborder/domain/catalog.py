"""Products: what is sold, with the facts customs and logistics need."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xborder.domain.money import Money
from xborder.domain.values import CountryCode, CurrencyCode, Dimensions, HSCode


class Product(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=40)
    hs_code: HSCode
    origin: CountryCode
    seller: str
    unit_value: Decimal = Field(ge=0)
    currency: CurrencyCode
    net_weight_kg: Decimal = Field(gt=0)
    gross_weight_kg: Decimal = Field(gt=0)
    length_cm: Decimal = Field(gt=0)
    width_cm: Decimal = Field(gt=0)
    height_cm: Decimal = Field(gt=0)
    consumption_tax: bool = False

    @model_validator(mode="after")
    def _gross_covers_net(self) -> Product:
        if self.gross_weight_kg < self.net_weight_kg:
            raise ValueError("gross_weight_kg must be at least net_weight_kg")
        return self

    @property
    def price(self) -> Money:
        return Money(self.unit_value, self.currency)

    @property
    def dimensions(self) -> Dimensions:
        return Dimensions(self.length_cm, self.width_cm, self.height_cm)
