"""Refusing hostile JSON before it is parsed: size, encoding, nesting depth and string length.

``json.loads`` of a 100,000-deep array raises ``RecursionError``; a 20 MB string in one event made
the import take 2.5 GB (the schema validator, the pre-hash and the row copies each hold it again).
So an EPCIS document is checked first, on its bytes and without building it:
- at most ``MAX_DOCUMENT_BYTES`` (split larger captures into several documents);
- UTF-8 text (RFC 8259 section 8.1; a leading byte-order mark is allowed);
- nested at most ``MAX_DEPTH`` arrays/objects deep (an EPCIS event needs about ten);
- no string longer than ``MAX_STRING_CHARS`` characters (EPCIS values are URIs and short texts).
Depth is found with regular expressions (strings blanked out) and a NumPy running sum over the
brackets, so the check is linear and its memory a small multiple of the input's size. Each refusal
names the place (line and column, or byte offset) and the reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from xborder.domain.errors import InvalidValue

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_STRING_CHARS = 65_536
# a JSON string (unrolled loop: linear, no backtracking blow-up)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_LONG_RUN = re.compile(rb'[^"]{%d}' % MAX_STRING_CHARS)


def _place(raw: bytes, offset: int) -> str:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line} column {column}"


def _depth_offset(raw: bytes) -> int | None:
    """The byte offset where nesting first exceeds ``MAX_DEPTH``, or None."""
    blank = _STRING.sub(b'""', raw)
    brackets = np.frombuffer(_NOT_BRACKET.sub(b"", blank), dtype=np.uint8)
    if brackets.size <= MAX_DEPTH:
        return None
    step = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
    depth = np.cumsum(step, dtype=np.int32)
    over = np.flatnonzero(depth > MAX_DEPTH)
    if over.size == 0:
        return None
    # map the n-th bracket back to its offset in the original bytes (rare: only on refusal)
    target = int(over[0])
    seen = 0
    for m in re.finditer(rb'[\[\]{}]|"[^"\\]*(?:\\.[^"\\]*)*"', raw, re.DOTALL):
        if m.group(0)[:1] != b'"':
            if seen == target:
                return m.start()
            seen += 1
    return None


def check_json(raw: str | bytes, what: str = "document") -> str:
    """The text of a JSON document that passed the limits above (``InvalidValue`` otherwise)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidValue(
            "$",
            f"the {what} has {len(data):,} bytes, more than the limit of "
            f"{MAX_DOCUMENT_BYTES:,} (16 MiB): split it into several documents",
        )
    try:
        text = data.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InvalidValue(
            f"byte offset {exc.start} ({_place(data, exc.start)})",
            "not UTF-8 text (EPCIS JSON is UTF-8: is it UTF-16 or a binary file?)",
        ) from None
    if "\x00" in text:
        at = data.index(b"\x00")
        raise InvalidValue(f"byte offset {at} ({_place(data, at)})", "a NUL byte: not JSON text")
    deep = _depth_offset(data)
    if deep is not None:
        raise InvalidValue(_place(data, deep), f"nested deeper than {MAX_DEPTH} levels")
    if _LONG_RUN.search(data):
        for m in _STRING.finditer(data):
            if m.end() - m.start() - 2 > MAX_STRING_CHARS:
                chars = len(m.group(0).decode("utf-8", "replace")) - 2
                if chars > MAX_STRING_CHARS:
                    raise InvalidValue(
                        _place(data, m.start()),
                        f"a string of {chars:,} characters, more than the limit of "
                        f"{MAX_STRING_CHARS:,}",
                    )
    return text


def load_json(raw: str | bytes, what: str = "document") -> Any:
    """``check_json`` then parse; a syntax error names line and column."""
    text = check_json(raw, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidValue(
            "$", f"not JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4,300 digits
        why = "a number with more than 4,300 digits" if "digits" in str(exc) else str(exc)[:120]
        raise InvalidValue("$", f"not acceptable JSON: {why}") from None
