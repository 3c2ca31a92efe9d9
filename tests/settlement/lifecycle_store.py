"""A small store with the lifecycle facts money follows, built for the settlement tests.

Eight orders of the demo world's Shenzhen gadget seller to Berlin (DDP, 28.38 EUR due each),
captured and paid through the use cases; their parcels are written straight into the parcels
table (the lifecycle use cases that normally write them are another area's, tested there).

| order | paid | phase 1 (clock 2026-12-03)             | phase 2 (clock 2026-12-10)         |
| ----- | ---- | -------------------------------------- | ---------------------------------- |
| A     | yes  | delivered 12-01 (on time); tax released |                                   |
| B     | yes  | departed; tax declared                 | delivered 12-07 (late); tax released |
| C     | no   | delivered 12-02 (on time)              | paid 12-09                         |
| D     | yes  | lost 11-28 in the lane carrier's hands |                                    |
| E     | yes  | not packed                             |                                    |
| F     | yes  | packed only                            | returned 12-08                     |
| G     | no   | departed                               | delivered 12-06 (late)             |
| H     | yes  | cancelled before packing               |                                    |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from tests.factories import make_order
from xborder.domain.clock import SettableClock
from xborder.domain.orders import PaymentRecord
from xborder.domain.world import World
from xborder.services import trace
from xborder.services.capture import capture_order
from xborder.services.payments import record_payment
from xborder.services.settlement import EscrowTerms, SlaTerms
from xborder.services.world import LoadWorld, load_world
from xborder.store.schema import orders
from xborder.store.schema_customs import customs_declarations
from xborder.store.schema_planning import parcels
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame, sscc_link

T0 = datetime(2026, 11, 24, 12, tzinfo=UTC)
PHASE1 = datetime(2026, 12, 3, 12, tzinfo=UTC)
PHASE2 = datetime(2026, 12, 10, 12, tzinfo=UTC)
PROVIDER = "pp-lianhe-pay"
TERMS = EscrowTerms(platform=PROVIDER, fee_rate=Decimal("0.05"), auto_confirm_days=7)
SLA = SlaTerms(penalty_per_day=100, penalty_cap=1000)
SELLER = "seller-sz-gadgets"
LANE, LANE_CARRIER = "ln-szx-de-express", "lp-meridian-express"
WAREHOUSE, OPERATOR = "wh-sz-dom", "wo-longhua"
LAST_MILE, LAST_MILE_CARRIER = "lm-de-dhl", "lmc-dhl-paket"
GROSS_KG, DIMS_CM = Decimal("1.2"), (Decimal(30), Decimal(20), Decimal(15))  # 1.8 kg volumetric
PAID, GOODS = 2838, 2448  # minor units (EUR cents)
NAMES = "ABCDEFGH"


def _sscc(serial: int) -> str:
    """An SSCC with its GS1 check digit (weights 3, 1, 3, ... from the right)."""
    body = f"0123456700{serial:07d}"
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return body + str(-total % 10)


def day(d: int, month: int = 11, hour: int = 9) -> datetime:
    return datetime(2026, month, d, hour, tzinfo=UTC)


@dataclass
class Store:
    engine: Engine
    clock: SettableClock
    ids: dict[str, int]

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock)


def _parcel(name: str, order_id: int, **milestones: Any) -> dict[str, Any]:
    n = NAMES.index(name) + 1
    length, width, height = DIMS_CM
    return {
        "id": f"P{n}", "order_id": order_id, "sscc": _sscc(n),
        "tracking_no": f"XB00000000000{n}", "gross_kg": GROSS_KG,
        "volume_cm3": length * width * height, "warehouse_id": WAREHOUSE, "lane_id": LANE,
        "departure_date": date(2026, 11, 26), "status": "packed", "consolidation_id": None,
        "last_mile_id": LAST_MILE, "destination_country": "DE", "destination_postcode": "10115",
        "promised_by": date(2026, 12, 4), "packed_at": day(25), "departed_at": None,
        "delivered_at": None, "status_at": day(25), **milestones,
    }  # fmt: skip


def _declaration(order_id: int, status: str, released_on: date | None) -> dict[str, Any]:
    return {
        "order_no": f"DECL-{order_id}", "order_id": order_id, "regime": "EU", "destination": "DE",
        "channel": "ioss", "customs_mode": None, "buyer_id": None,
        "declared_on": date(2026, 11, 24), "tax_currency": "EUR", "customs_value_minor": GOODS,
        "duty_minor": 0, "vat_minor": 465, "consumption_tax_minor": 0, "fees_minor": 0,
        "total_tax_minor": 465, "landed_minor": GOODS + 465, "counted_minor": 0,
        "incoterm": "DDP", "tax_payer": "seller", "collected_at": "checkout", "status": status,
        "released_on": released_on, "rules": "[]",
    }  # fmt: skip


def _pay(store: Store, name: str, at: datetime) -> None:
    record_payment(store.uow(), PaymentRecord(
        channel="shop-de", external_id=f"LC-{name}", provider=PROVIDER,
        transaction_id=f"T-{name}", payer_name="Lena Vogel", amount=Decimal("28.38"),
        currency="EUR", paid_at=at,
    ))  # fmt: skip


def build(engine: Engine, world: World) -> Store:
    """Phase 1: the facts as the clock reaches 2026-12-03 12:00."""
    store = Store(engine, SettableClock(T0), {})
    load_world(store.uow(), LoadWorld(world))
    with store.uow() as uow:
        for name in NAMES:
            store.ids[name] = capture_order(uow, make_order(f"LC-{name}")).order_id
        uow.commit()
    for name in "ABDEFH":
        _pay(store, name, T0)
    store.clock.set(PHASE1)
    ids = store.ids
    delivered = {"departed_at": day(26), "status": "delivered"}
    rows = [
        _parcel("A", ids["A"], **delivered, delivered_at=day(1, 12), status_at=day(1, 12)),
        _parcel("B", ids["B"], departed_at=day(26), status="departed", status_at=day(26)),
        _parcel("C", ids["C"], **delivered, delivered_at=day(2, 12), status_at=day(2, 12)),
        _parcel("D", ids["D"], departed_at=day(26), status="lost", status_at=day(28)),
        _parcel("F", ids["F"]),
        _parcel("G", ids["G"], departed_at=day(26), status="departed", status_at=day(26)),
    ]
    with store.uow() as uow:  # straight into the tables: another area's use cases write them
        uow.connection.execute(parcels.insert(), rows)
        uow.connection.execute(
            orders.update().where(orders.c.id == ids["H"]).values(status="cancelled")
        )
        uow.connection.execute(customs_declarations.insert(), [
            _declaration(ids["A"], "released", date(2026, 11, 27)),
            _declaration(ids["B"], "declared", None),
        ])  # fmt: skip
        uow.commit()
    _trace_loss(store)
    return store


def _trace_loss(store: Store) -> None:
    """Parcel D's record: packed by the seller, departed with the lane carrier, then declared
    lost by the insurer (custody: the lane carrier, the last to hold it)."""
    key = sscc_link(_parcel("D", store.ids["D"])["sscc"])
    with store.uow() as uow:
        trace.register_objects(uow, [trace.ObjectSpec(
            key, tracking_no="XB000000000004", order_id=store.ids["D"], lane=LANE,
            participants=(SELLER, LANE_CARRIER),
        )])  # fmt: skip
        trace.capture(uow, capture_frame([
            dict(object_key=key, step="picked_packed", event_time=day(25), tz_offset="+08:00",
                 party_id=SELLER),
            dict(object_key=key, step="departed", event_time=day(26), tz_offset="+08:00",
                 party_id=LANE_CARRIER),
            dict(object_key=key, step="lost", event_time=day(28), tz_offset="+00:00",
                 party_id="insurer-y"),
        ]))  # fmt: skip
        uow.commit()


def advance(store: Store) -> None:
    """Phase 2: B and G delivered, B's tax released, C paid, F returned; the clock at
    2026-12-10 12:00."""
    ids = store.ids
    store.clock.set(PHASE2 - timedelta(hours=1))
    _pay(store, "C", day(9, 12))
    with store.uow() as uow:
        for name, at in (("B", day(7, 12)), ("G", day(6, 12))):
            uow.connection.execute(
                parcels.update().where(parcels.c.order_id == ids[name])
                .values(status="delivered", delivered_at=at, status_at=at)
            )  # fmt: skip
        uow.connection.execute(
            parcels.update().where(parcels.c.order_id == ids["F"])
            .values(status="returned", status_at=day(8, 12))
        )  # fmt: skip
        uow.connection.execute(
            customs_declarations.update().where(customs_declarations.c.order_id == ids["B"])
            .values(status="released", released_on=date(2026, 12, 5))
        )  # fmt: skip
        uow.commit()
    store.clock.set(PHASE2)
