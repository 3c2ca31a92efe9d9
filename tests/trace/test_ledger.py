"""The ledger on SQLite and PostgreSQL: capture, verify, tampering, visibility, query, show."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, text

from tests.trace.conftest import BAG, P1, P2, T0, flow_rows
from xborder.domain.clock import SettableClock
from xborder.domain.errors import InvalidValue
from xborder.services import trace as svc
from xborder.store.uow import UnitOfWork
from xborder.trace import chain as chains
from xborder.trace.epcis import capture_frame
from xborder.trace.exceptions import ExceptionKind
from xborder.trace.schema import problems
from xborder.trace.signing import KeyStore, key_id
from xborder.trace.visibility import NotVisible, Viewer


def _verify(engine: Engine, deep: bool = True) -> svc.VerifyReport:
    """The store alone (no comparison with the local key files)."""
    return svc.verify(UnitOfWork(engine), svc.Verify(deep=deep, key_files=False))


def _tamper(engine: Engine, change: Callable[[Connection], None]) -> None:
    with engine.begin() as conn:
        change(conn)


def test_clean_ledger_verifies(ledger: Engine) -> None:
    report = _verify(ledger)
    assert report.ok, [str(b) for b in report.breaks]
    assert report.events == len(flow_rows())
    assert report.batches == 5  # one signed batch per capturing party, one registry state


def _ids(conn: Connection, key: str) -> list[int]:
    return list(
        conn.execute(
            text(
                "SELECT e.id FROM trace_events e JOIN trace_objects o ON o.id = e.object_id "
                "WHERE o.key = :k ORDER BY e.seq"
            ),
            {"k": key},
        ).scalars()
    )


def _edit(conn: Connection) -> None:
    eid = _ids(conn, P1)[1]
    conn.execute(
        text("UPDATE trace_events SET document = replace(document, 'WH1', 'WH9') WHERE id = :i"),
        {"i": eid},
    )


def _edit_and_rechain(conn: Connection) -> None:
    """A careful forger also recomputes the object's chain after the edit."""
    ids = _ids(conn, P1)
    rows = conn.execute(
        text(
            "SELECT id, prev, hash, document FROM trace_events WHERE id IN :ids ORDER BY seq"
        ).bindparams(__import__("sqlalchemy").bindparam("ids", expanding=True)),
        {"ids": ids},
    ).all()
    prev = bytes(rows[0].prev)
    for row in rows:
        doc = row.document.replace("WH1", "WH9")
        link = chains.link(prev, bytes(row.hash), doc.encode())
        conn.execute(
            text("UPDATE trace_events SET prev = :p, chain = :c, document = :d WHERE id = :i"),
            {"p": prev, "c": link, "d": doc, "i": row.id},
        )
        prev = link


def _delete(conn: Connection) -> None:
    conn.execute(text("DELETE FROM trace_events WHERE id = :i"), {"i": _ids(conn, P1)[1]})


def _delete_last(conn: Connection) -> None:
    conn.execute(text("DELETE FROM trace_events WHERE id = :i"), {"i": _ids(conn, P1)[-1]})


def _swap(conn: Connection) -> None:
    a, b = _ids(conn, BAG)[:2]
    conn.execute(text("UPDATE trace_events SET seq = -seq WHERE id IN (:a, :b)"), {"a": a, "b": b})
    conn.execute(
        text(
            "UPDATE trace_events SET seq = CASE WHEN id = :a THEN 2 ELSE 1 END WHERE id IN (:a, :b)"
        ),
        {"a": a, "b": b},
    )


def _insert(conn: Connection) -> None:
    last = conn.execute(text("SELECT * FROM trace_events ORDER BY id DESC LIMIT 1")).one()
    row = dict(last._mapping)
    row.update(
        id=row["id"] + 1,
        seq=row["seq"] + 1,
        prev=row["chain"],
        chain=chains.link(bytes(row["chain"]), bytes(row["hash"]), row["document"].encode()),
    )
    cols = ", ".join(row)
    conn.execute(
        text(f"INSERT INTO trace_events ({cols}) VALUES ({', '.join(':' + c for c in row)})"), row
    )


