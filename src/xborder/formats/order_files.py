"""Order files: CSV (one row per order line) and JSON lines (one order per line).

Both parse into an ``OrderBatch`` for the kernel plus a frame of parse errors (line number, field,
reason). Rows are read as text; values are checked by the kernel, not here. Format reference:
``docs/orders-import.md``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from xborder.domain.order_rules import (
    ERROR_SCHEMA,
    LINE_TEXT_COLUMNS,
    ORDER_TEXT_COLUMNS,
    OrderBatch,
)
from xborder.formats.text_source import MAX_LINE_CHARS, open_text

CSV_LINE_COLUMNS = ("sku", "description", "hs_code", "qty", "unit_price", "line_origin_country")
CSV_COLUMNS = ORDER_TEXT_COLUMNS + CSV_LINE_COLUMNS
NESTED = {"buyer": "buyer_", "consignee": "consignee_"}
MAX_JSON_DEPTH = 16  # an order nests 3 deep ({"lines": [{...}]}); the C parser recurses per level
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]")
_LONE_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]", re.ASCII)
_CSV_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^,\r\n]*)')
# Numbers are kept as their text (the kernel checks amounts exactly); one decoder for every line.
_DECODER = json.JSONDecoder(parse_float=str, parse_int=str)
_NESTED_FIELDS = {
    key: frozenset(c.removeprefix(prefix) for c in ORDER_TEXT_COLUMNS if c.startswith(prefix))
    for key, prefix in NESTED.items()
}
_ALLOWED_FIELDS = frozenset(ORDER_TEXT_COLUMNS) | frozenset(NESTED) | {"lines"}
_LINE_FIELDS = frozenset(LINE_TEXT_COLUMNS)


@dataclass(frozen=True, slots=True)
class ParsedFile:
    batch: OrderBatch
    errors: pl.DataFrame
    records: int


def _error(line: int, field: str, reason: str, value: Any = None) -> dict[str, Any]:
    return {"rec": line, "line": line, "field": field, "reason": reason,
            "value": None if value is None else str(value)[:200]}  # fmt: skip


def _frames(orders: list[dict[str, Any]], lines: list[dict[str, Any]]) -> OrderBatch:
    order_schema = {
        "rec": pl.Int64,
        "line": pl.Int64,
        **dict.fromkeys(ORDER_TEXT_COLUMNS, pl.String),
    }
    line_schema = {"rec": pl.Int64, "line": pl.Int64, **dict.fromkeys(LINE_TEXT_COLUMNS, pl.String)}
    return OrderBatch(
        pl.DataFrame(orders, schema=order_schema), pl.DataFrame(lines, schema=line_schema)
    )


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _too_deep(raw: str) -> bool:
    """Whether the JSON text nests deeper than ``MAX_JSON_DEPTH``, checked before parsing it (the
    parser recurses once per level). Cheap for ordinary lines: one can only nest as deep as it
    has opening brackets."""
    if raw.count("{") + raw.count("[") <= MAX_JSON_DEPTH:
        return False
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", raw)).encode("ascii")
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return bool(codes.size) and int(np.cumsum(steps).max()) > MAX_JSON_DEPTH


def _load_json_line(raw: str) -> tuple[Any, str | None]:
    """The parsed line, or None and why it was refused (length, depth, syntax, bad Unicode)."""
    if len(raw) > MAX_LINE_CHARS:
        return None, f"line longer than {MAX_LINE_CHARS:,} characters"
    if _too_deep(raw):
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        record = _DECODER.decode(raw)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
    except RecursionError:  # a backstop: _too_deep refuses these first
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    if _LONE_SURROGATE.search(raw):
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return None, "a string holds an unpaired UTF-16 surrogate escape (not Unicode text)"
    return record, None


def parse_jsonl(text_lines: Iterable[str], first_line: int = 1) -> ParsedFile:
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    allowed = _ALLOWED_FIELDS
    count = 0
    for number, raw in enumerate(text_lines, start=first_line):
        if not raw.strip():
            continue
        count += 1
        record, problem = _load_json_line(raw)
        if problem is not None:
            errors.append(_error(number, "json", problem))
            continue
        if not isinstance(record, dict):
            errors.append(_error(number, "json", "each line must be a JSON object"))
            continue
        unknown = sorted(set(record) - allowed)
        if unknown:
            errors.append(_error(number, unknown[0], "unknown field", ", ".join(unknown)))
            continue
        flat = {k: v for k, v in record.items() if k not in NESTED and k != "lines"}
        bad_nested = False
        for key, prefix in NESTED.items():
            part = record.get(key)
            if part is None:
                continue
            if not isinstance(part, dict) or not _NESTED_FIELDS[key].issuperset(part):
                errors.append(_error(number, key, "must be an object of known fields", part))
                bad_nested = True
                break
            flat.update({prefix + k: v for k, v in part.items()})
        items = record.get("lines")
        if bad_nested:
            continue
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            errors.append(_error(number, "lines", "must be a list of objects"))
            continue
        orders.append(
            {"rec": number, "line": number, **{c: _text(flat.get(c)) for c in ORDER_TEXT_COLUMNS}}
        )
        for item in items:
            unknown = sorted(set(item) - _LINE_FIELDS)
            if unknown:
                errors.append(_error(number, f"lines.{unknown[0]}", "unknown field"))
            lines.append({"rec": number, "line": number,
                          **{c: _text(item.get(c)) for c in LINE_TEXT_COLUMNS}})  # fmt: skip
    return ParsedFile(_frames(orders, lines), pl.DataFrame(errors, schema=ERROR_SCHEMA), count)


class _TrackedLines:
    """Feeds the CSV reader and remembers the physical lines of the record being read, so a
    malformed or over-long record can still be traced to its order (its channel and id)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.record: list[str] = []
        self.too_long = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if len(line) > MAX_LINE_CHARS:
            self.too_long = True
            self.record.append(line[:MAX_LINE_CHARS])
            return "\n"  # the reader sees a blank line; the record is refused by its line number
        self.record.append(line)
        return line

    def start(self) -> None:
        self.record.clear()
        self.too_long = False


