"""Trace fixtures: a private key directory per test, a settable clock and a small captured ledger.

The ledger's events run from T0 to T0 + 60 h; the clock stands at ``NOW`` (T0 + 3 days), so a
test's record times are known exactly and "now" does not depend on the day the suite runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from xborder.domain.clock import SettableClock
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
NOW = T0 + timedelta(days=3)
HUB = "https://xborder.dev/loc/hub/CNSZX"
# the vendored official EPCIS examples (tests/data/epcis/README.md)
EPCIS_EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "epcis" / "examples"


@pytest.fixture(autouse=True)
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "keys"
    monkeypatch.setenv("XBORDER_KEYS_DIR", str(path))
    yield path


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


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


def specs() -> list[svc.ObjectSpec]:
    """The two parcels (each with tracking number and destination postcode) and the bag."""
    return [
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
    ]


def fill(engine: Engine, clock: SettableClock) -> None:
    """Register the objects and capture the flow in one unit of work on ``clock``."""
    with UnitOfWork(engine, clock) as uow:
        svc.register_objects(uow, specs())
        svc.capture(uow, capture_frame(flow_rows()))
        uow.commit()


@pytest.fixture
def ledger(engine: Engine, clock: SettableClock) -> Engine:
    """A store with two parcels and a bag registered and their flow captured."""
    fill(engine, clock)
    return engine


SHOP_A_GLN = "0614141000012"
NAMES: dict[str, list[dict[str, Any]]] = {
    "hubs": [
        {"id": "CNSZX", "name": "Shenzhen consolidation hub", "country": "CN"},
        {"id": "GBLHR", "name": "London Heathrow hub", "country": "GB"},
    ],
    "parties": [
        {"id": "shop-a", "name": "Shop A Ltd", "roles": "seller", "country": "CN",
         "gln": SHOP_A_GLN},
        {"id": "fwd", "name": "Pearl River Forwarding", "roles": "logistics_provider",
         "country": "CN", "gln": None},
        {"id": "lastmile", "name": "Last Mile Couriers", "roles": "last_mile_carrier",
         "country": "GB", "gln": None},
    ],
}  # fmt: skip


def add_names(engine: Engine) -> None:
    """Hubs and parties with names, as a loaded world has them (what a timeline shows)."""
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO hubs (id, name, country) VALUES (:id, :name, :country)"),
            NAMES["hubs"],
        )
        conn.execute(
            text(
                "INSERT INTO parties (id, name, roles, country, gln) "
                "VALUES (:id, :name, :roles, :country, :gln)"
            ),
            NAMES["parties"],
        )
