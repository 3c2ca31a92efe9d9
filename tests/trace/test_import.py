"""Importing EPCIS documents: the official examples, re-import identity, rejection of bad ones."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.trace.test_event_hash_vectors import EPCIS_DATA
from xborder.domain.clock import SettableClock
from xborder.domain.errors import InvalidValue
from xborder.services import trace as svc
from xborder.store.uow import UnitOfWork
from xborder.trace.event_hash import hash_document
from xborder.trace.visibility import Viewer

EXAMPLES = EPCIS_DATA / "examples"


def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.jsonld"))


def test_examples_present() -> None:
    assert len(_examples()) == 20, f"missing {EXAMPLES}"


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.stem)
def test_official_example_imports(sqlite_engine: Engine, path: Path) -> None:
    doc = json.loads(path.read_text("utf-8"))
    with UnitOfWork(sqlite_engine) as uow:
        report = svc.import_document(
            uow, svc.ImportDocument(path.read_text("utf-8"), "importer", source=path.name)
        )
        uow.commit()
    expected = [h for h, _ in hash_document(doc)]
    assert report.hash_ids == expected
    assert report.stored + report.duplicates == report.events == len(expected)
    with UnitOfWork(sqlite_engine) as uow:
        assert svc.verify(uow, svc.Verify()).ok
        exported = svc.export(uow, svc.ExportEvents())
    again = [h for h, _ in hash_document(exported)]
    assert sorted(set(again)) == sorted(set(expected))


def test_all_examples_into_one_store_then_export_reimports_elsewhere(
    engine: Engine, tmp_path: Path, sqlite_template: Path
) -> None:
    ids: set[str] = set()
    with UnitOfWork(engine) as uow:
        for path in _examples():
            ids.update(
                svc.import_document(
                    uow, svc.ImportDocument(path.read_text("utf-8"), "importer")
                ).hash_ids
            )
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert svc.verify(uow, svc.Verify()).ok
        doc = svc.export(uow, svc.ExportEvents())
    import shutil

    from xborder.store.engine import make_engine

    fresh_path = tmp_path / "fresh.db"
    shutil.copy(sqlite_template, fresh_path)
    fresh = make_engine(f"sqlite:///{fresh_path}")
    with UnitOfWork(fresh) as uow:
        report = svc.import_document(uow, svc.ImportDocument(json.dumps(doc), "auditor"))
        uow.commit()
    fresh.dispose()
    assert set(report.hash_ids) == ids and report.stored == len(ids)


def _valid() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / "Example_9.6.1-ObjectEvent.jsonld").read_text())
    return doc


def _break(doc: dict[str, Any], how: str) -> dict[str, Any]:
    bad = copy.deepcopy(doc)
    event = bad["epcisBody"]["eventList"][1]
    if how == "time":
        event["eventTime"] = "yesterday"
    elif how == "epc":
        event["epcList"] = ["not a uri"]
    elif how == "bizstep":
        event["bizStep"] = "teleporting"
    elif how == "field":
        event["colour"] = "red"
    elif how == "aggregation-parent":
        event.update(type="AggregationEvent", action="ADD", childEPCs=event.pop("epcList"))
    return bad


@pytest.mark.parametrize(
    ("how", "path"),
    [
        ("time", "$.epcisBody.eventList[1].eventTime"),
        ("epc", "$.epcisBody.eventList[1].epcList[0]"),
        ("bizstep", "$.epcisBody.eventList[1].bizStep"),
        ("field", "$.epcisBody.eventList[1]"),
        ("aggregation-parent", "$.epcisBody.eventList[1].parentID"),
    ],
)
def test_invalid_document_rejected_with_path_and_nothing_stored(
    engine: Engine, how: str, path: str
) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(InvalidValue) as err:
        svc.import_document(uow, svc.ImportDocument(json.dumps(_break(_valid(), how)), "importer"))
    assert err.value.field.startswith(path), err.value
    assert err.value.reason
    with UnitOfWork(engine) as uow:
        assert svc.verify(uow, svc.Verify()).events == 0


def test_not_json_is_rejected(sqlite_engine: Engine) -> None:
    with UnitOfWork(sqlite_engine) as uow, pytest.raises(InvalidValue) as err:
        svc.import_document(uow, svc.ImportDocument("{nope", "importer"))
    assert err.value.field == "$" and "not JSON" in err.value.reason


def test_import_needs_a_valid_party(sqlite_engine: Engine) -> None:
    with UnitOfWork(sqlite_engine) as uow, pytest.raises(InvalidValue) as err:
        svc.import_document(uow, svc.ImportDocument(json.dumps(_valid()), "../keys"))
    assert err.value.field == "party"


def test_import_does_not_make_the_importer_a_participant_of_known_parcels(
    sqlite_engine: Engine,
) -> None:
    with UnitOfWork(sqlite_engine) as uow:
        svc.import_document(uow, svc.ImportDocument(json.dumps(_valid()), "owner"))
        uow.commit()
    with UnitOfWork(sqlite_engine) as uow:
        again = svc.import_document(uow, svc.ImportDocument(json.dumps(_valid()), "snoop"))
        uow.commit()
    assert again.stored == 0
    with UnitOfWork(sqlite_engine) as uow:
        assert (
            svc.query(
                uow, svc.QueryEvents({"EQ_bizStep": "shipping"}, viewer=Viewer.party("snoop"))
            )
            == []
        )
        assert (
            len(
                svc.query(
                    uow, svc.QueryEvents({"EQ_bizStep": "shipping"}, viewer=Viewer.party("owner"))
                )
            )
            == 1
        )


def test_event_dated_after_the_clock_is_refused_and_nothing_stored(sqlite_engine: Engine) -> None:
    """Nothing stored is dated after the clock's now, imported events included."""
    doc = _valid()
    first = datetime.fromisoformat(doc["epcisBody"]["eventList"][0]["eventTime"])
    second = datetime.fromisoformat(doc["epcisBody"]["eventList"][1]["eventTime"])
    assert first < second
    clock = SettableClock(first + (second - first) / 2)  # between the two events
    with UnitOfWork(sqlite_engine, clock) as uow, pytest.raises(InvalidValue) as err:
        svc.import_document(uow, svc.ImportDocument(json.dumps(doc), "importer"))
    assert err.value.field == "$.epcisBody.eventList[1].eventTime"
    assert "after the clock's now" in err.value.reason
    assert svc.verify(UnitOfWork(sqlite_engine), svc.Verify()).events == 0
    clock.set(second)  # an event dated exactly now is fine
    report = svc.import_document(UnitOfWork(sqlite_engine, clock), svc.ImportDocument(doc, "x"))
    assert report.stored == 2
