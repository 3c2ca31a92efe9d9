"""A capacitated facility location instance: candidate sites, demand regions, assignment costs.

Arrays, not objects: every solver works on the whole cost matrix at once. ``assign_cost[i, j]`` is
the cost of serving ALL of region j's demand from site i (the OR-Library convention), so a share
``x[i, j]`` of region j served from site i costs ``assign_cost[i, j] * x[i, j]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from xborder.domain.errors import InvalidValue

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Instance:
    """Validated CFLP data; build it with :meth:`of` (checks) rather than the constructor."""

    site_ids: tuple[str, ...]
    region_ids: tuple[str, ...]
    fixed_cost: FloatArray  # (m,)
    capacity: FloatArray  # (m,)
    demand: FloatArray  # (n,)
    assign_cost: FloatArray  # (m, n)
    single_source: bool = False
    name: str = ""

    @property
    def m(self) -> int:
        return len(self.site_ids)

    @property
    def n(self) -> int:
        return len(self.region_ids)

    @property
    def total_demand(self) -> float:
        return float(self.demand.sum())

    @classmethod
    def of(
        cls,
        fixed_cost: Sequence[float] | FloatArray,
        capacity: Sequence[float] | FloatArray,
        demand: Sequence[float] | FloatArray,
        assign_cost: Sequence[Sequence[float]] | FloatArray,
        *,
        site_ids: Sequence[str] | None = None,
        region_ids: Sequence[str] | None = None,
        single_source: bool = False,
        name: str = "",
    ) -> Instance:
        """Check shapes, signs and feasibility; every error names the field and the reason."""
        f = _vector("fixed_cost", fixed_cost)
        s = _vector("capacity", capacity)
        d = _vector("demand", demand)
        try:
            c = np.array(assign_cost, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidValue(
                "assign_cost", "must be a numeric matrix (sites x regions)"
            ) from None
        m, n = len(f), len(d)
        if m == 0:
            raise InvalidValue("sites", "need at least one candidate site")
        if n == 0:
            raise InvalidValue("regions", "need at least one demand region")
        if len(s) != m:
            raise InvalidValue("capacity", f"has {len(s)} entries for {m} sites")
        if c.shape != (m, n):
            raise InvalidValue("assign_cost", f"shape {c.shape} is not sites x regions ({m}, {n})")
        for field, arr in (("fixed_cost", f), ("capacity", s), ("demand", d), ("assign_cost", c)):
            if not np.isfinite(arr).all():
                raise InvalidValue(field, "must be finite numbers")
            if (arr < 0).any():
                bad = float(arr[arr < 0].flat[0])
                raise InvalidValue(field, "must not be negative", bad)
        sites = tuple(site_ids) if site_ids is not None else tuple(str(i + 1) for i in range(m))
        regions = (
            tuple(region_ids) if region_ids is not None else tuple(str(j + 1) for j in range(n))
        )
        if len(sites) != m or len(set(sites)) != m:
            raise InvalidValue("sites.id", f"need {m} distinct ids")
        if len(regions) != n or len(set(regions)) != n:
            raise InvalidValue("regions.id", f"need {n} distinct ids")
        if s.sum() < d.sum() * (1 - 1e-12):
            raise InvalidValue(
                "capacity", f"infeasible: total capacity {s.sum():g} < total demand {d.sum():g}"
            )
        if single_source and (d[:, None] > s[None, :]).all(axis=1).any():
            j = int(np.flatnonzero((d[:, None] > s[None, :]).all(axis=1))[0])
            raise InvalidValue(
                "demand", f"infeasible single-source: region {regions[j]} exceeds every capacity"
            )
        return cls(sites, regions, f, s, d, c, single_source, name)

    def with_single_source(self, single_source: bool) -> Instance:
        return Instance.of(
            self.fixed_cost, self.capacity, self.demand, self.assign_cost,
            site_ids=self.site_ids, region_ids=self.region_ids,
            single_source=single_source, name=self.name,
        )  # fmt: skip

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Instance:
        """The documented JSON schema (docs/network-design.md): sites, regions, assign_cost."""
        if not isinstance(raw, Mapping):
            raise InvalidValue("instance", "must be a JSON object")
        sites = _records(raw, "sites", ("id", "fixed_cost", "capacity"))
        regions = _records(raw, "regions", ("id", "demand"))
        if "assign_cost" not in raw:
            raise InvalidValue("assign_cost", "missing")
        single = raw.get("single_source", False)
        if not isinstance(single, bool):
            raise InvalidValue("single_source", "must be true or false", single)
        return cls.of(
            [_number(f"sites[{k}].fixed_cost", r["fixed_cost"]) for k, r in enumerate(sites)],
            [_number(f"sites[{k}].capacity", r["capacity"]) for k, r in enumerate(sites)],
            [_number(f"regions[{k}].demand", r["demand"]) for k, r in enumerate(regions)],
            raw["assign_cost"],
            site_ids=[str(r["id"]) for r in sites],
            region_ids=[str(r["id"]) for r in regions],
            single_source=single,
            name=str(raw.get("name", "")),
        )


def _vector(field: str, values: Sequence[float] | FloatArray) -> FloatArray:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValue(field, "must be a list of numbers") from None
    if arr.ndim != 1:
        raise InvalidValue(field, "must be a flat list of numbers")
    return arr


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(field, "must be a number", value)
    return float(value)


def _records(raw: Mapping[str, Any], field: str, keys: tuple[str, ...]) -> list[Mapping[str, Any]]:
    rows = raw.get(field)
    if not isinstance(rows, list):
        raise InvalidValue(field, "must be a list of objects")
    for k, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidValue(f"{field}[{k}]", "must be an object")
        for key in keys:
            if key not in row:
                raise InvalidValue(f"{field}[{k}].{key}", "missing")
    return rows
