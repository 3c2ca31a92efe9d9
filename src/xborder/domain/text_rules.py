"""Text rules shared by the order kernel: no control characters, no value longer than its column.

Kept apart from ``order_rules`` (the order and line rules) because every text field of every
record obeys them, whatever the record; and an offending value is quoted safely (``shown``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True, slots=True)
class Rule:
    field: str
    ok: pl.Expr
    reason: str


# Fields checked against a code list or pattern: their own rule already bounds their length.
CODED_COLUMNS = frozenset(
    {"trade_mode", "direction", "incoterm", "currency", "origin_country", "consignee_country",
     "buyer_id_type", "hs_code"}
)  # fmt: skip
# C0 and C1 controls (NUL, ESC, CR, LF, TAB...), DEL, the Unicode line and paragraph separators and
# the bidirectional overrides and isolates (which reorder what a person reads: "Trojan Source").
CONTROL_CHARACTERS = r"[\x00-\x1F\x7F-\x9F\x{2028}\x{2029}\x{202A}-\x{202E}\x{2066}-\x{2069}]"
MAX_ERROR_VALUE_CHARS = 200  # an offending value is quoted in the report up to this length


def text_rules(limits: dict[str, int]) -> list[Rule]:
    """No control characters in any text field; free text no longer than its stored column.

    Checked here, in the kernel, so both stores see the same values: PostgreSQL refuses a NUL byte
    and an over-long ``varchar`` (and with it the whole statement), SQLite stores both silently.
    """
    rules = [
        Rule(name, pl.col(name).is_null() | ~pl.col(name).str.contains(CONTROL_CHARACTERS),
             "contains a control character (NUL, C0/C1 control, line break, bidi override)")
        for name in limits
    ]  # fmt: skip
    rules += [
        Rule(name, pl.col(name).is_null() | (pl.col(name).str.len_chars() <= limit),
             f"at most {limit} characters")
        for name, limit in limits.items()
        if name not in CODED_COLUMNS
    ]  # fmt: skip
    return rules


def shown(value: pl.Expr) -> pl.Expr:
    """An offending value as a report quotes it: control characters made visible (U+FFFD) and
    cut to ``MAX_ERROR_VALUE_CHARS``, so a 20 MB field or a NUL never reaches a terminal or CSV."""
    cut = value.str.slice(0, MAX_ERROR_VALUE_CHARS).str.replace_all(CONTROL_CHARACTERS, "\ufffd")
    return pl.when(value.str.len_chars() > MAX_ERROR_VALUE_CHARS).then(cut + "...").otherwise(cut)
