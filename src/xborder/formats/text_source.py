"""Text lines from an uploaded file: its encoding detected, bad bytes reported by line, and every
line bounded in length so a hostile file cannot make a reader hold more than one bounded line.

Accepted: UTF-8 (with or without a byte order mark) and UTF-16 with a byte order mark. Anything
else is refused naming the line (and the column of the first bad byte): a Latin-1 or Windows-1252
file, UTF-16 without a byte order mark, a binary file. Reference: ``docs/orders-import.md``.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MAX_LINE_CHARS = 1_048_576  # 1 MiB: an order of 100 lines with 500-character descriptions is ~60 kB
_SNIFF_BYTES = 4096


class EncodingProblem(ValueError):
    """The file is not text in an accepted encoding; the message names the line."""


def _utf16_without_bom(head: bytes) -> bool:
    """Mostly-ASCII UTF-16 has a NUL in every other byte; a stray NUL in UTF-8 text does not."""
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    return max(even.count(0), odd.count(0)) >= 0.4 * len(odd)


def _utf8_lines(handle: BinaryIO, first_line: int) -> Iterator[str]:
    number = first_line
    while True:
        raw = handle.readline(MAX_LINE_CHARS * 4 + 1)  # a UTF-8 character is at most 4 bytes
        if not raw:
            return
        if len(raw) > MAX_LINE_CHARS * 4 and not raw.endswith(b"\n"):
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass  # drop the rest of an over-long line without holding it
            yield raw[: MAX_LINE_CHARS * 4].decode("utf-8", "ignore")[: MAX_LINE_CHARS + 1]
            number += 1
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
            raise EncodingProblem(
                f"line {number}, column {column}: not UTF-8 text (byte 0x{raw[exc.start]:02X}); "
                "save the file as UTF-8 (a Latin-1 or Windows-1252 export looks like this)"
            ) from None
        yield text[: MAX_LINE_CHARS + 1]
        number += 1


def _utf16_lines(handle: BinaryIO, first_line: int) -> Iterator[str]:
    text = io.TextIOWrapper(handle, encoding="utf-16", newline="")
    number = first_line
    while True:
        try:
            line = text.readline(MAX_LINE_CHARS + 1)
            if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                while (rest := text.readline(1 << 20)) and not rest.endswith("\n"):
                    pass
        except UnicodeDecodeError as exc:
            raise EncodingProblem(
                f"line {number}: not valid UTF-16 text ({exc.reason}); save the file as UTF-8"
            ) from None
        if not line:
            return
        yield line
        number += 1


def text_lines(handle: BinaryIO) -> Iterator[str]:
    """The file's lines as text (line ends kept), each cut to ``MAX_LINE_CHARS + 1`` characters
    (a reader refuses a line that long); raises ``EncodingProblem`` naming the line."""
    head = handle.read(_SNIFF_BYTES)
    handle.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        handle.read(len(codecs.BOM_UTF8))
        return _utf8_lines(handle, 1)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _utf16_lines(handle, 1)
    if _utf16_without_bom(head):
        raise EncodingProblem(
            "line 1: not UTF-8 text: NUL bytes throughout (UTF-16 without a byte order mark, or "
            "a binary file); save the file as UTF-8, or as UTF-16 with a byte order mark"
        )
    return _utf8_lines(handle, 1)


def open_text(path: Path) -> tuple[BinaryIO, Iterator[str]]:
    """The open file (close it when done) and its text lines."""
    handle = path.open("rb")
    try:
        return handle, text_lines(handle)
    except BaseException:
        handle.close()
        raise
