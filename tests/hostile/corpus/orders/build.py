"""Rebuild the orders corpus (``python tests/hostile/corpus/orders/build.py``).

Each record-level case holds one good order (it must be stored) and one bad order of two lines
(nothing of it may be stored); ``cases.toml`` says what the refusal must name. Generated, not
hand-edited, so the bytes (NUL, BOMs, Latin-1, UTF-16) are exactly what the names say.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
COLUMNS = (
    "channel", "external_id", "seller_id", "platform_id", "trade_mode", "direction", "incoterm",
    "currency", "origin_country", "buyer_name", "buyer_telephone", "buyer_id_type",
    "buyer_id_number", "buyer_email", "consignee_name", "consignee_telephone", "consignee_line1",
    "consignee_line2", "consignee_city", "consignee_region", "consignee_postcode",
    "consignee_country", "freight", "insurance", "discount", "placed_at", "promised_by",
    "sku", "description", "hs_code", "qty", "unit_price", "line_origin_country",
)  # fmt: skip
ORDER = {
    "channel": "shop-de", "seller_id": "seller-sz-gadgets", "trade_mode": "B2C",
    "direction": "export", "incoterm": "DDP", "currency": "EUR", "origin_country": "CN",
    "buyer_name": "Lena Vogel", "buyer_telephone": "+49 30 1234567",
    "consignee_name": "Lena Vogel", "consignee_telephone": "+49 30 1234567",
    "consignee_line1": "Invalidenstrasse 117", "consignee_city": "Berlin",
    "consignee_postcode": "10115", "consignee_country": "DE", "freight": "3.90",
    "placed_at": "2026-11-24T10:30:00Z", "promised_by": "2026-12-04",
}  # fmt: skip
LINES = [
    {"sku": "TSHIRT-1", "description": "Cotton T-shirt", "hs_code": "610910", "qty": "2",
     "unit_price": "9.99"},
    {"sku": "CASE-1", "description": "Phone case", "hs_code": "392690", "qty": "1",
     "unit_price": "4.50"},
]  # fmt: skip


def csv_rows(external_id: str, order: dict[str, Any] | None = None,
             lines: list[dict[str, Any]] | None = None) -> list[list[str]]:  # fmt: skip
    head = {**ORDER, **(order or {}), "external_id": external_id}
    return [[str({**head, **line}.get(c, "")) for c in COLUMNS] for line in (lines or LINES)]


def csv_text(rows: list[list[str]], raw_tail: str = "") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue() + raw_tail


def jsonl_order(external_id: str, order: dict[str, Any] | None = None,
                lines: list[dict[str, Any]] | None = None) -> str:  # fmt: skip
    head = {**ORDER, **(order or {}), "external_id": external_id}
    return json.dumps({**head, "lines": lines or LINES}, ensure_ascii=False)


def build() -> None:
    good = csv_rows("GOOD-1")
    files: dict[str, bytes] = {}
    bad = csv_rows("BAD-1")
    files["csv_extra_field.csv"] = csv_text([*good, bad[0], bad[1] + ["surplus"]]).encode()
    files["csv_short_row.csv"] = csv_text([*good, bad[0], bad[1][:20]]).encode()
    huge = csv_rows("BAD-1", lines=[LINES[0], {**LINES[1], "description": "x" * 140_000}])
    files["csv_oversized_field.csv"] = csv_text(good + huge).encode()
    long_desc = csv_rows("BAD-1", lines=[LINES[0], {**LINES[1], "description": "y" * 600}])
    files["csv_long_description.csv"] = csv_text(good + long_desc).encode()
    files["csv_nul_byte.csv"] = csv_text(
        good + csv_rows("BAD-1", {"buyer_name": "Le\x00na"})
    ).encode()
    files["csv_escape_sequence.csv"] = csv_text(
        good + csv_rows("BAD-1", {"consignee_city": "Berlin\x1b[2J"})
    ).encode()
    files["csv_bidi_override.csv"] = csv_text(
        good + csv_rows("BAD-1", lines=[LINES[0], {**LINES[1], "description": "case\u202egpj.exe"}])
    ).encode()
    files["csv_long_external_id.csv"] = csv_text(good + csv_rows("B" * 61)).encode()
    files["csv_formula_cells.csv"] = csv_text(
        good + csv_rows("BAD-1", lines=[LINES[0], {**LINES[1], "hs_code": "=CMD|' /C calc'!A0"}])
    ).encode()
    files["csv_latin1.csv"] = csv_text(
        good + csv_rows("BAD-1", {"buyer_name": "Jürgen Müller"})
    ).encode("latin-1")
    files["csv_utf16_no_bom.csv"] = csv_text(good).encode("utf-16-le")
    files["csv_utf8_bom.csv"] = codecs.BOM_UTF8 + csv_text(good).encode()
    files["csv_utf16_bom.csv"] = csv_text(csv_rows("GOOD-1", {"buyer_name": "Zoë Müller"})).encode(
        "utf-16"
    )

    good_json = jsonl_order("GOOD-1")

    def jl(*lines: str) -> bytes:
        return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")

    files["jsonl_nul_byte.jsonl"] = jl(
        good_json, jsonl_order("BAD-1", {"consignee_name": "Le\x00na"})
    )
    files["jsonl_long_name.jsonl"] = jl(
        good_json, jsonl_order("BAD-1", {"buyer_name": "N" * 10_000})
    )
    files["jsonl_lone_surrogate.jsonl"] = jl(
        good_json,
        jsonl_order("BAD-1", lines=[LINES[0], {**LINES[1], "description": "x"}]).replace(
            '"description": "x"', '"description": "\\ud800"'
        ),
    )
    files["jsonl_huge_numbers.jsonl"] = jl(
        good_json,
        jsonl_order("BAD-1", lines=[LINES[0]])
        .replace('"unit_price": "9.99"', '"unit_price": 1e308')
        .replace('"qty": "2"', '"qty": 1e40'),
    )
    files["jsonl_not_an_object.jsonl"] = jl(good_json, "[1, 2, 3]")
    files["jsonl_truncated.jsonl"] = jl(good_json, good_json.replace("GOOD-1", "BAD-1")[:80])
    files["jsonl_deep_line_field.jsonl"] = jl(
        good_json, jsonl_order("BAD-1", lines=[LINES[0], {**LINES[1], "qty": [[[[[[[[1]]]]]]]]}])
    )
    files["jsonl_binary.jsonl"] = bytes(range(256)) * 8
    for name, data in files.items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    build()