def _forge(conn: Connection) -> None:
    b = conn.execute(text("SELECT * FROM trace_batches ORDER BY id LIMIT 1")).one()
    message = chains.row_message(b._mapping)
    forged = Ed25519PrivateKey.generate().sign(message)
    conn.execute(
        text("UPDATE trace_batches SET signature = :s WHERE id = :i"), {"s": forged, "i": b.id}
    )


@pytest.mark.parametrize(
    ("tamper", "expect"),
    [
        (_edit, "edited"),
        (_edit_and_rechain, "Merkle root"),
        (_delete, "chain broken"),
        (_delete_last, "deleted"),
        (_swap, "chain broken"),
        (_insert, "deleted or inserted"),
        (_forge, "signature"),
    ],
    ids=["edit", "edit+rechain", "delete", "delete-last", "swap", "insert", "forged-signature"],
)
def test_tampering_is_detected(
    ledger: Engine, tamper: Callable[[Connection], None], expect: str
) -> None:
    _tamper(ledger, tamper)
    for deep in (False, True):
        report = _verify(ledger, deep=deep)
        assert not report.ok
        assert any(expect in b.reason for b in report.breaks), [str(b) for b in report.breaks]


def test_capture_rejects_unregistered_parcels_and_stores_nothing(
    ledger: Engine, clock: SettableClock
) -> None:
    row = dict(flow_rows()[2], object_key="https://id.gs1.org/00/099999990000000017")
    with UnitOfWork(ledger, clock) as uow, pytest.raises(InvalidValue) as err:
        svc.capture(uow, capture_frame([flow_rows()[2], row]))
    assert err.value.field == "object_key"
    assert _verify(ledger).events == len(flow_rows())


def test_capture_continues_chains_across_batches(ledger: Engine, clock: SettableClock) -> None:
    more = [dict(flow_rows()[5], step="arrived", event_time=T0 + timedelta(hours=20))]
    with UnitOfWork(ledger, clock) as uow:
        svc.capture(uow, capture_frame(more))
        uow.commit()
    report = _verify(ledger)
    assert report.ok and report.events == len(flow_rows()) + 1 and report.batches == 6


def test_party_cannot_read_another_partys_parcel(ledger: Engine) -> None:
    shop_b = Viewer.party("shop-b")
    with UnitOfWork(ledger) as uow:
        with pytest.raises(NotVisible):
            svc.show(uow, svc.ShowParcel("XB0000001", viewer=shop_b))
        with pytest.raises(NotVisible):
            svc.export(uow, svc.ExportEvents(parcel="XB0000001", viewer=shop_b))
        assert svc.query(uow, svc.QueryEvents({"MATCH_epc": P1}, viewer=shop_b)) == []
        doc = svc.export(uow, svc.ExportEvents(viewer=shop_b))
        assert problems(doc) == []
        exported = doc["epcisBody"]["eventList"]
        bag = next(e for e in exported if e.get("parentID") == BAG)
        assert bag["childEPCs"] == [P2] and bag[svc.REDACTED] == 1
        keys = {e.get("parentID") or e["epcList"][0] for e in exported}
        assert P1 not in keys and P2 in keys  # own parcel and the bag that carried it
        own = svc.show(uow, svc.ShowParcel("XB0000001", viewer=Viewer.party("shop-a")))
        assert [c.status for c in own.points][:2] == ["Order placed", "Packed"]
        assert "Consolidated at hub" in [c.status for c in own.points]


def test_buyer_needs_tracking_number_and_postcode(ledger: Engine) -> None:
    with UnitOfWork(ledger) as uow:
        timeline = svc.show(uow, svc.ShowParcel("XB0000001", postcode="sw1a 1aa"))
        assert timeline.status == "Delivered" and timeline.public
        shown = timeline.as_dict()["checkpoints"]
        assert all(set(c) == {"time", "status", "place", "location"} for c in shown)
        assert all(c.party is None and c.event_id is None for c in timeline.points)
        with pytest.raises(NotVisible):
            svc.show(uow, svc.ShowParcel("XB0000001", postcode="10115"))
        with pytest.raises(NotVisible):
            buyer = Viewer.buyer("XB0000001", "SW1A1AA")
            svc.query(uow, svc.QueryEvents({"EQ_bizStep": "departing"}, viewer=buyer))


