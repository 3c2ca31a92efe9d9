"""The demo's delivery step: departed bags finish their trip, and the deliveries go to settlement.

For every bag that departed and has not arrived: the line haul takes a lognormal transit time with
the lane's mean and 95th percentile; the bag arrives, clears import and is deconsolidated; each
parcel goes out with the destination's first last-mile carrier and is delivered, except the share
the lane's and the carrier's loss and damage rates say (lost parcels are declared lost; damaged
ones are delivered damaged). The events go through the trace service, so they are hashed, chained
and signed like every other event. Deliveries are handed on in ``ctx.facts["delivered"]`` (order,
time, the lane's carrier as the party answerable for lateness) for the settlement step, and lost
and damaged parcels in ``ctx.facts["exceptions"]``. Re-running adds nothing: bags that arrived
are skipped.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sqlalchemy import select

from xborder.domain.network import LastMileCarrier
from xborder.services import trace as svc
from xborder.services.trace_demo import trip_event, utc_offset
from xborder.store.schema_trace import trace_events, trace_objects
from xborder.store.trace_repo import TraceRepository
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import CAPTURE_SCHEMA
from xborder.trace.lifecycle import spec

if TYPE_CHECKING:
    from xborder.services.demo import DemoContext, DemoSection

Z95 = 1.6448536269514722  # standard normal 95th percentile


def _transit_days(rng: np.random.Generator, mean: float, p95: float, n: int) -> np.ndarray:
    """Lognormal draws whose mean and 95th percentile are the lane's figures."""
    sigma = max(math.log(max(p95, mean * 1.0001) / mean) / Z95, 1e-3)
    mu = math.log(mean) - sigma * sigma / 2
    return rng.lognormal(mu, sigma, n)


def _bags_in_transit(uow: UnitOfWork) -> list[tuple[int, str, str | None, int, bool]]:
    """(bag id, key, lane, time ms, departed?) of closed bags that have not arrived: departed
    ones with their departure time, the planner's closed but not departed ones with the time
    they were closed."""
    closed, departed, arrived = (spec(s).biz_step for s in ("consolidated", "departed", "arrived"))
    e, o = trace_events, trace_objects
    rows = uow.connection.execute(
        select(o.c.id, o.c.key, o.c.lane, e.c.biz_step, e.c.event_time_ms)
        .join(e, e.c.object_id == o.c.id)
        .where(o.c.kind == "bag", e.c.biz_step.in_([closed, departed, arrived]))
    ).all()
    seen: dict[int, dict[str, Any]] = {}
    for bag_id, key, lane, step, at in rows:
        entry = seen.setdefault(int(bag_id), {"key": str(key), "lane": lane})
        entry[step] = max(int(at), entry.get(step, 0))
    return [
        (bag_id, b["key"], b["lane"], b.get(departed, b.get(closed, 0)), departed in b)
        for bag_id, b in sorted(seen.items())
        if arrived not in b and (departed in b or closed in b)
    ]


