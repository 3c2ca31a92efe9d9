"""One system on one clock, and the buyer's view.

Capture refuses events dated after the clock's now; every record time is the clock's now; the
building blocks join their caller's transaction; a buyer with tracking number and postcode sees
the timeline with places by name, and a wrong postcode sees nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.trace.conftest import (
    BAG,
    NOW,
    P1,
    P2,
    SHOP_A_GLN,
    T0,
    add_names,
    fill,
    flow_rows,
    specs,
)
from xborder.domain.clock import SettableClock
from xborder.domain.errors import InvalidValue
from xborder.services import trace as svc
from xborder.services.trace_capture import epoch_ms
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame
from xborder.trace.signing import KeyStore

NOW_MS = epoch_ms(NOW)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _times(engine: Engine, table: str) -> set[int]:
    with engine.connect() as conn:
        return {int(t) for (t,) in conn.execute(text(f"SELECT created_ms FROM {table}"))}


def test_capture_refuses_an_event_dated_after_the_clock(
    engine: Engine, clock: SettableClock
) -> None:
    late = dict(flow_rows()[0], event_time=NOW + timedelta(seconds=1))
    with UnitOfWork(engine, clock) as uow, pytest.raises(InvalidValue) as err:
        svc.register_objects(uow, specs())
        svc.capture(uow, capture_frame([*flow_rows(), late]))
    assert err.value.field == "event_time"
    assert "after the clock's now" in err.value.reason and P1 in err.value.reason
    assert _count(engine, "trace_events") == _count(engine, "trace_objects") == 0
    on_the_dot = dict(flow_rows()[0], event_time=NOW)  # dated exactly now is fine
    with UnitOfWork(engine, clock) as uow:
        svc.register_objects(uow, specs())
        assert svc.capture(uow, capture_frame([*flow_rows(), on_the_dot])).events == 9
        uow.commit()


def test_record_times_are_the_clocks_now(engine: Engine, clock: SettableClock) -> None:
    fill(engine, clock)
    for table in ("trace_objects", "trace_batches", "trace_party_keys"):
        assert _times(engine, table) == {NOW_MS}, table
    with engine.connect() as conn:
        latest = conn.execute(text("SELECT MAX(event_time_ms) FROM trace_events")).scalar_one()
    assert latest <= NOW_MS  # nothing stored is dated after the clock's now
    later = clock.advance(timedelta(hours=5))
    more = [dict(flow_rows()[5], step="arrived", event_time=later)]
    with UnitOfWork(engine, clock) as uow:
        svc.capture(uow, capture_frame(more))
        uow.commit()
    assert _times(engine, "trace_batches") == {NOW_MS, epoch_ms(later)}
    assert _times(engine, "trace_objects") == {NOW_MS}  # registration is not redone


def test_building_blocks_join_the_callers_transaction(
    engine: Engine, clock: SettableClock, tmp_path: Path
) -> None:
    keys = KeyStore(tmp_path / "injected")
    with UnitOfWork(engine, clock, keys) as uow:
        svc.register_objects(uow, specs())
        svc.capture(uow, capture_frame(flow_rows()))
        # the caller never commits: its transaction, and everything in it, rolls back
    assert _count(engine, "trace_objects") == _count(engine, "trace_events") == 0
    assert keys.has("fwd")  # signed with the unit of work's key store (keys=None)
    svc.register_objects(UnitOfWork(engine, clock), specs())  # alone: it commits itself
    assert _count(engine, "trace_objects") == 3


def test_buyer_view_needs_tracking_number_and_postcode(ledger: Engine) -> None:
    add_names(ledger)
    with UnitOfWork(ledger) as uow:
        for tracking, postcode, status in (
            ("XB0000001", "SW1A 1AA", "Delivered"),
            ("XB0000002", "10115", "Held by import customs"),
        ):
            timeline = svc.show(uow, svc.ShowParcel(tracking, postcode=postcode))
            assert timeline.public and timeline.status == status
            assert "London Heathrow hub" in [c.place for c in timeline.points]
            assert all(c.party is None and c.party_name is None for c in timeline.points)
            assert all(f.custodian is None for f in timeline.exceptions)
        for tracking, postcode in (("XB0000001", "10115"), ("XB0000009", "SW1A 1AA")):
            with pytest.raises(svc.NotVisible, match="no parcel"):
                svc.show(uow, svc.ShowParcel(tracking, postcode=postcode))
        with pytest.raises(InvalidValue) as err:
            svc.show(uow, svc.ShowParcel("XB0000001", "10115", svc.Viewer.party("fwd")))
        assert err.value.field == "postcode"


def test_timeline_names_places_and_parties(ledger: Engine, clock: SettableClock) -> None:
    add_names(ledger)
    gln = f"https://id.gs1.org/414/{SHOP_A_GLN}"
    back = dict(object_key=P1, step="returned", event_time=T0 + timedelta(hours=70),
                tz_offset="+08:00", party_id="shop-a", biz_location=gln)  # fmt: skip
    with UnitOfWork(ledger, clock) as uow:
        svc.capture(uow, capture_frame([back]))
        uow.commit()
        timeline = svc.show(uow, svc.ShowParcel("XB0000001"))
    by_status = {c.status: c for c in timeline.points}
    assert by_status["Consolidated at hub"].place == "Shenzhen consolidation hub"
    assert by_status["Held by import customs"].place == "London Heathrow hub"
    assert by_status["Returned to sender"].place == "Shop A Ltd"  # the party owning the GLN
    assert by_status["Returned to sender"].location == gln
    packed = by_status["Packed"]
    assert packed.place == packed.location == "https://xborder.dev/loc/warehouse/WH1"
    assert by_status["Order placed"].place is None
    assert by_status["Departed"].party_name == "Pearl River Forwarding"
    assert by_status["Delivered"].party_name == "Last Mile Couriers"
    assert by_status["Departed"].event_id and by_status["Departed"].event_id.startswith("ni:///")
    assert timeline.status == "Returned to sender"
    assert svc.short_place(packed.place) == "warehouse WH1"
    assert svc.short_place(P1) == "SSCC 012345670000000017"


def test_show_uses_the_clock_for_now(ledger: Engine) -> None:
    """Exceptions are judged as of the clock's now unless the command names a moment."""
    quiet = SettableClock(NOW)
    with UnitOfWork(ledger, quiet) as uow:
        assert "suspected_loss" not in {f.kind for f in svc.show(uow, svc.ShowParcel(
            "XB0000002")).exceptions}  # fmt: skip
    quiet.advance(timedelta(days=40))
    with UnitOfWork(ledger, quiet) as uow:
        kinds = {f.kind for f in svc.show(uow, svc.ShowParcel("XB0000002")).exceptions}
        assert svc.ExceptionKind.SUSPECTED_LOSS in kinds
        then = svc.show(uow, svc.ShowParcel("XB0000002", now=NOW)).exceptions
        assert svc.ExceptionKind.SUSPECTED_LOSS not in {f.kind for f in then}