def _raw_fields(raw: str) -> list[str]:
    """The fields of a record the CSV reader refused (best effort, no size limit)."""
    fields: list[str] = []
    for match in _CSV_FIELD.finditer(raw.rstrip("\r\n")):
        if match.start() == 0 or raw[match.start() - 1] == ",":  # not the empty match after one
            quoted, plain = match.groups()
            fields.append(quoted.replace('""', '"') if quoted is not None else plain)
    return fields


def _key_of(fields: list[str], positions: tuple[int, int] | None) -> tuple[str | None, str | None]:
    if positions is None or max(positions) >= len(fields):
        return None, None
    return fields[positions[0]], fields[positions[1]]


def parse_csv(text: Iterable[str]) -> ParsedFile:
    """One row per order line; the order columns repeat on each of an order's rows.

    A row that cannot be read (malformed, wrong number of fields, over-long) rejects its whole
    order when its channel and external id can be made out: an order is stored whole or not at
    all, never with some of its lines."""
    tracked = _TrackedLines(text)
    reader = csv.reader(tracked)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return ParsedFile(_frames([], []), pl.DataFrame(schema=ERROR_SCHEMA), 0)
    except csv.Error as exc:
        raise ValueError(f"line 1: malformed CSV header: {exc}") from None
    if tracked.too_long:
        raise ValueError(f"line 1: header longer than {MAX_LINE_CHARS:,} characters")
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    if unknown:
        raise ValueError(f"line 1: unknown column(s) {', '.join(unknown)}")
    positions = (
        (header.index("channel"), header.index("external_id"))
        if {"channel", "external_id"} <= set(header)
        else None
    )
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []  # line, channel, external_id, field, reason, value

    def refuse(line: int, key: tuple[str | None, str | None], field: str, reason: str) -> None:
        bad.append({"line": line, "channel": key[0], "external_id": key[1], "field": field,
                    "reason": reason, "value": None})  # fmt: skip

    while True:
        tracked.start()
        line_before = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            fields = _raw_fields("".join(tracked.record))
            limit = csv.field_size_limit()
            huge = [name for name, cell in zip(header, fields, strict=False) if len(cell) > limit]
            refuse(line_before + 1, _key_of(fields, positions), huge[0] if huge else "csv",
                   f"malformed CSV: {exc}")  # fmt: skip
            continue
        line = line_before + 1
        if tracked.too_long:
            refuse(line, _key_of(_raw_fields("".join(tracked.record)), positions), "csv",
                   f"line longer than {MAX_LINE_CHARS:,} characters")  # fmt: skip
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            key = (row[positions[0]], row[positions[1]]) if positions and max(
                positions) < len(row) else (None, None)  # fmt: skip
            refuse(line, key, "csv", f"has {len(row)} fields, the header has {len(header)}")
            continue
        rows.append({"line": line, **dict(zip(header, row, strict=True))})
    frame = pl.DataFrame(rows, schema={"line": pl.Int64, **dict.fromkeys(header, pl.String)})
    frame = frame.with_columns(
        pl.lit(None, pl.String).alias(c) for c in CSV_COLUMNS if c not in frame.columns
    )
    bad_rows = pl.DataFrame(bad, schema={"line": pl.Int64, "channel": pl.String,
                                         "external_id": pl.String, "field": pl.String,
                                         "reason": pl.String, "value": pl.String})  # fmt: skip
    key_columns = ["channel", "external_id"]
    # An order's record number is its first physical line, over its readable and unreadable rows.
    recs = (
        pl.concat([frame.select("line", *key_columns),
                   bad_rows.drop_nulls(key_columns).select("line", *key_columns)])
        .group_by(key_columns).agg(pl.col("line").min().alias("rec"))
    )  # fmt: skip
    frame = frame.join(recs, on=key_columns, how="left", nulls_equal=True)
    bad_errors = bad_rows.join(recs, on=key_columns, how="left").select(
        pl.coalesce("rec", "line").alias("rec"), "line", "field", "reason", "value"
    )
    orders = frame.filter(pl.col("line") == pl.col("rec")).select(
        "rec", "line", *ORDER_TEXT_COLUMNS
    )
    inconsistent = (
        frame.group_by("rec")
        .agg(pl.struct(ORDER_TEXT_COLUMNS).n_unique().alias("variants"))
        .filter(pl.col("variants") > 1)
        .select("rec", pl.col("rec").alias("line"), pl.lit("order").alias("field"),
                pl.lit("order columns differ between the rows of one order").alias("reason"),
                pl.lit(None, pl.String).alias("value"))
    )  # fmt: skip
    lines = frame.select(
        "rec",
        "line",
        *(c for c in LINE_TEXT_COLUMNS if c != "origin_country"),
        pl.col("line_origin_country").alias("origin_country"),
    )
    parse_errors = pl.concat([bad_errors.cast(ERROR_SCHEMA), inconsistent.cast(ERROR_SCHEMA)])
    records = pl.concat([orders.get_column("rec"), parse_errors.get_column("rec")]).n_unique()
    return ParsedFile(OrderBatch(orders, lines), parse_errors, records)


def read_order_file(path: Path) -> ParsedFile:
    """CSV or JSON lines by extension (``.csv``; ``.jsonl``/``.ndjson``/``.json``), in UTF-8 (a
    byte order mark is fine) or UTF-16 with a byte order mark; lines are bounded in length."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".jsonl", ".ndjson", ".json"}:
        raise ValueError(f"{path.name}: unknown file type (use .csv or .jsonl)")
    handle, lines = open_text(path)
    with handle:
        return parse_csv(lines) if suffix == ".csv" else parse_jsonl(lines)


def chunked(parsed: ParsedFile, size: int) -> Iterator[OrderBatch]:
    """Split a parsed file into batches of at most ``size`` orders (lines follow their order)."""
    recs = parsed.batch.orders.get_column("rec")
    for start in range(0, len(recs), size):
        part = recs.slice(start, size)
        yield OrderBatch(
            parsed.batch.orders.filter(pl.col("rec").is_in(part.implode())),
            parsed.batch.lines.filter(pl.col("rec").is_in(part.implode())),
        )


def to_csv_text(rows: Iterable[dict[str, Any]]) -> str:
    """An import file (a machine format read back by ``parse_csv``: cells are written as they
    are; a report for people goes through ``xborder.formats.csv_cells``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