def step_deliver(ctx: DemoContext) -> DemoSection:
    from xborder.services.demo import DemoSection

    rng = np.random.default_rng(ctx.seed + 11)
    lanes = {lane.id: lane for lane in ctx.world.lanes}
    last_mile: dict[str, LastMileCarrier] = {}
    for option in ctx.world.last_mile:
        last_mile.setdefault(option.country, option)
    events: list[dict[str, Any]] = []
    delivered: list[tuple[int, datetime, str]] = []
    exceptions: list[tuple[int, str, str]] = []
    with UnitOfWork(ctx.engine) as uow:
        repo = TraceRepository(uow.connection)
        bags = [b for b in _bags_in_transit(uow) if b[2] in lanes]
        participants: list[tuple[int, str]] = []
        for bag_id, bag_key, lane_id, at_ms, has_departed in bags:
            lane = lanes[str(lane_id)]
            members = repo.members_of(bag_id)
            parcels = repo.objects(members)
            carrier = last_mile.get(lane.dest_country)
            if carrier is None or not parcels:
                continue
            dest_tz = utc_offset(lane.dest_country)
            hub = f"https://xborder.dev/loc/hub/{lane.dest_hub or lane.origin_hub}"
            departed = datetime.fromtimestamp(at_ms / 1000, UTC)
            if not has_departed:  # a bag the planner closed: it leaves with the lane's carrier
                departed += timedelta(hours=4)
                events.append(
                    trip_event(
                        bag_key,
                        "departed",
                        departed,
                        utc_offset("CN"),
                        lane.carrier,
                        read_point=f"https://xborder.dev/loc/hub/{lane.origin_hub}",
                    )
                )
            arrived = departed + timedelta(
                days=float(_transit_days(rng, lane.transit_mean_days, lane.transit_p95_days, 1)[0])
            )
            released = arrived + timedelta(hours=float(rng.uniform(2, 30)))
            opened = released + timedelta(hours=2)
            events += [
                trip_event(bag_key, "arrived", arrived, dest_tz, lane.carrier, read_point=hub),
                trip_event(bag_key, "import_released", released, dest_tz, lane.carrier,
                       read_point=hub),
                trip_event(bag_key, "deconsolidated", opened, dest_tz, lane.carrier, read_point=hub,
                       children=[p["key"] for p in parcels.values()]),
            ]  # fmt: skip
            n = len(parcels)
            last_leg = _transit_days(rng, carrier.transit_mean_days, carrier.transit_p95_days, n)
            fate = rng.random(n)
            lost_below = lane.loss_rate + carrier.loss_rate
            damaged_below = lost_below + lane.damage_rate + carrier.damage_rate
            for (object_id, parcel), leg, draw in zip(parcels.items(), last_leg, fate, strict=True):
                out = opened + timedelta(hours=float(rng.uniform(6, 20)))
                done = out + timedelta(days=float(leg))
                key, order_id = parcel["key"], parcel["order_id"]
                participants.append((object_id, carrier.carrier))
                events.append(trip_event(key, "out_for_delivery", out, dest_tz, carrier.carrier))
                if draw < lost_below:
                    events.append(trip_event(key, "lost", done, dest_tz, carrier.carrier))
                    exceptions.append((int(order_id), "lost", carrier.carrier))
                    continue
                if draw < damaged_below:
                    events.append(trip_event(key, "damaged", done, dest_tz, carrier.carrier))
                    exceptions.append((int(order_id), "damaged", carrier.carrier))
                events.append(trip_event(key, "delivered", done + timedelta(minutes=1), dest_tz,
                                     carrier.carrier))  # fmt: skip
                delivered.append((int(order_id), done + timedelta(minutes=1), lane.carrier))
        if events:
            repo.add_participants(participants)
            svc.capture(uow, pl.DataFrame(events, schema=CAPTURE_SCHEMA))
        uow.commit()
    with UnitOfWork(ctx.engine) as uow:
        verified = svc.verify(uow, deep=False)
    ctx.facts["delivered"] = pl.DataFrame(
        delivered,
        schema={"order_id": pl.Int64, "delivered_at": pl.Datetime("us", "UTC"),
                "responsible": pl.String},
        orient="row",
    )  # fmt: skip
    ctx.facts["exceptions"] = pl.DataFrame(
        exceptions, schema={"order_id": pl.Int64, "kind": pl.String, "custodian": pl.String},
        orient="row",
    )  # fmt: skip
    lost = sum(1 for _, kind, _ in exceptions if kind == "lost")
    return DemoSection("Line haul, customs release and last mile", {
        "bags_arrived": len(bags), "parcels_delivered": len(delivered), "parcels_lost": lost,
        "parcels_damaged": len(exceptions) - lost, "events_captured": len(events),
        "ledger_verified": verified.ok,
    })  # fmt: skip
