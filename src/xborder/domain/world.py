"""A world: the whole ecosystem a scenario describes, checked for consistency as one unit.

Scenario files (``xborder/data/worlds/*.toml``, format in ``docs/world-format.md``) parse into it;
``xborder init`` stores it and the simulator and the demo generate orders from its ``demand``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xborder.domain.catalog import Product
from xborder.domain.errors import InvalidValue
from xborder.domain.money import FxRate, FxTable
from xborder.domain.network import Hub, InventoryPosition, Lane, LastMileCarrier, Warehouse
from xborder.domain.orders import Direction, Incoterm
from xborder.domain.parties import Party, Role
from xborder.domain.values import CountryCode, CurrencyCode


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WorldMeta(_Frozen):
    name: str
    version: str
    valid_on: date
    description: str = ""
    sources: tuple[str, ...] = ()


class FxEntry(_Frozen):
    date: date
    base: CurrencyCode
    quote: CurrencyCode
    rate: Decimal = Field(gt=0)
    source: str = ""


class City(_Frozen):
    city: str
    postcode: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Demand(_Frozen):
    """A buyer market: where orders come from, in what currency, through which channels."""

    country: CountryCode
    direction: Direction
    share: float = Field(gt=0, le=1)
    currency: CurrencyCode
    channels: tuple[str, ...] = Field(min_length=1)
    platform: str
    promise_days: int = Field(gt=0)
    incoterm: Incoterm
    b2b_share: float = Field(ge=0, le=1)
    mean_lines: float = Field(ge=1)
    cities: tuple[City, ...] = Field(min_length=1)


class World(_Frozen):
    meta: WorldMeta
    fx: tuple[FxEntry, ...] = ()
    parties: tuple[Party, ...]
    hubs: tuple[Hub, ...] = ()
    warehouses: tuple[Warehouse, ...]
    products: tuple[Product, ...]
    inventory: tuple[InventoryPosition, ...] = ()
    lanes: tuple[Lane, ...]
    last_mile: tuple[LastMileCarrier, ...] = ()
    demand: tuple[Demand, ...] = ()

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> World:
        """Parse a scenario mapping; errors name the entry and field (``products[3].hs_code``)."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = _path(first["loc"], raw)
            raise InvalidValue(where, first["msg"], first.get("input")) from None

    @model_validator(mode="after")
    def _references(self) -> World:
        by_id = {p.id: p for p in self.parties}
        hubs = {h.id for h in self.hubs}
        skus = {p.sku for p in self.products}
        warehouses = {w.id for w in self.warehouses}

        def party(ref: str, role: Role, where: str) -> None:
            if ref not in by_id:
                raise ValueError(f"{where}: unknown party {ref!r}")
            if not by_id[ref].has(role):
                raise ValueError(f"{where}: party {ref!r} lacks role {role.value}")

        for kind, ids in (("parties", [p.id for p in self.parties]), ("skus", list(skus))):
            if len(ids) != len(set(ids)):
                raise ValueError(f"duplicate {kind}")
        for w in self.warehouses:
            party(w.operator, Role.WAREHOUSE_OPERATOR, f"warehouse {w.id}")
            if w.hub is not None and w.hub not in hubs:
                raise ValueError(f"warehouse {w.id}: unknown hub {w.hub!r}")
        for p in self.products:
            party(p.seller, Role.SELLER, f"product {p.sku}")
        for i in self.inventory:
            if i.warehouse not in warehouses or i.sku not in skus:
                raise ValueError(f"inventory {i.warehouse}/{i.sku}: unknown warehouse or sku")
        for lane in self.lanes:
            party(lane.carrier, Role.LOGISTICS_PROVIDER, f"lane {lane.id}")
            for hub in (lane.origin_hub, lane.dest_hub):
                if hub is not None and hub not in hubs:
                    raise ValueError(f"lane {lane.id}: unknown hub {hub!r}")
        for m in self.last_mile:
            party(m.carrier, Role.LAST_MILE_CARRIER, f"last_mile {m.id}")
        for d in self.demand:
            party(d.platform, Role.PLATFORM, f"demand {d.country}")
        if self.demand and abs(sum(d.share for d in self.demand) - 1.0) > 1e-6:
            raise ValueError("demand shares must sum to 1")
        return self

    def fx_table(self) -> FxTable:
        return FxTable.of(FxRate(e.date, e.base, e.quote, e.rate, e.source) for e in self.fx)

    def sellers(self) -> frozenset[str]:
        return frozenset(p.id for p in self.parties if p.has(Role.SELLER))


def _path(loc: tuple[int | str, ...], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts) or "world"
