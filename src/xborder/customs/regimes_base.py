"""The dated rule record shared by every regime module (``regimes``, ``regimes_apac``).

Kept apart so that the rule data of a region can live in its own module without importing the
registry that collects them (``regimes`` imports the regional modules, not the reverse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType

Param = Decimal | int | bool | str | frozenset[str]


@dataclass(frozen=True, slots=True)
class Rule:
    """One dated rule: ``valid_to`` is inclusive; ``None`` means still in force."""

    id: str
    regime: str
    kind: str
    valid_from: date
    valid_to: date | None
    summary: str
    source: str
    params: Mapping[str, Param] = field(default_factory=lambda: MappingProxyType({}))

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


def params(**values: Param) -> Mapping[str, Param]:
    """Rule parameters as a read-only mapping."""
    return MappingProxyType(values)
