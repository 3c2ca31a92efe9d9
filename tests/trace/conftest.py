"""Trace fixtures: a private key directory per test and a small captured ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from xborder.services import trace as svc
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame, sscc_link
from xborder.trace.lifecycle import BTT_ORDER

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
P1, P2, BAG = (
    sscc_link("012345670000000017"),
    sscc_link("012345670000000024"),
    sscc_link("012345670000000031"),
)
HUB = "https://xborder.dev/loc/hub/CNSZX"


@pytest.fixture(autouse=True)
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "keys"
    monkeypatch.setenv("XBORDER_KEYS_DIR", str(path))
    yield path


def flow_rows() -> list[dict[str, Any]]:
    """Two sellers' parcels through one forwarder's bag."""

    def at(hours: float) -> datetime:
        return T0 + timedelta(hours=hours)

    return [
        dict(
            object_key=P1,
            step="order_placed",
            event_time=at(0),
            tz_offset="+08:00",
            party_id="shop-a",
            transactions=[{"type": BTT_ORDER, "id": "https://xborder.dev/tx/order/1"}],
        ),
        dict(
            object_key=P2,
            step="order_placed",
            event_time=at(0.5),
            tz_offset="+08:00",
            party_id="shop-b",
            transactions=[{"type": BTT_ORDER, "id": "https://xborder.dev/tx/order/2"}],
        ),
        dict(
            object_key=P1,
            step="picked_packed",
            event_time=at(2),
            tz_offset="+08:00",
            party_id="shop-a",
            read_point="https://xborder.dev/loc/warehouse/WH1",
        ),
        dict(
            object_key=P2,
            step="picked_packed",
            event_time=at(3),
            tz_offset="+08:00",
            party_id="shop-b",
            read_point="https://xborder.dev/loc/warehouse/WH2",
        ),
        dict(
            object_key=BAG,
            step="consolidated",
            event_time=at(5),
            tz_offset="+08:00",
            party_id="fwd",
            read_point=HUB,
            children=[P1, P2],
        ),
        dict(
            object_key=BAG,
            step="departed",
            event_time=at(9),
            tz_offset="+08:00",
            party_id="fwd",
            read_point=HUB,
        ),
        dict(
            object_key=BAG,
            step="import_held",
            event_time=at(30),
            tz_offset="+00:00",
            party_id="fwd",
            read_point="https://xborder.dev/loc/hub/GBLHR",
        ),
        dict(
            object_key=P1,
            step="delivered",
            event_time=at(60),
            tz_offset="+00:00",
            party_id="lastmile",
        ),
    ]


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    """A store with two parcels and a bag registered and their flow captured."""
    with UnitOfWork(engine) as uow:
        svc.register_objects(
            uow,
            [
                svc.ObjectSpec(
                    P1,
                    tracking_no="XB0000001",
                    sscc=P1[-18:],
                    destination_postcode="SW1A 1AA",
                    participants=("shop-a", "lastmile"),
                ),
                svc.ObjectSpec(
                    P2,
                    tracking_no="XB0000002",
                    sscc=P2[-18:],
                    destination_postcode="10115",
                    participants=("shop-b",),
                ),
                svc.ObjectSpec(BAG, kind="bag", sscc=BAG[-18:], participants=("fwd",)),
            ],
        )
        svc.capture(uow, capture_frame(flow_rows()))
        uow.commit()
    return engine
