"""The tamper matrix: one SQL UPDATE per column, and a DELETE per table, of every ledger table
(``trace_events``, ``trace_objects``, ``trace_memberships``, ``trace_batches``), on SQLite and
PostgreSQL; ``trace verify`` (fast and deep) must report each one.

The matrix is built from the tables' own column lists, so a column added later without a tamper
case fails ``test_every_column_has_a_case``. Deleting the newest batches is the one change the
store alone cannot show: the matrix checks it against a checkpoint taken before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from tests.trace.conftest import BAG, EPCIS_EXAMPLES, P1, P2, T0, fill
from xborder.domain.clock import SettableClock
from xborder.services import trace as svc
from xborder.store.schema_trace import trace_batches, trace_events, trace_memberships, trace_objects
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame
from xborder.trace.signing import KeyStore

HUB = "https://xborder.dev/loc/hub/GBLHR"
P3 = "https://id.gs1.org/00/012345670000000048"  # registered, no events yet
Change = Callable[[Connection, dict[str, Any]], None]


def _one(conn: Connection, sql: str, **params: Any) -> dict[str, Any]:
    return dict(conn.execute(text(sql), params).one()._mapping)


def _scalar(conn: Connection, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params).scalar()


def _targets(conn: Connection) -> dict[str, Any]:
    """The rows the cases change: P1's delivery, P1's registry row, P2's (closed) membership,
    the forwarder's first batch."""
    oid = {
        k: _scalar(conn, "SELECT id FROM trace_objects WHERE key = :k", k=k)
        for k in (P1, P2, P3, BAG)
    }
    delivered = _one(
        conn,
        "SELECT * FROM trace_events WHERE object_id = :o ORDER BY seq DESC LIMIT 1",
        o=oid[P1],
    )
    return {
        "oid": oid,
        "event": delivered,
        "membership": _one(
            conn,
            "SELECT * FROM trace_memberships WHERE member_id = :m",
            m=oid[P2],
        ),
        "batch": _one(
            conn, "SELECT * FROM trace_batches WHERE party_id = 'fwd' ORDER BY id LIMIT 1"
        ),
        "max_event": _scalar(conn, "SELECT max(id) FROM trace_events"),
        "max_batch": _scalar(conn, "SELECT max(id) FROM trace_batches"),
    }


def _update(table: str, column: str, value: Callable[[dict[str, Any]], Any]) -> Change:
    key = {"trace_events": "event", "trace_batches": "batch"}.get(table)

    def change(conn: Connection, t: dict[str, Any]) -> None:
        if table == "trace_objects":
            where, params = "id = :id", {"id": t["oid"][P1]}
        elif table == "trace_memberships":
            m = t["membership"]
            where = "container_id = :c AND member_id = :m AND added_event_id = :a"
            params = {"c": m["container_id"], "m": m["member_id"], "a": m["added_event_id"]}
        else:
            where, params = "id = :id", {"id": t[key or ""]["id"]}
        conn.execute(
            text(f"UPDATE {table} SET {column} = :v WHERE {where}"), params | {"v": value(t)}
        )

    return change


def _move_object_id(conn: Connection, t: dict[str, Any]) -> None:
    """Renumber P1 (its participant rows follow, as the foreign key demands)."""
    old, new = t["oid"][P1], 9_999
    parts = (
        conn.execute(
            text("SELECT party_id FROM trace_participants WHERE object_id = :o"), {"o": old}
        )
        .scalars()
        .all()
    )
    conn.execute(text("DELETE FROM trace_participants WHERE object_id = :o"), {"o": old})
    conn.execute(text("UPDATE trace_objects SET id = :n WHERE id = :o"), {"n": new, "o": old})
    conn.execute(
        text("UPDATE trace_events SET object_id = :n WHERE object_id = :o"), {"n": new, "o": old}
    )
    for p in parts:
        conn.execute(text("INSERT INTO trace_participants VALUES (:o, :p)"), {"o": new, "p": p})


def _delete_object(conn: Connection, t: dict[str, Any]) -> None:
    oid = t["oid"][P1]
    conn.execute(text("DELETE FROM trace_participants WHERE object_id = :o"), {"o": oid})
    conn.execute(text("DELETE FROM trace_objects WHERE id = :o"), {"o": oid})


