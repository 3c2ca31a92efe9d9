"""CSV cells that a spreadsheet will not run: formula injection neutralised (OWASP).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (``=CMD|' /C calc'!A0``, ``=HYPERLINK(...)``).
Every CSV the platform writes for people (``--errors-out`` reports, exports) passes its text
cells through here: such a cell gets a leading single quote, which the spreadsheet shows as
text. Machine formats (COPY streams, import files read back by the platform) are not people's
CSVs and are written as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would evaluate, quoted; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_rows(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {k: neutralise_cell(v) for k, v in row.items()}


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of ``frame`` with formula-like cells quoted (numbers stay numbers)."""
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_PATTERN))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def write_people_csv(frame: pl.DataFrame, path: Any) -> None:
    """Write ``frame`` as a CSV meant to be opened by people: formula cells neutralised."""
    neutralise_frame(frame).write_csv(path)
