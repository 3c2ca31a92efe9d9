"""Additional duties as dated measures (placeholder interface; the measures helper fills it in).

A measure is (country of import, origin countries, HS scope, rate or amount, valid from/to,
source). ``with_additional_duties`` adds the duty of every measure in force on each line's date.
"""

from __future__ import annotations

import polars as pl


def with_additional_duties(lines: pl.DataFrame) -> pl.DataFrame:
    """Add ``additional_duty_minor`` (Int64, tax-currency minor units, 0 where no measure or the
    line is not ``ok``) and ``measure_ids`` (String: ids joined by ``,``; null where none).

    Reads: rec, line, date, regime, destination, origin, hs_code, qty, base_minor, ok.
    """
    return lines.with_columns(
        pl.lit(0, pl.Int64).alias("additional_duty_minor"),
        pl.lit(None, pl.String).alias("measure_ids"),
    )
