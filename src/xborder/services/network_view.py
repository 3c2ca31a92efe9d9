"""The stored network as a map needs it: warehouses with their place and kind, lanes from their
origin hub to their destination (the destination hub where the store knows where it is, else the
destination country, which the map places by its ISO numeric code).

A read use case for the web dashboard's map (``xborder.web.map``); it holds no prices, party
ids or URIs beyond what the operator's dashboard shows anyway (names, modes, kinds).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from xborder.store.uow import UnitOfWork

LonLat = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ShowNetwork:
    """The whole stored network (the operator's view)."""


@dataclass(frozen=True, slots=True)
class WarehouseMark:
    id: str
    name: str
    kind: str
    country: str
    lon: float | None
    lat: float | None


@dataclass(frozen=True, slots=True)
class LaneMark:
    id: str
    name: str
    mode: str
    dest_country: str
    origin: LonLat | None  # the origin hub, or the mean of the warehouses at that hub
    destination: LonLat | None  # the destination hub when its place is stored
    dest_numeric: str | None  # ISO 3166-1 numeric of the destination country


@dataclass(frozen=True, slots=True)
class Network:
    warehouses: list[WarehouseMark] = field(default_factory=list)
    lanes: list[LaneMark] = field(default_factory=list)


@cache
def iso_numeric() -> dict[str, str]:
    """ISO 3166-1 alpha-2 -> numeric (3 digits), from the shipped reference file."""
    text = resources.files("xborder").joinpath("data", "countries.csv").read_text("utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return {row["alpha2"]: row["numeric"] for row in csv.DictReader(io.StringIO(body))}


def _place(row: dict[str, Any]) -> LonLat | None:
    lon, lat = row.get("lon"), row.get("lat")
    if lon is None or lat is None:
        return None
    return float(lon), float(lat)


def show_network(uow: UnitOfWork, command: ShowNetwork | None = None) -> Network:
    """Warehouses and lanes of the stored world, placed on the globe."""
    with uow:
        house_rows = uow.world.warehouses()
        lane_rows = uow.world.lanes()
        # hubs with their places: a repository read the world store may offer
        hub_reader = getattr(uow.world, "hubs", None)
        hub_rows: list[dict[str, Any]] = list(hub_reader()) if callable(hub_reader) else []
    hubs = {str(h["id"]): p for h in hub_rows if (p := _place(h)) is not None}
    at_hub: dict[str, list[LonLat]] = {}
    houses = []
    for row in house_rows:
        place = _place(row)
        if place is not None and row.get("hub_id"):
            at_hub.setdefault(str(row["hub_id"]), []).append(place)
        houses.append(
            WarehouseMark(
                str(row["id"]), str(row["name"]), str(row.get("kind") or ""),
                str(row.get("country") or ""),
                None if place is None else place[0], None if place is None else place[1],
            )
        )  # fmt: skip
    for hub, places in at_hub.items():
        if hub not in hubs:
            hubs[hub] = (
                sum(p[0] for p in places) / len(places),
                sum(p[1] for p in places) / len(places),
            )
    numeric = iso_numeric()
    lanes = [
        LaneMark(
            str(row["id"]), str(row["name"]), str(row.get("mode") or ""),
            str(row["dest_country"]), hubs.get(str(row.get("origin_hub"))),
            hubs.get(str(row.get("dest_hub"))), numeric.get(str(row["dest_country"])),
        )
        for row in lane_rows
    ]  # fmt: skip
    return Network(houses, lanes)
