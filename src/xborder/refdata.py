"""Reference data shipped with the package: ISO 3166-1, ISO 4217, HS 2022.

Each CSV under ``xborder/data`` starts with ``# `` comment lines that name its source and date of
validity. Loaded once per process (the files are constants, not state).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("xborder").joinpath("data", name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


@dataclass(frozen=True, slots=True)
class CurrencyInfo:
    code: str
    numeric: str
    minor_units: int
    name: str


@cache
def currencies() -> dict[str, CurrencyInfo]:
    """Active ISO 4217 currencies with their minor units, by alphabetic code."""
    return {
        row["code"]: CurrencyInfo(row["code"], row["numeric"], int(row["minor_units"]), row["name"])
        for row in _read_csv("currencies.csv")
    }


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English short name."""
    return {row["alpha2"]: row["name"] for row in _read_csv("countries.csv")}


@cache
def hs_subheadings() -> frozenset[str]:
    """The 6-digit subheadings of HS 2022."""
    return frozenset(row["hscode"] for row in _read_csv("hs2022.csv") if len(row["hscode"]) == 6)


@cache
def hs_descriptions() -> dict[str, str]:
    """HS 2022 code (2, 4 or 6 digits) -> description."""
    return {row["hscode"]: row["description"] for row in _read_csv("hs2022.csv")}
