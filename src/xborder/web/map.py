"""The network map, drawn on the server as one inline SVG: no script, no tiles, no network.

The world is the Natural Earth 1:110m countries as the npm package ``world-atlas`` 2.0.2 ships
them (TopoJSON, vendored in ``static/world/`` with its source and hash). TopoJSON stores each
border once as an *arc* of quantized, delta-encoded points; a country is a list of rings, each a
list of arc indices (``~i`` = arc ``i`` reversed). We decode the arcs with NumPy, project them
equirectangularly around a central meridian (150°E by default, so lanes from China to the
Americas cross the Pacific instead of the whole map) and write one ``<path>`` per country. The
decoded base map is the same for every request and is cached per process; only warehouses and
lanes are drawn per request. Every text that reaches the SVG goes through ``html.escape``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from xborder.services.network_view import Network

WIDTH = 960.0
NORTH, SOUTH = 84.0, -58.0  # leave out Antarctica and the empty far north
CENTER_LON = 150.0
Floats = npt.NDArray[np.float64]
KIND_ORDER = ("domestic", "bonded", "hub", "overseas")


@dataclass(frozen=True, slots=True)
class Frame:
    """The projection: longitude/latitude -> SVG x/y, for one central meridian."""

    center: float = CENTER_LON
    width: float = WIDTH

    @property
    def scale(self) -> float:
        return self.width / 360.0

    @property
    def height(self) -> float:
        return (NORTH - SOUTH) * self.scale

    def x(self, lon: Floats) -> Floats:
        """x of each longitude, wrapped into the map ([0, width))."""
        shifted = (lon - self.center + 180.0) % 360.0
        return np.asarray(shifted * self.scale, dtype=np.float64)

    def y(self, lat: Floats) -> Floats:
        return np.asarray((NORTH - lat) * self.scale, dtype=np.float64)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        return float(self.x(np.array([lon]))[0]), float(self.y(np.array([lat]))[0])


def topology() -> dict[str, Any]:
    """The vendored TopoJSON document."""
    text = (
        resources.files("xborder.web")
        .joinpath("static", "world", "countries-110m.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def decode_arcs(topo: dict[str, Any]) -> list[Floats]:
    """Each arc as an (n, 2) array of longitude, latitude: the delta-encoded, quantized
    positions summed up and mapped through the topology's transform."""
    transform = topo.get("transform")
    out: list[Floats] = []
    for arc in topo["arcs"]:
        points = np.asarray(arc, dtype=np.float64)[:, :2]
        if transform is not None:
            points = np.cumsum(points, axis=0)
            points = points * np.asarray(transform["scale"]) + np.asarray(transform["translate"])
        out.append(points)
    return out


def ring_coordinates(ring: Sequence[int], arcs: Sequence[Floats]) -> Floats:
    """A ring's points from its arcs: ``~i`` means arc ``i`` backwards; each arc after the first
    starts where the previous one ended, so its first point is dropped."""
    parts: list[Floats] = []
    for k, index in enumerate(ring):
        arc = arcs[~index][::-1] if index < 0 else arcs[index]
        parts.append(arc if k == 0 else arc[1:])
    return np.concatenate(parts) if parts else np.empty((0, 2))


def polygons_of(geometry: dict[str, Any]) -> list[list[list[int]]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["arcs"]]
    if kind == "MultiPolygon":
        return list(geometry["arcs"])
    return []


def _ring_path(points: Floats, frame: Frame) -> str:
    """SVG path data of one ring. The ring is unwrapped across the map's edge (consecutive x
    never jump by more than half the map) and drawn once more shifted by a map width when it
    sticks out, so a country cut by the edge shows on both sides."""
    if len(points) < 3:
        return ""
    xs = frame.x(points[:, 0])
    ys = frame.y(points[:, 1])
    xs = np.unwrap(xs, period=frame.width)
    pieces = [xs]
    if xs.max() > frame.width:
        pieces.append(xs - frame.width)
    if xs.min() < 0:
        pieces.append(xs + frame.width)
    out = []
    for px in pieces:
        coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, ys, strict=True))
        out.append(f"M{coords}Z")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Country:
    id: str  # ISO 3166-1 numeric (as world-atlas gives it; some disputed areas have none)
    name: str
    path: str
    centroid: tuple[float, float] | None  # lon, lat of the largest polygon's mean point


