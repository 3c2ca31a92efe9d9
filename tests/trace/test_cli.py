"""``xborder trace`` end to end on an SQLite store chosen by XBORDER_DATABASE_URL.

The commands run under a root app holding only ``trace`` (as ``xborder.cli.main`` mounts it), so
these tests exercise this area's CLI whatever state the other command groups are in. The console
is 80 columns wide (tests/conftest.py pins COLUMNS): default views are asserted to fit it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.trace.conftest import NOW, add_names, fill
from tests.trace.test_event_hash_vectors import VECTORS
from tests.trace.test_import import EXAMPLES
from xborder.cli.trace import app as trace_app
from xborder.domain.clock import SettableClock
from xborder.store.engine import make_engine

app = typer.Typer()
app.add_typer(trace_app, name="trace")
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


@pytest.fixture
def flow_store(store: Path) -> Path:
    """The conftest flow (two parcels through one bag), with hub and party names."""
    engine = make_engine(f"sqlite:///{store}")
    fill(engine, SettableClock(NOW))
    add_names(engine)
    engine.dispose()
    return store


def _fits(output: str) -> list[str]:
    lines = output.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, output
    return lines


def test_show_default_view_fits_80_columns_with_names_not_uris(flow_store: Path) -> None:
    result = runner.invoke(app, ["trace", "show", "XB0000001"])
    assert result.exit_code == 0, result.output
    _fits(result.output)
    assert "https://" not in result.output and "ni:///" not in result.output
    assert "2026-11-20 13:00" in result.output  # consolidation at T0 + 5 h, UTC, to the minute
    assert "Shenzhen" in result.output and "Heathrow" in result.output  # hubs by name
    assert "Pearl River" in result.output and "Shop A Ltd" in result.output  # parties by name
    assert "warehouse WH1" in result.output  # an unnamed place, cut short
    verbose = runner.invoke(app, ["trace", "show", "XB0000001", "--verbose"])
    assert verbose.exit_code == 0, verbose.output
    assert "https://xborder.dev/loc/hub/CNSZX" in verbose.output
    assert "ni:///sha-256;" in verbose.output and "bizStep" in verbose.output
    as_json = json.loads(runner.invoke(app, ["trace", "show", "XB0000001", "--json"]).output)
    assert as_json["checkpoints"][0]["eventID"].startswith("ni:///sha-256;")
    assert any(c["location"] == "https://xborder.dev/loc/hub/CNSZX" for c in as_json["checkpoints"])


def test_buyer_view_with_postcode(flow_store: Path) -> None:
    result = runner.invoke(app, ["trace", "show", "XB0000001", "--postcode", "sw1a 1aa"])
    assert result.exit_code == 0, result.output
    _fits(result.output)
    assert "Delivered" in result.output and "Shenzhen consolidation hub" in result.output
    assert "customs hold" in result.output  # buyers learn something is wrong, not who
    assert "Pearl River" not in result.output and "https://" not in result.output
    as_json = runner.invoke(app, ["trace", "show", "XB0000002", "--postcode", "10115", "--json"])
    shown = json.loads(as_json.output)
    assert all("party" not in c and "eventID" not in c for c in shown["checkpoints"])
    wrong = runner.invoke(app, ["trace", "show", "XB0000001", "--postcode", "10115"])
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
    assert "no parcel 'XB0000001' visible to you" in wrong.output


def test_query_and_verify_default_views_fit_80_columns(flow_store: Path) -> None:
    found = runner.invoke(app, ["trace", "query", "--EQ_bizStep", "packing"])
    assert found.exit_code == 0, found.output
    _fits(found.output)
    assert "3 events" in found.output and "https://" not in found.output
    assert "SSCC 012345670000000031" in found.output  # the bag, by its SSCC
    verbose = runner.invoke(app, ["trace", "query", "--EQ_bizStep", "packing", "--verbose"])
    assert "https://" in verbose.output
    ok = runner.invoke(app, ["trace", "verify"])
    assert ok.exit_code == 0, ok.output
    _fits(ok.output)