def test_a_later_registration_completes_what_an_earlier_one_left_out(
    engine: Engine, clock: SettableClock
) -> None:
    """The step that bags a parcel may register it before anyone knows its postcode."""
    bare = [svc.ObjectSpec(P1, sscc=P1[-18:]), svc.ObjectSpec(BAG, kind="bag")]
    rows = [
        dict(r, children=[P1]) if r.get("children") else r
        for r in flow_rows()
        if r["object_key"] != P2
    ]
    with UnitOfWork(engine, clock) as uow:
        svc.register_objects(uow, bare)
        svc.capture(uow, capture_frame(rows))
        uow.commit()
        with pytest.raises(svc.NotVisible):
            svc.show(uow, svc.ShowParcel("XB0000001", postcode="SW1A 1AA"))
        full = [s for s in specs() if s.key == P1]
        ids = svc.register_objects(uow, full)
        changed = svc.ObjectSpec(P1, tracking_no="XB0000001", destination_postcode="75001")
        assert svc.register_objects(uow, [changed]) == ids  # a set fact is never changed
        timeline = svc.show(uow, svc.ShowParcel("XB0000001", postcode="SW1A 1AA"))
    assert timeline.status == "Delivered"
    statuses = [c.status for c in timeline.points]
    assert "Consolidated at hub" in statuses and "Departed" in statuses  # the bag's events


def test_buyer_view_of_a_packed_parcel_the_registry_knows_only_by_sscc(
    sqlite_engine: Engine, clock: SettableClock
) -> None:
    """Tracking number and postcode live on the packed parcel (``parcels``): enough."""
    path = sqlite_engine.url.database
    assert path is not None
    with sqlite3.connect(path) as raw:  # foreign keys off: no order or warehouse needed
        raw.execute(
            "INSERT INTO parcels (id, order_id, sscc, tracking_no, gross_kg, volume_cm3, "
            "warehouse_id, status, destination_postcode) VALUES "
            "('PCL-1', 1, ?, 'XB0000001', 1.2, 900, 'WH1', 'packed', 'SW1A 1AA')",
            (P1[-18:],),
        )
    with UnitOfWork(sqlite_engine, clock) as uow:
        svc.register_objects(uow, [svc.ObjectSpec(P1, participants=("shop-a",))])
        svc.capture(uow, capture_frame([r for r in flow_rows() if r["object_key"] == P1]))
        uow.commit()
        timeline = svc.show(uow, svc.ShowParcel("XB0000001", postcode="sw1a1aa"))
        assert timeline.tracking_no == "XB0000001" and timeline.status == "Delivered"
        with pytest.raises(svc.NotVisible):
            svc.show(uow, svc.ShowParcel("XB0000001", postcode="10115"))
        own = svc.show(uow, svc.ShowParcel("XB0000001", viewer=svc.Viewer.party("shop-a")))
        assert own.key == P1 and own.points[0].party == "shop-a"


def test_export_is_dated_by_the_clock(ledger: Engine, clock: SettableClock) -> None:
    doc = svc.export(UnitOfWork(ledger, clock), svc.ExportEvents())
    assert NOW.isoformat() == "2026-11-23T08:00:00+00:00"
    assert doc["creationDate"] == "2026-11-23T08:00:00.000Z"  # the clock's now, not the wall's
