"""Order files: CSV (one row per order line) and JSON lines (one order per line).

Both parse into an ``OrderBatch`` for the kernel plus a frame of parse errors (line number, field,
reason). Rows are read as text; values are checked by the kernel, not here. Format reference:
``docs/orders-import.md``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from xborder.domain.order_rules import (
    ERROR_SCHEMA,
    LINE_TEXT_COLUMNS,
    ORDER_TEXT_COLUMNS,
    OrderBatch,
)

CSV_LINE_COLUMNS = ("sku", "description", "hs_code", "qty", "unit_price", "line_origin_country")
CSV_COLUMNS = ORDER_TEXT_COLUMNS + CSV_LINE_COLUMNS
NESTED = {"buyer": "buyer_", "consignee": "consignee_"}


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


def parse_jsonl(text_lines: Iterable[str], first_line: int = 1) -> ParsedFile:
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    allowed = set(ORDER_TEXT_COLUMNS) | set(NESTED) | {"lines"}
    count = 0
    for number, raw in enumerate(text_lines, start=first_line):
        if not raw.strip():
            continue
        count += 1
        try:
            record = json.loads(raw, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            errors.append(
                _error(number, "json", f"malformed JSON: {exc.msg} at column {exc.colno}")
            )
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
            if not isinstance(part, dict) or not set(part) <= {
                c.removeprefix(prefix) for c in ORDER_TEXT_COLUMNS if c.startswith(prefix)
            }:
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
            unknown = sorted(set(item) - set(LINE_TEXT_COLUMNS))
            if unknown:
                errors.append(_error(number, f"lines.{unknown[0]}", "unknown field"))
            lines.append({"rec": number, "line": number,
                          **{c: _text(item.get(c)) for c in LINE_TEXT_COLUMNS}})  # fmt: skip
    return ParsedFile(_frames(orders, lines), pl.DataFrame(errors, schema=ERROR_SCHEMA), count)


def parse_csv(text: Iterable[str]) -> ParsedFile:
    """One row per order line; the order columns repeat on each of an order's rows."""
    reader = csv.reader(text)
    errors: list[dict[str, Any]] = []
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return ParsedFile(_frames([], []), pl.DataFrame(schema=ERROR_SCHEMA), 0)
    except csv.Error as exc:
        raise ValueError(f"line 1: malformed CSV header: {exc}") from None
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    if unknown:
        raise ValueError(f"line 1: unknown column(s) {', '.join(unknown)}")
    rows: list[dict[str, Any]] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(_error(reader.line_num, "csv", f"malformed CSV: {exc}"))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            reason = f"has {len(row)} fields, the header has {len(header)}"
            errors.append(_error(reader.line_num, "csv", reason))
            continue
        rows.append({"line": reader.line_num, **dict(zip(header, row, strict=True))})
    frame = pl.DataFrame(rows, schema={"line": pl.Int64, **dict.fromkeys(header, pl.String)})
    frame = frame.with_columns(
        pl.lit(None, pl.String).alias(c) for c in CSV_COLUMNS if c not in frame.columns
    )
    key = ["channel", "external_id"]
    frame = frame.with_columns(pl.col("line").min().over(key).alias("rec"))
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
    parse_errors = pl.concat(
        [pl.DataFrame(errors, schema=ERROR_SCHEMA), inconsistent.cast(ERROR_SCHEMA)]
    )
    return ParsedFile(OrderBatch(orders, lines), parse_errors, orders.height + len(errors))


def read_order_file(path: Path) -> ParsedFile:
    """CSV or JSON lines by extension (``.csv``; ``.jsonl``/``.ndjson``/``.json``)."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            return parse_csv(handle)
        if suffix in {".jsonl", ".ndjson", ".json"}:
            return parse_jsonl(handle)
    raise ValueError(f"{path.name}: unknown file type (use .csv or .jsonl)")


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
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
