"""Hostile and broken order files through ``xborder orders import``, on SQLite and PostgreSQL.

Every case: exit 2, no traceback, the message names the place (line, field) and the reason,
nothing of the bad order stored, the good order of the same file stored (when the file is
readable at all), and, for the generated giants, peak memory bounded in a real subprocess.
"""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path

import pytest

from tests.hostile.conftest import Case, Hostile, assert_refused, corpus_cases
from tests.hostile.corpus.orders.build import COLUMNS, csv_rows, csv_text, jsonl_order

CASES = corpus_cases("orders")


def stored_ids(hostile: Hostile) -> list[str]:
    return [r[0] for r in hostile.rows("SELECT external_id FROM orders ORDER BY external_id")]


def assert_only_good_stored(hostile: Hostile, good: int) -> None:
    """The good order whole (two lines), nothing of any bad one."""
    assert stored_ids(hostile) == (["GOOD-1"] if good else [])
    assert hostile.count("SELECT count(*) FROM order_lines") == 2 * good


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file)
def test_corpus_case_is_refused_and_the_good_order_kept(hostile: Hostile, case: Case) -> None:
    outcome = hostile.invoke(case.command(["orders", "import"]))
    assert outcome.exception is None, outcome.describe()
    assert_only_good_stored(hostile, int(case.extra.get("good", 1)))
    assert_refused(outcome, place=case.place, reason=case.reason, exit_code=case.exit)
    assert str(case.path) in outcome.stderr.replace("\n", "")  # the file is named too


def _deep_json(path: Path) -> None:
    path.write_text(jsonl_order("GOOD-1") + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")


def _huge_json_string(path: Path) -> None:
    bad = jsonl_order("BAD-1", {"buyer_name": "x"}).replace('"x"', json.dumps("N" * 20_000_000))
    path.write_text(jsonl_order("GOOD-1") + "\n" + bad + "\n")


def _huge_csv_field(path: Path) -> None:
    rows = csv_rows("BAD-1", {"consignee_line1": "L" * 20_000_000})
    path.write_text(csv_text(csv_rows("GOOD-1") + rows))


def _deep_json_many_lines(path: Path) -> None:
    deep = "{" * 50 + "}" * 50
    path.write_text(jsonl_order("GOOD-1") + "\n" + (deep + "\n") * 20_000)


GIANTS = {
    "deep.jsonl": (_deep_json, "line 2, json", "nested deeper than 16 levels"),
    "string20mb.jsonl": (_huge_json_string, "line 2, json", "longer than 1,048,576 characters"),
    "field20mb.csv": (_huge_csv_field, "line 4, csv", "longer than 1,048,576 characters"),
    "deep-many.jsonl": (_deep_json_many_lines, "line 2, json", "nested deeper than 16 levels"),
}


@pytest.mark.parametrize("name", sorted(GIANTS))
def test_generated_giants_are_refused_in_bounded_memory(
    hostile: Hostile, tmp_path: Path, name: str
) -> None:
    build, place, reason = GIANTS[name]
    path = tmp_path / name
    build(path)
    outcome = hostile.spawn(["orders", "import", str(path)])
    assert_refused(outcome, place=place, reason=reason)
    assert outcome.peak_rss_mib is not None and outcome.peak_rss_mib > 50  # it was measured
    assert_only_good_stored(hostile, 1)


def test_a_utf8_bom_and_utf16_with_a_bom_are_read(hostile: Hostile, tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF8 + csv_text(csv_rows("GOOD-1")).encode())
    assert hostile.invoke(["orders", "import", str(bom)]).exit_code == 0
    wide = tmp_path / "wide.csv"
    wide.write_bytes(csv_text(csv_rows("WIDE-1", {"buyer_name": "Zoë Müller"})).encode("utf-16"))
    result = hostile.invoke(["orders", "import", str(wide)])
    assert result.exit_code == 0, result.describe()
    assert hostile.rows("SELECT buyer_name FROM orders WHERE external_id = 'WIDE-1'") == [
        ("Zoë Müller",)
    ]
    assert hostile.count("SELECT count(*) FROM order_lines") == 4


def test_errors_out_neutralises_formula_cells(hostile: Hostile, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.file == "csv_formula_cells.csv")
    report = tmp_path / "errors.csv"
    outcome = hostile.invoke(["orders", "import", str(case.path), "--errors-out", str(report)])
    assert outcome.exit_code == 2
    rows = list(csv.DictReader(report.open(encoding="utf-8", newline="")))
    assert [(r["line"], r["field"]) for r in rows] == [("5", "hs_code")]
    assert rows[0]["value"] == "'=CMD|' /C calc'!A0"
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


def test_the_header_columns_are_the_import_format() -> None:
    """The corpus builder writes the documented CSV columns (a corpus that drifted from the
    format would test the header check instead of the cases)."""
    from xborder.formats.order_files import CSV_COLUMNS

    assert set(COLUMNS) == set(CSV_COLUMNS)