def _delete(table: str) -> Change:
    def change(conn: Connection, t: dict[str, Any]) -> None:
        if table == "trace_memberships":
            m = t["membership"]
            conn.execute(
                text("DELETE FROM trace_memberships WHERE member_id = :m"), {"m": m["member_id"]}
            )
        elif table == "trace_events":
            conn.execute(text("DELETE FROM trace_events WHERE id = :i"), {"i": t["event"]["id"]})
        else:
            conn.execute(text("DELETE FROM trace_batches WHERE id = :i"), {"i": t["batch"]["id"]})

    return change


def _insert_membership(conn: Connection, t: dict[str, Any]) -> None:
    conn.execute(
        text("INSERT INTO trace_memberships VALUES (:c, :m, :a, NULL)"),
        {"c": t["oid"][BAG], "m": t["oid"][P1], "a": t["event"]["id"]},
    )


def _drop_newest_batch(conn: Connection, t: dict[str, Any]) -> None:
    """Truncate the ledger: the newest batch and its events (nothing in the store shows it)."""
    newest = _one(conn, "SELECT * FROM trace_batches ORDER BY id DESC LIMIT 1")
    conn.execute(text("DELETE FROM trace_events WHERE batch_id = :b"), {"b": newest["id"]})
    conn.execute(text("DELETE FROM trace_batches WHERE id = :b"), {"b": newest["id"]})


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


@dataclass(frozen=True)
class Case:
    table: str
    column: str  # "(delete row)" etc. for row-level changes
    change: Change
    expect: str  # a word the break must contain (column name or reason)
    needs_checkpoint: bool = False


E, OB, M, B = "trace_events", "trace_objects", "trace_memberships", "trace_batches"
CASES = [
    Case(E, "id", _update(E, "id", lambda t: t["max_event"] + 50), "batch"),
    Case(E, "object_id", _update(E, "object_id", lambda t: t["oid"][P3]), "object_id"),
    Case(E, "seq", _update(E, "seq", lambda t: t["event"]["seq"] + 5), "chain broken"),
    Case(E, "batch_id", _update(E, "batch_id", lambda t: t["batch"]["id"]), "batch"),
    Case(E, "party_id", _update(E, "party_id", lambda t: "fwd"), "party_id"),
    Case(E, "event_type", _update(E, "event_type", lambda t: "TransactionEvent"), "event_type"),
    Case(E, "action", _update(E, "action", lambda t: "ADD"), "action"),
    Case(
        E,
        "biz_step",
        _update(E, "biz_step", lambda t: "https://xborder.dev/voc/BizStep-loss_declared"),
        "biz_step",
    ),
    Case(
        E,
        "disposition",
        _update(E, "disposition", lambda t: "https://xborder.dev/voc/Disp-lost"),
        "disposition",
    ),
    Case(E, "read_point", _update(E, "read_point", lambda t: HUB), "read_point"),
    Case(E, "biz_location", _update(E, "biz_location", lambda t: HUB), "biz_location"),
    Case(
        E,
        "event_time_ms",
        _update(E, "event_time_ms", lambda t: t["event"]["event_time_ms"] - 86_400_000),
        "event_time_ms",
    ),
    Case(E, "hash", _update(E, "hash", lambda t: _digest("other")), "Event Hash ID"),
    Case(E, "prev", _update(E, "prev", lambda t: _digest("prev")), "chain broken"),
    Case(E, "chain", _update(E, "chain", lambda t: _digest("chain")), "edited"),
    Case(
        E,
        "document",
        _update(E, "document", lambda t: t["event"]["document"].replace("+00:00", "+01:00")),
        "edited",
    ),
    Case(E, "(delete row)", _delete(E), "deleted"),
    Case(OB, "id", _move_object_id, "trace_objects"),
    Case(
        OB,
        "key",
        _update(OB, "key", lambda t: "https://id.gs1.org/00/012345670000000055"),
        "trace_objects",
    ),
    Case(OB, "kind", _update(OB, "kind", lambda t: "bag"), "trace_objects"),
    Case(OB, "tracking_no", _update(OB, "tracking_no", lambda t: "XB9999999"), "trace_objects"),
    Case(OB, "sscc", _update(OB, "sscc", lambda t: "012345670000000048"), "trace_objects"),
    Case(
        OB,
        "destination_postcode",
        _update(OB, "destination_postcode", lambda t: "EV1 1IL"),
        "trace_objects",
    ),
    Case(OB, "order_id", _update(OB, "order_id", lambda t: 42), "trace_objects"),
    Case(OB, "lane", _update(OB, "lane", lambda t: "CN-GB-AIR"), "trace_objects"),
    Case(OB, "created_ms", _update(OB, "created_ms", lambda t: 1), "trace_objects"),
    Case(OB, "(delete row)", _delete_object, "trace_objects"),
    Case(M, "container_id", _update(M, "container_id", lambda t: t["oid"][P1]), "membership"),
    Case(M, "member_id", _update(M, "member_id", lambda t: t["oid"][P3]), "membership"),
    Case(
        M, "added_event_id", _update(M, "added_event_id", lambda t: t["event"]["id"]), "membership"
    ),
    Case(M, "removed_event_id", _update(M, "removed_event_id", lambda t: None), "membership"),
    Case(M, "(delete row)", _delete(M), "membership"),
    Case(M, "(insert row)", _insert_membership, "membership"),
    Case(B, "id", _update(B, "id", lambda t: t["max_batch"] + 10), "batch"),
    Case(B, "party_id", _update(B, "party_id", lambda t: "lastmile"), "batch"),
    Case(B, "key_id", _update(B, "key_id", lambda t: "deadbeefdeadbeef"), "signature"),
    Case(
        B,
        "event_count",
        _update(B, "event_count", lambda t: t["batch"]["event_count"] + 1),
        "batch",
    ),
    Case(
        B,
        "first_event_id",
        _update(B, "first_event_id", lambda t: t["batch"]["first_event_id"] + 1),
        "batch",
    ),
    Case(
        B,
        "last_event_id",
        _update(B, "last_event_id", lambda t: t["batch"]["last_event_id"] - 1),
        "batch",
    ),
    Case(B, "prev_root", _update(B, "prev_root", lambda t: _digest("p")), "batch"),
    Case(B, "root", _update(B, "root", lambda t: _digest("r")), "batch"),
    Case(B, "signature", _update(B, "signature", lambda t: _digest("s") * 2), "signature"),
    Case(B, "created_ms", _update(B, "created_ms", lambda t: 1), "signature"),
    Case(B, "source", _update(B, "source", lambda t: "import:forged.json"), "signature"),
    Case(B, "(delete row)", _delete(B), "batch"),
    Case(B, "(delete newest)", _drop_newest_batch, "checkpoint", needs_checkpoint=True),
]
TABLES = {E: trace_events, OB: trace_objects, M: trace_memberships, B: trace_batches}


