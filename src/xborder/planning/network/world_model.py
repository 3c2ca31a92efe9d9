"""Derive a network-design instance from a world: which overseas/bonded sites should be open?

Pure (no I/O). All money is CNY per day at the world's ``valid_on`` FX rates; demand is orders per
day. Modelling choices (documented in docs/network-design.md; figures marked [ESTIMATE] are ours):
- Regions: every demand city; a country's share x ``daily_orders`` is split evenly over its cities.
- Sites: the world's warehouses (today's network) except CN consolidation hubs, plus a new
  candidate at each export-market hub farther than 300 km from every other site.
- Export regions (CN-origin goods): from a CN domestic warehouse by the cheapest parcel lane (direct
  mail) plus last mile and a lateness penalty; or from a site abroad stocked by the cheapest bulk
  lane (sea/rail/air, per kg, minimum amortised), trucked to the buyer if within road range.
- Import regions (CN buyers of foreign goods): from a CN bonded warehouse stocked by bulk lanes
  (1210), or by 9610 direct mail from the origin countries: a pseudo-site with no fixed cost and
  unlimited capacity, always open, so every plan is feasible.
Duties and taxes are left out: the destination charges them on every route alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from xborder.domain.money import Money
from xborder.domain.network import Lane, WarehouseKind
from xborder.domain.orders import Direction
from xborder.domain.world import World
from xborder.planning.network.instance import Instance
from xborder.planning.network.plan import BoolArray

CNY = "CNY"
HOME = "CN"
# [ESTIMATE] daily fixed cost (lease, staff, systems) in CNY by site kind; throughput per day is
# storage capacity / DAYS_OF_COVER. New candidates get NEW_SITE_UNITS units of storage.
FIXED_PER_DAY = {WarehouseKind.DOMESTIC: 3_000.0, WarehouseKind.BONDED: 6_000.0,
                 WarehouseKind.OVERSEAS: 12_000.0, WarehouseKind.HUB: 2_500.0}  # fmt: skip
DAYS_OF_COVER = 10
NEW_SITE_UNITS = 20_000
NEW_SITE_SPACING_KM = 300.0  # a hub this close to a site adds no new candidate
ROAD_CNY_PER_KG_KM = 0.0015  # [ESTIMATE] LTL/parcel linehaul, about EUR 0.18 per kg per 1000 km
ROAD_RANGE_KM = 2_200.0  # [ESTIMATE] farthest a site abroad trucks to a buyer (EU-wide from DE)
ROAD_KM_PER_DAY = 700.0
LATE_CNY_PER_DAY = 6.0  # [ESTIMATE] cost of a day late against the promise (refunds, churn)
UNSERVABLE = 10.0  # an impossible pair costs this many times the dearest possible pair


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    kind: WarehouseKind | None  # None: the 9610 direct-mail pseudo-site
    country: str
    lat: float
    lon: float
    existing: bool
    handling: float  # CNY per order


@dataclass(frozen=True, eq=False)
class NetworkModel:
    instance: Instance
    sites: tuple[Site, ...]
    today: BoolArray  # sites open today (the world's warehouses and the pseudo-site)
    daily_orders: float


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, Earth radius 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(min(a, 1.0)))


def build(
    world: World, daily_orders: float = 10_000.0, single_source: bool = False
) -> NetworkModel:
    """The instance for ``world``: see the module docstring for every modelling choice."""
    fx = world.fx_table()

    def cny(amount: Decimal, currency: str) -> float:
        return float(fx.convert(Money(amount, currency), CNY, world.meta.valid_on).amount)

    hubs = {h.id: h for h in world.hubs}
    hub_xy = {h.id: (h.lat or 0.0, h.lon or 0.0) for h in world.hubs}
    sites = _sites(world, cny, hub_xy)
    kg_out = _mean_kg(world, export=True)
    kg_in = _mean_kg(world, export=False)
    last_mile: dict[str, tuple[float, float]] = {}
    for m in world.last_mile:
        cost = cny(m.per_parcel + m.per_kg * Decimal(str(kg_out)), m.currency)
        if m.country not in last_mile or cost < last_mile[m.country][0]:
            last_mile[m.country] = (cost, m.transit_mean_days)
    parcel = [ln for ln in world.lanes if ln.per_parcel > 0]
    bulk = [ln for ln in world.lanes if ln.per_parcel == 0]
    origin = {ln.id: hubs[ln.origin_hub].country for ln in world.lanes}
    foreign = _origin_mix(world)

    def lane_kg(ln: Lane, kg: float) -> float:
        return cny(ln.freight(Decimal(str(round(kg, 3)))).amount, ln.currency)

    def bulk_kg(ln: Lane, kg: float) -> float:
        """Bulk lanes bill per kg of a full consignment: the minimum is spread over it."""
        return cny(ln.per_kg, ln.currency) * kg

    def road(a: tuple[float, float], b: tuple[float, float], kg: float) -> float:
        return km(*a, *b) * kg * ROAD_CNY_PER_KG_KM

    regions: list[tuple[str, float, Callable[[Site], float | None]]] = []
    for d in world.demand:
        for city in d.cities:
            xy = (city.lat, city.lon)
            lm_cost, lm_days = last_mile.get(d.country, (0.0, 1.0))
            qty = daily_orders * d.share / len(d.cities)
            kg = (kg_out if d.direction == Direction.EXPORT else kg_in) * d.mean_lines

            def late(days: float, promise: int = d.promise_days) -> float:
                return LATE_CNY_PER_DAY * max(0.0, days - promise)

            def unit(s: Site, xy: tuple[float, float] = xy, kg: float = kg,
                     country: str = d.country, direction: Direction = d.direction,
                     lm: float = lm_cost, lm_days: float = lm_days) -> float | None:  # fmt: skip
                if direction == Direction.EXPORT:
                    if s.kind == WarehouseKind.DOMESTIC:
                        best = min((road((s.lat, s.lon), hub_xy[ln.origin_hub], kg)
                                    + lane_kg(ln, kg) + late(ln.transit_mean_days + lm_days)
                                    for ln in parcel
                                    if ln.dest_country == country and origin[ln.id] == HOME),
                                   default=None)  # fmt: skip
                        return None if best is None else s.handling + best + lm
                    if s.country == HOME or s.kind is None:
                        return None
                    dist = km(s.lat, s.lon, *xy)
                    inbound = min((bulk_kg(ln, kg)
                                   + road(hub_xy[ln.dest_hub or ""], (s.lat, s.lon), kg)
                                   for ln in bulk if origin[ln.id] == HOME and ln.dest_hub),
                                  default=None)  # fmt: skip
                    if inbound is None or dist > ROAD_RANGE_KM:
                        return None
                    days = dist / ROAD_KM_PER_DAY + lm_days
                    return s.handling + inbound + dist * kg * ROAD_CNY_PER_KG_KM + lm + late(days)
                if s.kind is None:  # 9610 direct mail from each origin, weighted by product mix
                    total = 0.0
                    for where, weight in foreign.items():
                        best = min((lane_kg(ln, kg) + late(ln.transit_mean_days + lm_days)
                                    for ln in parcel
                                    if origin[ln.id] == where and ln.dest_country == HOME),
                                   default=None)  # fmt: skip
                        if best is None:
                            return None
                        total += weight * best
                    return total + lm
                if s.kind != WarehouseKind.BONDED:
                    return None
                total = 0.0
                for where, weight in foreign.items():
                    best = min((bulk_kg(ln, kg)
                                 + road(hub_xy[ln.dest_hub or ""], (s.lat, s.lon), kg)
                                for ln in bulk if origin[ln.id] == where and ln.dest_hub
                                and ln.dest_country == HOME), default=None)  # fmt: skip
                    if best is None:
                        return None
                    total += weight * best
                dist = km(s.lat, s.lon, *xy)
                days = dist / ROAD_KM_PER_DAY + lm_days
                return s.handling + total + dist * kg * ROAD_CNY_PER_KG_KM + lm + late(days)

            regions.append((f"{d.country}:{city.city}", qty, unit))

    raw = np.array([[np.nan if (v := f(s)) is None else v for _, _, f in regions] for s in sites])
    worst = float(np.nanmax(raw))
    unit_cost = np.where(np.isnan(raw), worst * UNSERVABLE, raw)
    demand = np.array([q for _, q, _ in regions])
    capacity = np.array([_capacity(s, world, daily_orders) for s in sites])
    fixed = np.array([0.0 if s.kind is None else FIXED_PER_DAY[s.kind] for s in sites])
    inst = Instance.of(
        fixed, capacity, demand, unit_cost * demand[None, :],
        site_ids=[s.id for s in sites], region_ids=[r for r, _, _ in regions],
        single_source=single_source, name=f"{world.meta.name} network",
    )  # fmt: skip
    today = np.array([s.existing for s in sites])
    return NetworkModel(inst, tuple(sites), today, daily_orders)


def _sites(
    world: World, cny: Callable[[Decimal, str], float], hub_xy: dict[str, tuple[float, float]]
) -> list[Site]:
    sites = [
        Site(w.id, w.name, w.kind, w.country, w.lat or 0.0, w.lon or 0.0, True,
             cny(w.handling_per_order, w.handling_currency))
        for w in world.warehouses
        if not (w.country == HOME and w.kind == WarehouseKind.HUB)
    ]  # fmt: skip
    abroad = [s.handling for s in sites if s.kind == WarehouseKind.OVERSEAS]
    handling = float(np.median(abroad)) if abroad else 20.0
    export = {d.country for d in world.demand if d.direction == Direction.EXPORT}
    for h in world.hubs:
        lat, lon = hub_xy[h.id]
        near = any(km(lat, lon, s.lat, s.lon) < NEW_SITE_SPACING_KM for s in sites)
        if h.country in export and not near:
            name = f"New overseas warehouse near {h.name}"
            kind = WarehouseKind.OVERSEAS
            sites.append(Site(f"new-{h.id}", name, kind, h.country, lat, lon, False, handling))
    sites.append(Site("direct-9610", "9610 direct mail from the origin", None, "", 0.0, 0.0,
                      True, 0.0))  # fmt: skip
    return sites


def _capacity(site: Site, world: World, daily_orders: float) -> float:
    if site.kind is None:
        return daily_orders
    units = next((w.capacity_units for w in world.warehouses if w.id == site.id), NEW_SITE_UNITS)
    return units / DAYS_OF_COVER


def _mean_kg(world: World, export: bool) -> float:
    kgs = [float(p.gross_weight_kg) for p in world.products if (p.origin == HOME) == export]
    return sum(kgs) / len(kgs) if kgs else 0.5


def _origin_mix(world: World) -> dict[str, float]:
    """Foreign origins of import goods, weighted by their number of products."""
    counts: dict[str, int] = {}
    for p in world.products:
        if p.origin != HOME:
            counts[p.origin] = counts.get(p.origin, 0) + 1
    total = sum(counts.values())
    return {c: n / total for c, n in counts.items()} if total else {}
