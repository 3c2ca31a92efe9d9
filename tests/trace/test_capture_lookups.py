"""Capture's set-wise lookups and writes: ids and chain heads in one statement, participants
without a read first, membership closes batched in ledger order."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

from tests.trace.conftest import BAG, HUB, P1, P2, T0
from xborder.domain.clock import SettableClock
from xborder.services import trace as svc
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame

UNUSED = "https://id.gs1.org/00/012345670000000048"


def test_ids_and_heads_agree_with_the_separate_lookups(ledger: Engine) -> None:
    with UnitOfWork(ledger) as uow:
        svc.register_objects(uow, [svc.ObjectSpec(UNUSED, participants=("shop-a",))])
        repo = uow.trace
        keys = [P1, P2, BAG, UNUSED, "https://id.gs1.org/00/999999999999999999"]
        found = repo.ids_and_heads(keys)
        ids = repo.object_ids(keys)
        heads = repo.heads(list(ids.values()))
        uow.commit()
    assert {k: v[0] for k, v in found.items()} == ids and len(ids) == 4
    assert {i: (q, c) for i, q, c in found.values() if c is not None} == heads
    assert found[UNUSED][1:] == (0, None) and found[P1][1] == 3


def test_participants_are_added_once(ledger: Engine) -> None:
    with UnitOfWork(ledger) as uow:
        uow.trace.lock()  # as every ledger writer does (it also opens the transaction)
        oid = uow.trace.object_ids([P1])[P1]
        uow.trace.add_participants([(oid, "shop-a"), (oid, "auditor"), (oid, "auditor")])
        uow.commit()
    with ledger.connect() as conn:
        parties = conn.execute(
            text("SELECT party_id FROM trace_participants WHERE object_id = :o"), {"o": oid}
        ).scalars()
        assert sorted(parties) == ["auditor", "lastmile", "shop-a"]


def test_closes_and_adds_of_one_capture_apply_in_ledger_order(
    ledger: Engine, clock: SettableClock
) -> None:
    """Unbag P2, bag it again, unbag all: three membership rows, each closed by the right
    event, whatever the order of the rows in the frame."""
    at = [T0 + timedelta(hours=h) for h in (31, 32, 33)]
    rows = [
        dict(object_key=BAG, step="deconsolidated", event_time=at[0], tz_offset="+00:00",
             party_id="fwd", read_point=HUB, children=[P2]),
        dict(object_key=BAG, step="consolidated", event_time=at[1], tz_offset="+00:00",
             party_id="fwd", read_point=HUB, children=[P2]),
        dict(object_key=BAG, step="deconsolidated", event_time=at[2], tz_offset="+00:00",
             party_id="fwd", read_point=HUB),
    ]  # fmt: skip
    with UnitOfWork(ledger, clock) as uow:
        svc.capture(uow, capture_frame(rows))
        uow.commit()
    with ledger.connect() as conn:
        got = conn.execute(
            text(
                "SELECT m.added_event_id, m.removed_event_id FROM trace_memberships m "
                "JOIN trace_objects o ON o.id = m.member_id WHERE o.key = :k "
                "ORDER BY m.added_event_id"
            ),
            {"k": P2},
        ).all()
        last = conn.execute(text("SELECT MAX(id) FROM trace_events")).scalar()
    assert [r[1] for r in got] == [last - 2, last]
    assert got[1][0] == last - 1
    assert svc.verify(UnitOfWork(ledger), svc.Verify(deep=False, key_files=False)).ok