def test_every_column_has_a_case() -> None:
    for name, table in TABLES.items():
        covered = {c.column for c in CASES if c.table == name}
        assert {c.name for c in table.columns} <= covered, name
    print(f"tamper matrix: {len(CASES)} cases x 2 stores x (fast, deep)")


@pytest.fixture
def full_ledger(engine: Engine, clock: SettableClock) -> Engine:
    """The flow, plus P2 taken out of the bag and then lost, plus an imported document."""
    fill(engine, clock)
    more = [
        dict(object_key=BAG, step="deconsolidated", event_time=T0 + timedelta(hours=40),
             tz_offset="+00:00", party_id="fwd", read_point=HUB, children=[P2]),
        dict(object_key=P2, step="lost", event_time=T0 + timedelta(hours=50),
             tz_offset="+00:00", party_id="fwd"),
    ]  # fmt: skip
    with UnitOfWork(engine, clock) as uow:
        svc.register_objects(uow, [svc.ObjectSpec(P3, sscc=P3[-18:], participants=("shop-a",))])
        svc.capture(uow, capture_frame(more))
        raw = (EPCIS_EXAMPLES / "Example_9.6.1-ObjectEvent.jsonld").read_bytes()
        svc.import_document(uow, svc.ImportDocument(raw, "auditor"))
        uow.commit()
    return engine


def _verify(engine: Engine, deep: bool, head: svc.SignedTreeHead | None = None) -> svc.VerifyReport:
    command = svc.Verify(deep=deep, key_files=head is not None, checkpoint=head)
    return svc.verify(UnitOfWork(engine), command)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.table}.{c.column}" for c in CASES])
