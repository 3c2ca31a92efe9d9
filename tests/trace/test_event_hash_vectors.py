"""Every CBV 2.0 / 2.1 Event Hash ID vector of the reference implementation, pre-hash included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xborder.trace.event_hash import CbvVersion, hash_document

# Vendored copies (tests/data/epcis/README.md says where they come from), so the suite runs on any
# clone, with nothing beside it.
EPCIS_DATA = Path(__file__).resolve().parents[1] / "data" / "epcis"
VECTORS = EPCIS_DATA / "event-hash-vectors"


def _cases() -> list[tuple[str, CbvVersion]]:
    docs = sorted((VECTORS / "documents").glob("*.jsonld"))
    return [(d.stem, v) for d in docs for v in ("2.0", "2.1")]


def test_vector_directory_is_present() -> None:
    # fail loudly (not skip) when the vendored vectors are missing
    assert (VECTORS / "documents").is_dir(), f"missing {VECTORS}"
    assert len(_cases()) == 28


@pytest.mark.parametrize(("name", "version"), _cases() or [("missing", "2.0")])
def test_reproduces_vector(name: str, version: CbvVersion) -> None:
    doc = json.loads((VECTORS / "documents" / f"{name}.jsonld").read_text("utf-8"))
    expected = VECTORS / "expected" / f"CBV{version}"
    hashes = (expected / f"{name}.hashes").read_text("utf-8").split()
    prehashes = (expected / f"{name}.prehashes").read_text("utf-8").splitlines()
    got = hash_document(doc, version)
    assert [p for _, p in got] == prehashes[: len(got)]
    assert [h for h, _ in got] == hashes
    assert len(got) == len(prehashes)


def test_master_data_namespace_has_no_trailing_colon() -> None:
    """``cbvmda:`` keys under the well-known namespace hash as ``{urn:epcglobal:cbv:mda}name``
    (the reference implementation after its PR #123), not ``{urn:epcglobal:cbv:mda:}name``."""
    doc = json.loads((VECTORS / "documents" / "ObjectEvent_all_possible_fields.jsonld").read_text())
    for version in ("2.0", "2.1"):
        (_, pre) = hash_document(doc, version)[0]
        assert "{urn:epcglobal:cbv:mda}countryOfExport=KR" in pre
        assert "{urn:epcglobal:cbv:mda:}" not in pre


def test_manifest_agrees_with_files() -> None:
    manifest = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
    total = 0
    for entry in manifest:
        doc = json.loads((VECTORS / entry["document"]).read_text("utf-8"))
        for version in ("2.0", "2.1"):
            ids = [h for h, _ in hash_document(doc, version)]
            assert ids == entry["expected"][f"CBV{version}"]["eventHashIDs"]
            total += len(ids)
    assert total == 62
