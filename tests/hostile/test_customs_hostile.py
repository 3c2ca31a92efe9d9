"""Hostile input to ``xborder customs``: quote, parse, message and receipts refuse it cleanly.

Each corpus file (tests/hostile/corpus/customs/cases.toml) runs in process on SQLite and on
PostgreSQL: exit 2, no traceback, the place and the reason named, nothing stored, no message
written. The giants (100,000-deep JSON and XML, a 20 MB message, a 12 MB text node) run in a
subprocess whose peak memory is measured.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.conftest import Case, Hostile, assert_refused, corpus_cases

CASES = corpus_cases("customs")
CEB = 'xmlns:ceb="http://www.chinaport.gov.cn/ceb"'
GUID = "A1B2C3D4-0000-4000-8000-000000000311"
IDENTITY = {"XBORDER_CEB_COP_CODE": "4101969905", "XBORDER_CEB_COP_NAME": "Test Co",
            "XBORDER_CEB_DXP_ID": "DXPENT0000012345"}  # fmt: skip


def _stored(hostile: Hostile) -> int:
    return hostile.count("SELECT count(*) FROM customs_declarations") + hostile.count(
        "SELECT count(*) FROM customs_declaration_events"
    )


def test_the_corpus_covers_every_customs_reader() -> None:
    assert {c.extra["command"] for c in CASES} == {"quote", "parse", "message", "receipts"}
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file)
def test_corpus_case_is_refused(
    hostile: Hostile, case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "written.xml"
    extra = ["-o", str(out), "--unsigned"] if case.extra["command"] == "message" else []
    outcome = hostile.invoke(["customs", *case.command([case.extra["command"]]), *extra])
    assert_refused(outcome, place=case.place, reason=case.reason, exit_code=case.exit)
    assert not out.exists()
    assert _stored(hostile) == 0


def _deep_json(path: Path) -> Path:
    path.write_text('{"lines": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return path


def _deep_xml(path: Path) -> Path:
    path.write_text(f"<ceb:CEB311Message {CEB}>" + "<a>" * 100_000 + "</a>" * 100_000
                    + "</ceb:CEB311Message>")  # fmt: skip
    return path


def _twenty_mb(path: Path) -> Path:
    path.write_text(f'<ceb:CEB622Message {CEB} guid="{GUID}" version="1.0">'
                    + "<!--" + "x" * 20_000_000 + "-->" + "</ceb:CEB622Message>")  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("command", "build", "place", "reason"),
    [
        ("quote", _deep_json, "deep.input", "nested too deeply"),
        ("parse", _deep_xml, "deep.input: xml line 1", "excessive depth"),
        ("parse", _twenty_mb, "deep.input", "larger than 16 MB"),
        ("receipts", _twenty_mb, "deep.input", "larger than 16 MB"),
    ],
    ids=["quote-deep-json", "parse-deep-xml", "parse-20mb", "receipts-20mb"],
)
def test_generated_giants_are_refused_in_bounded_memory(
    hostile: Hostile, tmp_path: Path, command: str, build: object, place: str, reason: str
) -> None:
    assert callable(build)
    path = build(tmp_path / "deep.input")
    outcome = hostile.spawn(["customs", command, str(path)])
    assert outcome.peak_rss_mib is not None
    assert_refused(outcome, place=place, reason=reason)
    assert _stored(hostile) == 0


def test_a_huge_text_node_is_refused_in_bounded_memory(hostile: Hostile, tmp_path: Path) -> None:
    path = tmp_path / "huge-node.xml"
    path.write_text(f'<ceb:CEB311Message {CEB} guid="{GUID}" version="1.0"><ceb:Order>'
                    f"<ceb:OrderHead><ceb:ebpName>{'x' * 12_000_000}</ceb:ebpName>"
                    "</ceb:OrderHead></ceb:Order></ceb:CEB311Message>")  # fmt: skip
    outcome = hostile.spawn(["customs", "parse", str(path)])
    assert_refused(outcome, place="huge-node.xml: xml line 1", reason="malformed XML")
