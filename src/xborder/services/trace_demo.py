"""The demo's traceability step: each demo order's trip written to the ledger, then verified.

For every order of the day: order placed (a TransactionEvent naming the order, captured by the
platform) and picked and packed (captured by the seller). The fulfilment planner's step, when it
runs, has already put parcels into bags (its AggregationEvents). Parcels it did not bag are
bagged here: up to ``BAG_SIZE`` per lane that serves their origin and destination, departing
with the lane's carrier. The whole ledger is then verified. Run it last: it verifies everything
the earlier steps wrote.

Locations: a party's GLN (``https://id.gs1.org/414/...``) as bizLocation where the world gives
one, hubs as ``https://xborder.dev/loc/hub/<id>`` read points. Identifiers are the planner's:
SSCC = extension digit + GS1's documentation company prefix 0614141 (used in GS1 standards'
examples, not a real company) + the order id, and tracking number ``XB`` + 12 digits. Bags made
here use serials from 900,000,000 so they cannot clash with the planner's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import select

from xborder.services import trace as svc
from xborder.store.schema import orders
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import CAPTURE_SCHEMA, sscc_link
from xborder.trace.identifiers import sscc
from xborder.trace.lifecycle import BTT_ORDER

if TYPE_CHECKING:
    from xborder.services.demo import DemoContext, DemoSection

DEMO_COMPANY_PREFIX = "0614141"  # GS1 example prefix (GS1 General Specifications examples)
BAG_SERIALS = 900_000_000
BAG_SIZE = 200
CHUNK = 20_000


def parcel_sscc(order_id: int) -> str:
    return sscc(DEMO_COMPANY_PREFIX, f"{order_id:09d}", "0")


def bag_sscc(first_order_id: int) -> str:
    return sscc(DEMO_COMPANY_PREFIX, f"{BAG_SERIALS + first_order_id:09d}", "1")


def tracking_no(order_id: int) -> str:
    return f"XB{order_id:012d}"


def utc_offset(country: str) -> str:
    return "+08:00" if country in ("CN", "HK", "SG", "MY") else "+00:00"


def trip_event(
    key: str, step: str, at: datetime, tz: str, party: str, **extra: Any
) -> dict[str, Any]:
    row = {
        "object_key": key,
        "step": step,
        "event_time": at,
        "tz_offset": tz,
        "party_id": party,
        "read_point": None,
        "biz_location": None,
        "children": None,
        "transactions": None,
    }
    row.update(extra)
    return row


def step_trace(ctx: DemoContext) -> DemoSection:
    """Write the demo orders' events (placed, packed, bagged, departed) and verify the ledger."""
    from xborder.services.demo import DemoSection

    hub_country = {h.id: h.country for h in ctx.world.hubs}
    lane_for = {
        (hub_country.get(lane.origin_hub), lane.dest_country): lane for lane in ctx.world.lanes
    }
    lanes_by_id = {lane.id: lane for lane in ctx.world.lanes}
    # a party's site as a GLN location (the demo world's GLNs are in GS1's restricted range)
    site = {
        p.id: f"https://id.gs1.org/414/{p.gln}" for p in getattr(ctx.world, "parties", ()) if p.gln
    }
    ids = sorted(ctx.order_ids)
    captured = bags = 0
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        with UnitOfWork(ctx.engine) as uow:
            rows = uow.connection.execute(
                select(
                    orders.c.id,
                    orders.c.seller_id,
                    orders.c.platform_id,
                    orders.c.placed_at,
                    orders.c.consignee_postcode,
                    orders.c.consignee_country,
                    orders.c.origin_country,
                ).where(orders.c.id.in_(part))
            ).all()
            specs = []
            for r in rows:
                lane = lane_for.get((r.origin_country, r.consignee_country))
                specs.append(
                    svc.ObjectSpec(
                        sscc_link(parcel_sscc(int(r.id))),
                        tracking_no=tracking_no(int(r.id)),
                        sscc=parcel_sscc(int(r.id)),
                        destination_postcode=r.consignee_postcode,
                        order_id=int(r.id),
                        lane=lane.id if lane else None,
                        participants=tuple(sorted({r.seller_id, r.platform_id or r.seller_id})),
                    )
                )
            object_ids = svc.register_objects(uow, specs)
            repo = svc.TraceRepository(uow.connection)
            traced = repo.heads(list(object_ids.values()))  # parcels with events already
            bagged = repo.first_contained(list(object_ids.values()))
            events: list[dict[str, Any]] = []
            by_lane: dict[str, list[tuple[int, str, datetime]]] = {}
            for r in rows:
                key = sscc_link(parcel_sscc(int(r.id)))
                placed = r.placed_at if r.placed_at.tzinfo else r.placed_at.replace(tzinfo=UTC)
                tz = utc_offset(r.origin_country)
                if object_ids[key] not in traced:
                    platform = r.platform_id or r.seller_id
                    events.append(
                        trip_event(
                            key,
                            "order_placed",
                            placed,
                            tz,
                            platform,
                            transactions=[
                                {
                                    "type": BTT_ORDER,
                                    "id": f"https://xborder.dev/tx/order/{int(r.id)}",
                                }
                            ],
                        )
                    )
                    packed = placed + timedelta(hours=4)
                    if object_ids[key] in bagged:  # packed before the planner bagged it
                        packed = min(
                            packed,
                            datetime.fromtimestamp(bagged[object_ids[key]] / 1000, UTC)
                            - timedelta(minutes=30),
                        )
                    events.append(
                        trip_event(
                            key,
                            "picked_packed",
                            max(packed, placed),
                            tz,
                            r.seller_id,
                            biz_location=site.get(r.seller_id),
                        )
                    )
                lane = lane_for.get((r.origin_country, r.consignee_country))
                if lane is not None and object_ids[key] not in bagged:
                    by_lane.setdefault(lane.id, []).append((int(r.id), key, placed))
            bag_specs = []
            for lane_id, parcels in sorted(by_lane.items()):
                lane = lanes_by_id[lane_id]
                hub = f"https://xborder.dev/loc/hub/{lane.origin_hub}"
                tz = utc_offset(hub_country.get(lane.origin_hub, ""))
                for i in range(0, len(parcels), BAG_SIZE):
                    group = parcels[i : i + BAG_SIZE]
                    bag = bag_sscc(group[0][0])  # unique: a parcel is bagged once
                    bag_specs.append(
                        svc.ObjectSpec(
                            sscc_link(bag),
                            kind="bag",
                            sscc=bag,
                            lane=lane.id,
                            participants=(lane.carrier,),
                        )
                    )
                    closed = max(t for _, _, t in group) + timedelta(hours=10)
                    events.append(
                        trip_event(
                            sscc_link(bag),
                            "consolidated",
                            closed,
                            tz,
                            lane.carrier,
                            read_point=hub,
                            biz_location=site.get(lane.carrier),
                            children=[k for _, k, _ in group],
                        )
                    )
                    events.append(
                        trip_event(
                            sscc_link(bag),
                            "departed",
                            closed + timedelta(hours=4),
                            tz,
                            lane.carrier,
                            read_point=hub,
                        )
                    )
                    bags += 1
            if events:
                svc.register_objects(uow, bag_specs)
                captured += svc.capture(uow, pl.DataFrame(events, schema=CAPTURE_SCHEMA)).events
            uow.commit()
        if ctx.progress:
            ctx.progress("trace events", min(start + CHUNK, len(ids)), len(ids))
    with UnitOfWork(ctx.engine) as uow:
        verified = svc.verify(uow, deep=True)
    ctx.facts["trace_verified"] = verified.ok
    return DemoSection(
        "Traceability ledger",
        {
            "events_captured": captured,
            "parcels": len(ids),
            "bags_made_here": bags,
            "ledger_events": verified.events,
            "signed_batches": verified.batches,
            "verified": verified.ok,
            "first_break": str(verified.first) if verified.first else None,
        },
    )