def test_query_parameters(ledger: Engine) -> None:
    with UnitOfWork(ledger) as uow:

        def q(params: dict[str, Any]) -> list[dict[str, Any]]:
            return svc.query(uow, svc.QueryEvents(params))

        assert len(q({"EQ_bizStep": "departing"})) == 1
        assert len(q({"EQ_bizStep": ["packing"]})) == 3
        assert len(q({"EQ_disposition": "container_closed"})) == 3
        assert len(q({"EQ_readPoint": "https://xborder.dev/loc/hub/CNSZX"})) == 2
        assert len(q({"MATCH_epc": P2})) == 3  # order, packed, bag ADD
        assert len(q({"MATCH_parentID": BAG})) == 1
        window = {"GE_eventTime": "2026-11-20T13:00:00Z", "LT_eventTime": "2026-11-21T00:00:00Z"}
        assert len(q(window)) == 2
        assert q({"EQ_bizLocation": "https://xborder.dev/loc/x"}) == []
        with pytest.raises(InvalidValue) as err:
            q({"EQ_whatever": "x"})
        assert err.value.field == "EQ_whatever"
        for bad, field in (
            ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
            ({"EQ_bizStep": "teleporting"}, "EQ_bizStep"),
            ({"MATCH_epc": "not a uri"}, "MATCH_epc"),
        ):
            with pytest.raises(InvalidValue) as err:
                q(bad)
            assert err.value.field == field


def test_exceptions_name_the_custodian(ledger: Engine) -> None:
    with UnitOfWork(ledger) as uow:
        late = svc.show(uow, svc.ShowParcel("XB0000002", now=T0 + timedelta(days=40)))
    kinds = {f.kind: f for f in late.exceptions}
    assert kinds[ExceptionKind.CUSTOMS_HOLD].custodian == "fwd"
    assert kinds[ExceptionKind.DELAY].custodian == "fwd"
    assert kinds[ExceptionKind.SUSPECTED_LOSS].custodian == "fwd"


def test_export_validates_and_reimports_with_same_ids(ledger: Engine, clock: SettableClock) -> None:
    with UnitOfWork(ledger, clock) as uow:
        doc = svc.export(uow, svc.ExportEvents())
        assert problems(doc) == []
        ids = [e["eventID"] for e in doc["epcisBody"]["eventList"]]
        again = svc.import_document(uow, svc.ImportDocument(doc, "auditor"))
        assert again.hash_ids == ids
        assert again.duplicates == len(ids) and again.stored == 0


def test_resigning_with_a_replaced_public_key_is_caught_by_the_key_files(
    ledger: Engine, keys_dir: Path
) -> None:
    """Someone with write access to the database but not to the key directory swaps fwd's
    public key and re-signs fwd's batches: the signatures verify, the key file does not match."""
    attacker = Ed25519PrivateKey.generate()
    public = attacker.public_key().public_bytes_raw()
    kid = key_id(public)
    with ledger.begin() as conn:
        conn.execute(
            text("UPDATE trace_party_keys SET public_key = :p, key_id = :k WHERE party_id = 'fwd'"),
            {"p": public, "k": kid},
        )
        for b in conn.execute(text("SELECT * FROM trace_batches WHERE party_id = 'fwd'")).all():
            message = chains.row_message(dict(b._mapping) | {"key_id": kid})
            conn.execute(
                text("UPDATE trace_batches SET signature = :s, key_id = :k WHERE id = :i"),
                {"s": attacker.sign(message), "k": kid, "i": b.id},
            )
    assert _verify(ledger).ok  # the database alone is consistent again
    report = svc.verify(UnitOfWork(ledger, keys=KeyStore(keys_dir)), svc.Verify())
    assert not report.ok
    assert "fwd's key file" in report.breaks[0].reason
