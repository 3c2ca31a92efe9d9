"""Hostile input to the trace readers (``trace import``, ``trace hash``), on SQLite and PostgreSQL.

Every file of ``corpus/trace/cases.toml`` must be refused with exit 2, no traceback, a message
naming the place and the reason, and nothing stored. The large inputs are generated here and run
in a real subprocess whose peak memory is measured: a 100,000-deep JSON, a 20 MB string in one
event (2.5 GB of memory before; refused by size now) and a 10 MB string (under the size limit,
refused by the string limit), all within the harness's memory bound.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.conftest import Case, Hostile, assert_refused, corpus_cases

CASES = corpus_cases("trace")
# files that fail before any EPCIS rule (what ``trace hash`` reads too)
PARSE_LEVEL = {
    "binary.jsonld", "deep-extension.jsonld", "huge-integer.jsonld", "nul-byte.jsonld",
    "truncated.jsonld", "utf16.jsonld", "not-a-document.jsonld",
}  # fmt: skip


def _stored(hostile: Hostile) -> int:
    return hostile.count("SELECT count(*) FROM trace_events") + hostile.count(
        "SELECT count(*) FROM trace_objects"
    )


def test_corpus_is_complete() -> None:
    files = {p.name for p in (CASES[0].path.parent).glob("*.jsonld")}
    assert files == {c.file for c in CASES}
    assert files >= PARSE_LEVEL


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_import_refuses(hostile: Hostile, case: Case) -> None:
    outcome = hostile.invoke(case.command(["trace", "import"]))
    assert_refused(outcome, place=case.place, reason=case.reason, exit_code=case.exit)
    assert case.file in outcome.output  # the file is named too
    assert _stored(hostile) == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # trace hash reads no store
@pytest.mark.parametrize("case", [c for c in CASES if c.file in PARSE_LEVEL], ids=lambda c: c.file)
def test_hash_refuses(hostile: Hostile, case: Case) -> None:
    outcome = hostile.invoke(case.command(["trace", "hash"]))
    assert_refused(outcome, place=case.place, reason=case.reason)


def _event(**extra: object) -> dict[str, object]:
    return {
        "type": "ObjectEvent", "eventTime": "2026-11-20T08:00:00.000Z",
        "eventTimeZoneOffset": "+00:00", "epcList": ["https://id.gs1.org/00/012345670000000017"],
        "action": "OBSERVE", "bizStep": "departing", **extra,
    }  # fmt: skip


def _document(event: dict[str, object]) -> str:
    return json.dumps(
        {
            "@context": [
                "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                {"ex": "https://example.org/ext/"},
            ],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-11-20T09:00:00.000Z",
            "epcisBody": {"eventList": [event]},
        }
    )


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated large inputs (built once: 100,000-deep JSON, a 20 MB and a 10 MB string)."""
    folder = tmp_path_factory.mktemp("trace-hostile")
    files = {
        "deep": folder / "deep-100000.jsonld",
        "string-20mb": folder / "string-20mb.jsonld",
        "string-10mb": folder / "string-10mb.jsonld",
    }
    files["deep"].write_text("[" * 100_000 + "]" * 100_000 + "\n")
    files["string-20mb"].write_text(_document(_event(**{"ex:note": "x" * 20_000_000})))
    files["string-10mb"].write_text(_document(_event(**{"ex:note": "x" * 10_000_000})))
    return files


@pytest.mark.parametrize(
    ("name", "place", "reason"),
    [
        ("deep", "line 1 column 65", "nested deeper than 64 levels"),
        ("string-20mb", "$", "more than the limit of 16,777,216"),
        ("string-10mb", "line 1 column", "a string of 10,000,000 characters"),
    ],
)
def test_large_inputs_are_refused_in_bounded_memory(
    hostile: Hostile, big_files: dict[str, Path], name: str, place: str, reason: str
) -> None:
    outcome = hostile.spawn(["trace", "import", str(big_files[name])])
    assert_refused(outcome, place=place, reason=reason)
    assert outcome.peak_rss_mib is not None
    assert _stored(hostile) == 0


def test_a_good_document_next_to_the_corpus_is_stored(hostile: Hostile, tmp_path: Path) -> None:
    """The limits refuse the hostile files, not ordinary documents: a deep-enough extension
    (10 levels) and a 60,000-character string are stored."""
    nested: object = "leaf"
    for _ in range(10):
        nested = {"ex:n": nested}
    good = tmp_path / "good.jsonld"
    good.write_text(_document(_event(**{"ex:deep": nested, "ex:note": "y" * 60_000})))
    outcome = hostile.invoke(["trace", "import", str(good)])
    assert outcome.exit_code == 0, outcome.describe()
    assert hostile.count("SELECT count(*) FROM trace_events") == 1
