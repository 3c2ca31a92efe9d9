"""The demo's trace step on a stand-in world: orders flow into the ledger, which verifies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, insert

from xborder.services import trace as svc
from xborder.services.trace_demo import bag_sscc, parcel_sscc, step_trace, tracking_no
from xborder.store.schema import orders
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame, sscc_link
from xborder.trace.identifiers import sscc
from xborder.trace.visibility import Viewer

PLANNER_BAG = sscc("0614141", "000000001", "1")


def _order(i: int, country: str) -> dict[str, Any]:
    return {
        "id": i, "channel": "shop", "external_id": f"E{i}", "seller_id": "seller-a",
        "platform_id": "market", "trade_mode": "B2C", "direction": "export", "incoterm": "DDP",
        "currency": "EUR", "origin_country": "CN", "buyer_name": "B", "buyer_telephone": "1",
        "consignee_name": "B", "consignee_telephone": "1", "consignee_line1": "Str. 1",
        "consignee_city": "Berlin", "consignee_postcode": "10115", "consignee_country": country,
        "freight_minor": 0, "insurance_minor": 0, "discount_minor": 0, "goods_minor": 1000,
        "line_count": 1, "placed_at": datetime(2026, 11, 20, 8, tzinfo=UTC),
        "promised_by": date(2026, 12, 1), "status": "captured",
    }  # fmt: skip


def test_demo_step_traces_orders_and_verifies(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(orders), [_order(1, "DE"), _order(2, "DE"), _order(3, "US")])
    world = SimpleNamespace(
        parties=[
            SimpleNamespace(id="seller-a", gln="0200000000011"),
            SimpleNamespace(id="fwd", gln=None),
        ],
        hubs=[SimpleNamespace(id="CNSZX", country="CN")],
        lanes=[SimpleNamespace(id="SZX-DE", origin_hub="CNSZX", dest_country="DE", carrier="fwd")],
    )
    ctx = SimpleNamespace(engine=engine, world=world, order_ids=[1, 2, 3], progress=None, facts={})
    # a planner-like step already bagged order 2's parcel
    with UnitOfWork(engine) as uow:
        svc.register_objects(
            uow,
            [
                svc.ObjectSpec(sscc_link(parcel_sscc(2)), sscc=parcel_sscc(2)),
                svc.ObjectSpec(sscc_link(PLANNER_BAG), kind="bag", participants=("fwd",)),
            ],
        )
        svc.capture(
            uow,
            capture_frame(
                [
                    {
                        "object_key": sscc_link(PLANNER_BAG),
                        "step": "consolidated",
                        "event_time": datetime(2026, 11, 21, tzinfo=UTC),
                        "tz_offset": "+00:00",
                        "party_id": "fwd",
                        "children": [sscc_link(parcel_sscc(2))],
                    }
                ]
            ),
        )
        uow.commit()
    section = step_trace(ctx)  # type: ignore[arg-type]
    assert section.summary["verified"] is True
    assert section.summary["events_captured"] == 3 * 2 + 2  # placed+packed each, 1 bag x 2
    assert section.summary["bags_made_here"] == 1  # order 1 only: 2 was bagged, 3 has no lane
    assert section.summary["ledger_events"] == 3 * 2 + 2 + 1
    again = step_trace(ctx)  # type: ignore[arg-type]
    assert again.summary["events_captured"] == 0 and again.summary["verified"] is True
    with UnitOfWork(engine) as uow:
        seen = svc.show(uow, Viewer.buyer(tracking_no(1), "10115"), tracking_no(1))
        assert [c["status"] for c in seen.checkpoints] == [
            "Order placed",
            "Packed",
            "Consolidated at hub",
            "Departed",
        ]
        assert seen.checkpoints[1]["location"] == "https://id.gs1.org/414/0200000000011"
        planned = svc.show(uow, Viewer.party("seller-a"), sscc_link(parcel_sscc(2)))
        assert [c["status"] for c in planned.checkpoints] == [
            "Order placed",
            "Packed",
            "Consolidated at hub",
        ]
        other = svc.show(uow, Viewer.party("market"), tracking_no(3))
        assert len(other.checkpoints) == 2  # no lane to the US in this world: not consolidated
    assert parcel_sscc(1) != bag_sscc(1)