def _area(points: Floats) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


@cache
def countries(center: float = CENTER_LON) -> tuple[Country, ...]:
    """Every country of the vendored atlas, projected around ``center`` (cached)."""
    topo = topology()
    arcs = decode_arcs(topo)
    frame = Frame(center)
    out = []
    for geometry in topo["objects"]["countries"]["geometries"]:
        rings: list[Floats] = []
        best: tuple[float, tuple[float, float]] | None = None
        for polygon in polygons_of(geometry):
            outer = ring_coordinates(polygon[0], arcs)
            if len(outer):
                area = _area(outer)
                if best is None or area > best[0]:
                    mean = outer.mean(axis=0)
                    best = (area, (float(mean[0]), float(mean[1])))
            rings.extend(ring_coordinates(ring, arcs) for ring in polygon)
        path = "".join(_ring_path(r, frame) for r in rings)
        name = str((geometry.get("properties") or {}).get("name", ""))
        out.append(Country(str(geometry.get("id", "")), name, path, best[1] if best else None))
    return tuple(out)


def centroids() -> dict[str, tuple[float, float]]:
    """ISO numeric code -> (lon, lat) of the country's largest polygon."""
    return {c.id: c.centroid for c in countries() if c.id and c.centroid is not None}


@cache
def _base_layer(center: float) -> str:
    return "".join(
        f'<path class="country" data-id="{escape(c.id)}"><title>{escape(c.name)}</title></path>'
        if not c.path
        else f'<path class="country" data-id="{escape(c.id)}" d="{c.path}">'
        f"<title>{escape(c.name)}</title></path>"
        for c in countries(center)
    )


def _lane_path(frame: Frame, a: tuple[float, float], b: tuple[float, float]) -> str:
    """A gentle arc from ``a`` to ``b`` (lon, lat), the short way round the projected map."""
    (x1, y1), (x2, y2) = frame.point(*a), frame.point(*b)
    if abs(x2 - x1) > frame.width / 2:  # the other way round is shorter: cross the edge
        x2 += frame.width if x2 < x1 else -frame.width
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    bend = 0.15 * float(np.hypot(x2 - x1, y2 - y1))
    return f"M{x1:.1f},{y1:.1f} Q{mx:.1f},{my - bend:.1f} {x2:.1f},{y2:.1f}"


def render_map(network: Network, *, title: str = "Network map", center: float = CENTER_LON) -> str:
    """The network as one ``<svg>`` element: countries, lanes (origin hub to destination) and
    warehouses (a dot per warehouse, coloured by kind), each with a ``<title>`` tooltip."""
    frame = Frame(center)
    known = centroids()
    lanes = []
    for lane in network.lanes:
        origin = lane.origin
        dest = lane.destination or known.get(lane.dest_numeric or "")
        if origin is None or dest is None:
            continue
        tip = escape(f"{lane.name} ({lane.mode})")
        lanes.append(
            f'<path class="lane mode-{escape(lane.mode)}" d="{_lane_path(frame, origin, dest)}">'
            f"<title>{tip}</title></path>"
        )
    houses = []
    for house in network.warehouses:
        if house.lon is None or house.lat is None:
            continue
        x, y = frame.point(house.lon, house.lat)
        kind = house.kind if house.kind in KIND_ORDER else "other"
        tip = escape(f"{house.name} ({house.kind})")
        houses.append(
            f'<circle class="warehouse kind-{kind}" cx="{x:.1f}" cy="{y:.1f}" r="4">'
            f"<title>{tip}</title></circle>"
        )
    return (
        f'<svg class="network-map" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {frame.width:.0f} {frame.height:.0f}" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect class="sea" width="{frame.width:.0f}" height="{frame.height:.0f}"/>'
        f'<g class="countries">{_base_layer(center)}</g>'
        f'<g class="lanes">{"".join(lanes)}</g>'
        f'<g class="warehouses">{"".join(houses)}</g>'
        "</svg>"
    )