def test_tamper_is_reported(full_ledger: Engine, keys_dir: Path, case: Case) -> None:
    for deep in (False, True):
        assert _verify(full_ledger, deep).ok, "the untouched ledger verifies"
    head = svc.checkpoint(UnitOfWork(full_ledger), svc.MakeCheckpoint())
    with full_ledger.begin() as conn:
        case.change(conn, _targets(conn))
    for deep in (False, True):
        report = _verify(full_ledger, deep, head if case.needs_checkpoint else None)
        said = [b.describe() for b in report.breaks]
        assert not report.ok, f"{case.table}.{case.column} unnoticed (deep={deep})"
        assert any(case.expect in s for s in said), said
    if case.needs_checkpoint:  # the store alone cannot show it; the checkpoint does
        assert _verify(full_ledger, False).ok
        assert KeyStore(keys_dir).has("platform")


def test_a_loss_moved_to_another_carrier_is_reported_with_event_and_column(
    full_ledger: Engine,
) -> None:
    """One UPDATE moves the custody before P2's loss (and with it the compensation) from the
    forwarder to the last-mile carrier; verify names the event and the column."""
    with UnitOfWork(full_ledger) as uow:
        before = svc.show(uow, svc.ShowParcel("XB0000002"))
    loss = next(f for f in before.exceptions if f.kind == svc.ExceptionKind.LOSS)
    assert loss.custodian == "fwd"
    with full_ledger.begin() as conn:
        moved = (
            conn.execute(
                text(
                    "SELECT e.id FROM trace_events e JOIN trace_objects o ON o.id = e.object_id "
                    "WHERE o.key = :k AND e.party_id = 'fwd' ORDER BY e.id"
                ),
                {"k": BAG},
            )
            .scalars()
            .all()
        )
        conn.execute(
            text("UPDATE trace_events SET party_id = 'lastmile' WHERE id IN :ids").bindparams(
                __import__("sqlalchemy").bindparam("ids", expanding=True)
            ),
            {"ids": list(moved)},
        )
    with UnitOfWork(full_ledger) as uow:
        after = svc.show(uow, svc.ShowParcel("XB0000002"))
    assert next(f for f in after.exceptions if f.kind == svc.ExceptionKind.LOSS).custodian == (
        "lastmile"
    )
    for deep in (False, True):
        report = _verify(full_ledger, deep)
        hits = {(b.event_id, b.column) for b in report.breaks}
        assert {(i, "party_id") for i in moved} <= hits, [str(b) for b in report.breaks]


def test_an_imported_events_columns_are_recomputed_too(full_ledger: Engine) -> None:
    """Imported documents take the exact (Python) path: an edit there is reported as well."""
    with full_ledger.begin() as conn:
        eid = conn.execute(
            text("SELECT id FROM trace_events WHERE party_id = 'auditor' ORDER BY id LIMIT 1")
        ).scalar()
        conn.execute(
            text("UPDATE trace_events SET biz_step = :s WHERE id = :i"),
            {"s": "https://ref.gs1.org/cbv/BizStep-destroying", "i": eid},
        )
    for deep in (False, True):
        report = _verify(full_ledger, deep)
        assert (eid, "biz_step") in {(b.event_id, b.column) for b in report.breaks}


def test_bagging_and_unbagging_in_one_capture_replays_as_stored(
    full_ledger: Engine, clock: SettableClock
) -> None:
    """Capture applies a frame's ADD and DELETE in ledger order, as verify replays them."""
    bag2 = "https://id.gs1.org/00/012345670000000062"
    rows = [
        dict(object_key=bag2, step="consolidated", event_time=T0 + timedelta(hours=61),
             tz_offset="+00:00", party_id="fwd", read_point=HUB, children=[P3]),
        dict(object_key=bag2, step="deconsolidated", event_time=T0 + timedelta(hours=62),
             tz_offset="+00:00", party_id="fwd", read_point=HUB, children=[P3]),
    ]  # fmt: skip
    with UnitOfWork(full_ledger, clock) as uow:
        svc.register_objects(uow, [svc.ObjectSpec(bag2, kind="bag", participants=("fwd",))])
        svc.capture(uow, capture_frame(rows))
        uow.commit()
    with full_ledger.connect() as conn:
        closed = conn.execute(
            text(
                "SELECT removed_event_id FROM trace_memberships WHERE added_event_id = "
                "(SELECT max(added_event_id) FROM trace_memberships)"
            )
        ).scalar()
    assert closed is not None
    for deep in (False, True):
        assert _verify(full_ledger, deep).ok
