"""``xborder trace`` end to end on an SQLite store chosen by XBORDER_DATABASE_URL."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.trace.test_event_hash_vectors import VECTORS
from tests.trace.test_import import EXAMPLES
from xborder.cli.main import app

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.setenv("XBORDER_DATABASE_URL", f"sqlite:///{path}")
    return path


def test_hash_prints_ids_and_prehashes() -> None:
    doc = VECTORS / "documents" / "ReferenceEventHashAlgorithm3.jsonld"
    for cbv in ("2.0", "2.1"):
        result = runner.invoke(app, ["trace", "hash", str(doc), "--cbv", cbv, "--prehash"])
        assert result.exit_code == 0, result.output
        expected = VECTORS / "expected" / f"CBV{cbv}" / "ReferenceEventHashAlgorithm3"
        lines = result.output.splitlines()
        assert lines[0] == expected.with_suffix(".hashes").read_text().strip()
        assert lines[1] == expected.with_suffix(".prehashes").read_text().strip()
    bad = runner.invoke(app, ["trace", "hash", str(doc), "--cbv", "3.0"])
    assert bad.exit_code == 2 and "--cbv" in bad.output


def test_import_verify_export_query_and_tamper(store: Path, tmp_path: Path) -> None:
    for name in ("Example_9.6.1-ObjectEvent.jsonld", "Example_9.6.3-AggregationEvent.jsonld"):
        result = runner.invoke(app, ["trace", "import", str(EXAMPLES / name), "--json"])
        assert result.exit_code == 0, result.output
    ok = runner.invoke(app, ["trace", "verify", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["events"] == 3
    out = tmp_path / "out.jsonld"
    assert runner.invoke(app, ["trace", "export", "-o", str(out)]).exit_code == 0
    again = runner.invoke(app, ["trace", "import", str(out), "--json"])
    assert json.loads(again.output)["already_stored"] == 3
    found = runner.invoke(app, ["trace", "query", "--EQ_bizStep", "shipping", "--json"])
    assert found.exit_code == 0 and len(json.loads(found.output)) == 1
    with sqlite3.connect(store) as conn:
        conn.execute(
            "UPDATE trace_events SET document = replace(document, 'shipping', "
            "'receiving') WHERE id = 1"
        )
    broken = runner.invoke(app, ["trace", "verify", "--json"])
    assert broken.exit_code == 1
    first = json.loads(broken.output)["first_break"]
    assert first["event_id"] == 1 and "edited" in first["reason"]


def test_invalid_document_is_rejected_with_path(store: Path, tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / "Example_9.6.1-ObjectEvent.jsonld").read_text())
    doc["epcisBody"]["eventList"][0]["eventTime"] = "yesterday"
    bad = tmp_path / "bad.jsonld"
    bad.write_text(json.dumps(doc))
    result = runner.invoke(app, ["trace", "import", str(bad)])
    assert result.exit_code == 2
    assert "$.epcisBody.eventList[0].eventTime" in result.output.replace("\n", "")
    assert json.loads(runner.invoke(app, ["trace", "verify", "--json"]).output)["events"] == 0


def test_show_for_an_unknown_parcel_fails_cleanly(store: Path) -> None:
    result = runner.invoke(app, ["trace", "show", "XB404", "--postcode", "10115"])
    assert result.exit_code == 2 and "Traceback" not in result.output
