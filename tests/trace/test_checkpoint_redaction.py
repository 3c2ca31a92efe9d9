"""Signed checkpoints (truncation and rewritten history) and redacted exports (issue 10)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from tests.trace.conftest import BAG, NOW, P1, P2, T0, flow_rows
from xborder.cli.main import app
from xborder.domain.clock import SettableClock
from xborder.domain.errors import InvalidValue
from xborder.services import trace as svc
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame
from xborder.trace.event_hash import hash_event, namespaces_of
from xborder.trace.schema import problems
from xborder.trace.visibility import Viewer


def _head(engine: Engine, clock: SettableClock) -> svc.SignedTreeHead:
    return svc.checkpoint(UnitOfWork(engine, clock), svc.MakeCheckpoint())


def _verify(engine: Engine, head: svc.SignedTreeHead | None) -> svc.VerifyReport:
    return svc.verify(UnitOfWork(engine), svc.Verify(deep=False, checkpoint=head))


def test_checkpoint_is_signed_at_the_clocks_now_and_round_trips(
    ledger: Engine, clock: SettableClock
) -> None:
    head = _head(ledger, clock)
    with ledger.connect() as conn:
        assert head.tree_size == conn.execute(text("SELECT count(*) FROM trace_batches")).scalar()
    assert head.timestamp_ms == int(NOW.timestamp() * 1000)
    again = svc.parse_checkpoint(head.to_json())
    assert again == head
    assert head.as_dict()["timestamp"] == "2026-11-23T08:00:00.000Z"
    assert _verify(ledger, head).ok


def test_the_ledger_growing_still_extends_an_old_checkpoint(
    ledger: Engine, clock: SettableClock
) -> None:
    head = _head(ledger, clock)
    more = [dict(flow_rows()[5], step="arrived", event_time=T0 + timedelta(hours=20))]
    with UnitOfWork(ledger, clock) as uow:
        svc.capture(uow, capture_frame(more))
        uow.commit()
    assert _verify(ledger, head).ok


def test_deleting_the_newest_batches_is_caught_only_with_a_checkpoint(
    ledger: Engine, clock: SettableClock
) -> None:
    head = _head(ledger, clock)
    with ledger.begin() as conn:
        newest = conn.execute(text("SELECT max(id) FROM trace_batches")).scalar()
        conn.execute(text("DELETE FROM trace_events WHERE batch_id = :b"), {"b": newest})
        conn.execute(text("DELETE FROM trace_batches WHERE id = :b"), {"b": newest})
    assert _verify(ledger, None).ok  # the store alone is consistent
    report = _verify(ledger, head)
    assert not report.ok
    assert "batches were deleted" in report.breaks[0].reason


def test_rewritten_history_and_a_forged_checkpoint_are_caught(
    ledger: Engine, clock: SettableClock
) -> None:
    head = _head(ledger, clock)
    forged = svc.SignedTreeHead(
        head.tree_size, bytes(32), head.timestamp_ms, head.party_id, head.key_id, head.signature
    )
    report = _verify(ledger, forged)
    reasons = [b.reason for b in report.breaks]
    assert any("signature does not verify" in r for r in reasons), reasons
    assert any("history was rewritten" in r for r in reasons), reasons


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("not json", "$"),
        ('{"format": "xborder-trace-sth-v1"}', "tree_size"),
        ("[" * 5000 + "]" * 5000, "$"),
        (
            '{"format": "xborder-trace-sth-v1", "tree_size": 1, "timestamp_ms": 1, '
            '"root_hash": "zz", "party": "platform", "key_id": "ab", "signature": ""}',
            "root_hash",
        ),
    ],
)
def test_a_bad_checkpoint_file_is_refused_naming_the_field(content: str, field: str) -> None:
    with pytest.raises(InvalidValue) as err:
        svc.parse_checkpoint(content)
    assert err.value.field == field


def test_cli_checkpoint_then_verify(
    ledger: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBORDER_DATABASE_URL", store_url)
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()
    out = tmp_path / "head.json"
    done = runner.invoke(app, ["trace", "checkpoint", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text())["tree_size"] == 5
    ok = runner.invoke(app, ["trace", "verify", "--checkpoint", str(out)])
    assert ok.exit_code == 0, ok.output
    with ledger.begin() as conn:
        newest = conn.execute(text("SELECT max(id) FROM trace_batches")).scalar()
        conn.execute(text("DELETE FROM trace_events WHERE batch_id = :b"), {"b": newest})
        conn.execute(text("DELETE FROM trace_batches WHERE id = :b"), {"b": newest})
    assert runner.invoke(app, ["trace", "verify"]).exit_code == 0
    caught = runner.invoke(app, ["trace", "verify", "--checkpoint", str(out), "--json"])
    assert caught.exit_code == 1
    assert "batches were deleted" in json.loads(caught.stdout)["first_break"]["reason"]
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\x00\xff")
    refused = runner.invoke(app, ["trace", "verify", "--checkpoint", str(bad)])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "bad.json" in refused.output


# ---- redacted export -----------------------------------------------------------------------------


def test_a_redacted_event_has_its_own_hash_id_and_names_the_original(ledger: Engine) -> None:
    with UnitOfWork(ledger) as uow:
        doc = svc.export(uow, svc.ExportEvents(viewer=Viewer.party("shop-b")))
        full = svc.export(uow, svc.ExportEvents())
    assert problems(doc) == []
    bag = next(e for e in doc["epcisBody"]["eventList"] if e.get("parentID") == BAG)
    original = next(e for e in full["epcisBody"]["eventList"] if e.get("parentID") == BAG)
    assert bag["childEPCs"] == [P2] and bag[svc.REDACTED] == 1
    assert bag[svc.REDACTED_FROM] == original["eventID"]
    assert bag["eventID"] != original["eventID"]
    assert bag["eventID"] == hash_event(bag, namespaces_of(bag))  # the hash of what is exported
    assert P1 not in json.dumps(doc)


def test_reimporting_a_redacted_export_adds_nothing(ledger: Engine, clock: SettableClock) -> None:
    with UnitOfWork(ledger, clock) as uow:
        doc = svc.export(uow, svc.ExportEvents(viewer=Viewer.party("shop-b")))
        before = svc.verify(uow, svc.Verify(deep=False, key_files=False)).events
        report = svc.import_document(uow, svc.ImportDocument(doc, "shop-b"))
        after = svc.verify(uow, svc.Verify(deep=False, key_files=False))
    assert report.stored == 0 and report.duplicates == report.events > 0
    assert after.events == before and after.ok


def test_a_redacted_event_in_another_store_is_stored_under_its_own_id(
    ledger: Engine, sqlite_template: Path, tmp_path: Path, clock: SettableClock
) -> None:
    with UnitOfWork(ledger, clock) as uow:
        doc = svc.export(uow, svc.ExportEvents(viewer=Viewer.party("shop-b")))
    bag = next(e for e in doc["epcisBody"]["eventList"] if e.get("parentID") == BAG)
    other = tmp_path / "other.db"
    shutil.copy(sqlite_template, other)
    elsewhere = make_engine(f"sqlite:///{other}")
    with UnitOfWork(elsewhere, clock) as uow:
        report = svc.import_document(uow, svc.ImportDocument(doc, "auditor"))
    elsewhere.dispose()
    assert bag["eventID"] in report.hash_ids
    assert report.stored == report.events
