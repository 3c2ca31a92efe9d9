"""Property: whatever the mix of sellers and bags, a party's export holds only its own parcels'
events and the events of bags that carried them, with other parties' parcels cut out."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xborder.domain.clock import SettableClock
from xborder.services import trace as svc
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame, sscc_link
from xborder.trace.lifecycle import BTT_ORDER
from xborder.trace.schema import problems
from xborder.trace.visibility import Viewer

SELLERS = ("shop-a", "shop-b", "shop-c")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(owners=st.lists(st.sampled_from(SELLERS), min_size=1, max_size=12), bag_of=st.data())
def test_party_export_is_confined(
    sqlite_template: Path, owners: list[str], bag_of: st.DataObject
) -> None:
    bags = [bag_of.draw(st.integers(0, 2)) for _ in owners]
    folder = Path(tempfile.mkdtemp())
    shutil.copy(sqlite_template, folder / "s.db")
    engine = make_engine(f"sqlite:///{folder / 's.db'}")
    parcel = [sscc_link(f"{i + 1:018d}") for i in range(len(owners))]
    bag_key = [sscc_link(f"9{b:017d}") for b in range(3)]
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    rows = []
    for i, (owner, key) in enumerate(zip(owners, parcel, strict=True)):
        rows.append(
            {
                "object_key": key,
                "step": "order_placed",
                "event_time": t0,
                "tz_offset": "+00:00",
                "party_id": owner,
                "transactions": [{"type": BTT_ORDER, "id": f"https://x.dev/o/{i}"}],
            }
        )
    for b, key in enumerate(bag_key):
        kids = [p for p, bb in zip(parcel, bags, strict=True) if bb == b]
        if kids:
            rows.append(
                {
                    "object_key": key,
                    "step": "consolidated",
                    "event_time": t0 + timedelta(hours=1),
                    "tz_offset": "+00:00",
                    "party_id": "fwd",
                    "children": kids,
                }
            )
    with UnitOfWork(engine, SettableClock(t0 + timedelta(days=1))) as uow:
        svc.register_objects(
            uow,
            [svc.ObjectSpec(k, participants=(o,)) for k, o in zip(parcel, owners, strict=True)]
            + [svc.ObjectSpec(k, kind="bag") for k in bag_key],
        )
        svc.capture(uow, capture_frame(rows))
        uow.commit()
    with UnitOfWork(engine) as uow:
        for seller in SELLERS:
            own = {p for p, o in zip(parcel, owners, strict=True) if o == seller}
            carried = {bag_key[b] for p, b in zip(parcel, bags, strict=True) if p in own}
            doc = svc.export(uow, svc.ExportEvents(viewer=Viewer.party(seller)))
            assert problems(doc) == []
            for event in doc["epcisBody"]["eventList"]:
                subject = event.get("parentID") or event["epcList"][0]
                assert subject in own | carried
                assert set(event.get("childEPCs", [])) <= own
            seen = {e.get("parentID") or e["epcList"][0] for e in doc["epcisBody"]["eventList"]}
            assert seen == own | carried
    engine.dispose()
    shutil.rmtree(folder)
