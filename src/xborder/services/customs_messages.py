"""CEB XML messages and tariff books for the entry points, which may not reach into the engine.

The CLI and the API write and read China customs messages, read the JSON records a quote or a
match is given, and load national tariffs through these names; the engine (``xborder.customs``)
stays an implementation detail behind the service layer. Every bad input raises ``InvalidValue``
naming where (the file, its line or record) and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from xborder.customs.ceb import MESSAGE_TYPES, Message, generate, parse
from xborder.customs.tariffs import TariffBook, load_tariff_csv, shipped_book
from xborder.domain.errors import InvalidValue

__all__ = [
    "MESSAGE_TYPES",
    "Message",
    "TariffBook",
    "build_message",
    "ceb_records",
    "json_document",
    "json_records",
    "load_tariff_csv",
    "parse_message",
    "shipped_book",
]


def build_message(
    code: str,
    records: list[Mapping[str, Any]],
    *,
    guid: str | None = None,
    base_transfer: Mapping[str, Any] | None = None,
) -> bytes:
    """The CEB XML message ``code`` (CEB311, CEB411, ...) holding ``records``; a bad record
    raises ``InvalidValue`` naming the record and field."""
    return generate(code, records, guid=guid, base_transfer=base_transfer)


def parse_message(data: bytes) -> Message:
    """One CEB XML message from outside (parsed without entities or network access); malformed
    XML or a message that is not CEB raises ``InvalidValue``."""
    return parse(data)


def _text(data: bytes | str, where: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidValue(where, "not UTF-8 text") from None


def json_document(data: bytes | str, where: str) -> Any:
    """One JSON document; numbers with a fraction become exact ``Decimal``s, never floats."""
    try:
        return json.loads(_text(data, where), parse_float=Decimal)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise InvalidValue(where, reason) from None


def json_records(data: bytes | str, where: str) -> list[Any]:
    """JSON lines (one record a line, blank lines skipped) or one JSON array of records."""
    text = _text(data, where)
    stripped = text.strip()
    if stripped.startswith("["):
        return list(json_document(stripped, where))
    return [
        json_document(line, f"{where} line {i}")
        for i, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


def ceb_records(data: bytes, where: str) -> list[dict[str, Any]]:
    """The records of a CEB XML message, or JSON records (lines or an array) in the same shape."""
    if data.lstrip()[:1] == b"<":
        try:
            return parse(data).records
        except InvalidValue as exc:
            raise InvalidValue(where, str(exc)) from None
    records = json_records(data, where)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidValue(f"{where} record {i + 1}", "must be a JSON object")
    return records
