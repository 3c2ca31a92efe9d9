"""Validated value types: country, HS code, weight, dimensions, location.

Each ``check_*`` function returns the normalised value or raises ``InvalidValue`` naming the field.
The ``Annotated`` aliases plug the same checks into pydantic models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from xborder.domain.errors import InvalidValue
from xborder.domain.money import currency_code, to_decimal
from xborder.refdata import countries, hs_subheadings

_HS_PATTERN = re.compile(r"^\d{6}(\d{2}(\d{2})?)?$")
_LOCODE_PATTERN = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")


def check_country(value: Any, field: str = "country") -> str:
    """ISO 3166-1 alpha-2, case-insensitive input."""
    if not isinstance(value, str) or value.strip().upper() not in countries():
        raise InvalidValue(field, "not an ISO 3166-1 alpha-2 country code", value)
    return value.strip().upper()


def check_hs_code(value: Any, field: str = "hs_code") -> str:
    """A digit string of 6, 8 or 10 digits whose 6-digit prefix is an HS 2022 subheading."""
    if not isinstance(value, str):
        raise InvalidValue(
            field, "must be a string of digits (never a number: leading zeros)", value
        )
    code = value.strip().replace(".", "")
    if not _HS_PATTERN.match(code):
        raise InvalidValue(field, "must be 6, 8 or 10 digits", value)
    if code[:6] not in hs_subheadings():
        raise InvalidValue(field, "6-digit prefix is not an HS 2022 subheading", value)
    return code


def check_positive(value: Any, field: str, *, allow_zero: bool = False) -> Decimal:
    number = to_decimal(value, field)
    if number < 0 or (number == 0 and not allow_zero):
        raise InvalidValue(
            field, "must be zero or more" if allow_zero else "must be positive", value
        )
    return number


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


CountryCode = Annotated[str, BeforeValidator(_upper), AfterValidator(check_country)]
CurrencyCode = Annotated[str, BeforeValidator(_upper), AfterValidator(currency_code)]
HSCode = Annotated[str, AfterValidator(check_hs_code)]


@dataclass(frozen=True, slots=True)
class Weight:
    """A mass in kilograms (exact)."""

    kg: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "kg", check_positive(self.kg, "weight_kg", allow_zero=True))

    def __add__(self, other: Weight) -> Weight:
        return Weight(self.kg + other.kg)


@dataclass(frozen=True, slots=True)
class Dimensions:
    """Outer dimensions in centimetres."""

    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal

    def __post_init__(self) -> None:
        for name in ("length_cm", "width_cm", "height_cm"):
            object.__setattr__(self, name, check_positive(getattr(self, name), name))

    @property
    def volume_cm3(self) -> Decimal:
        return self.length_cm * self.width_cm * self.height_cm

    def volumetric_weight(self, divisor: int) -> Weight:
        """Carriers' dimensional weight: volume / divisor (5000 express, 6000 air); 0 = none."""
        return Weight(self.volume_cm3 / divisor if divisor > 0 else Decimal(0))


@dataclass(frozen=True, slots=True)
class Location:
    """A place: a UN/LOCODE, coordinates, or both."""

    locode: str | None = None
    lat: float | None = None
    lon: float | None = None

    def __post_init__(self) -> None:
        if self.locode is not None:
            code = self.locode.replace(" ", "").upper()
            if not _LOCODE_PATTERN.match(code):
                raise InvalidValue("locode", "must be a 5-character UN/LOCODE", self.locode)
            check_country(code[:2], "locode")
            object.__setattr__(self, "locode", code)
        if (self.lat is None) != (self.lon is None):
            raise InvalidValue("lat/lon", "give both coordinates or neither")
        if self.lat is not None and not -90 <= self.lat <= 90:
            raise InvalidValue("lat", "must be within -90..90", self.lat)
        if self.lon is not None and not -180 <= self.lon <= 180:
            raise InvalidValue("lon", "must be within -180..180", self.lon)
        if self.locode is None and self.lat is None:
            raise InvalidValue("location", "needs a UN/LOCODE or coordinates")
