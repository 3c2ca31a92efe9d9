"""The standalone planning instance (JSON): orders, sources with stock, lanes; see docs/planning.md.

An order of ``qty`` units of one ``sku`` (or several ``lines``) uses that stock at its source and
``weight_kg`` of the lane's capacity; a lane serves orders whose ``dest`` is its ``dest`` from its
``source``. Serving costs ``cost_per_kg * weight_kg + cost_per_parcel + late_penalty_per_day *
max(0, transit_days - promise_days)``; an unserved order costs ``unassigned_penalty``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xborder.domain.errors import InvalidValue
from xborder.planning.builder import LaneColumns, Network, OrderColumns, Route, build
from xborder.planning.problem import Plan, Problem, unit_reasons

DEFAULT_UNASSIGNED_PENALTY = 10_000.0


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Line(_Model):
    sku: str
    qty: int = Field(gt=0)


class InstanceOrder(_Model):
    id: str
    sku: str | None = None
    qty: int | None = Field(default=None, gt=0)
    lines: tuple[Line, ...] | None = Field(default=None, min_length=1)
    weight_kg: float = Field(ge=0)
    value: float = Field(default=0.0, ge=0)
    dest: str = Field(min_length=1)
    promise_days: float = Field(ge=0)
    split: bool = False  # may the order's lines ship from different sources?

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _items(self) -> InstanceOrder:
        if (self.sku is None) == (self.lines is None):
            raise ValueError("give either sku (with qty) or lines")
        return self

    def items(self) -> tuple[Line, ...]:
        if self.lines is not None:
            return self.lines
        return (Line(sku=str(self.sku), qty=self.qty or 1),)


class Source(_Model):
    id: str
    country: str = ""
    inventory: dict[str, int]

    @field_validator("inventory")
    @classmethod
    def _stock(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v < 0}
        if bad:
            raise ValueError(f"stock must not be negative: {bad}")
        return value


class InstanceLane(_Model):
    id: str
    source: str
    dest: str
    cost_per_kg: float = Field(ge=0)
    cost_per_parcel: float = Field(ge=0)
    transit_days: float = Field(ge=0)
    capacity_kg: float = Field(ge=0)
    transit_p95_days: float | None = Field(default=None, ge=0)  # optional: lognormal lateness


class Instance(_Model):
    orders: tuple[InstanceOrder, ...]
    sources: tuple[Source, ...]
    lanes: tuple[InstanceLane, ...]
    late_penalty_per_day: float = Field(default=0.0, ge=0)
    unassigned_penalty: float = Field(default=DEFAULT_UNASSIGNED_PENALTY, ge=0)

    @classmethod
    def parse(cls, raw: Any) -> Instance:
        """Validate a decoded JSON document; errors name the entry and field (``orders[3].qty``)."""
        if not isinstance(raw, dict):
            raise InvalidValue("instance", "must be a JSON object")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidValue(_path(first["loc"]), first["msg"], first.get("input")) from None

    @model_validator(mode="after")
    def _references(self) -> Instance:
        for kind, ids in (
            ("order", [o.id for o in self.orders]),
            ("source", [s.id for s in self.sources]),
            ("lane", [ln.id for ln in self.lanes]),
        ):
            if len(ids) != len(set(ids)):
                dup = next(i for i in ids if ids.count(i) > 1)
                raise ValueError(f"duplicate {kind} id {dup!r}")
        sources = {s.id for s in self.sources}
        for i, lane in enumerate(self.lanes):
            if lane.source not in sources:
                raise ValueError(f"lanes[{i}].source: unknown source {lane.source!r}")
        known = {sku for s in self.sources for sku in s.inventory}
        for i, order in enumerate(self.orders):
            for item in order.items():
                if item.sku not in known:
                    raise ValueError(
                        f"orders[{i}].sku: unknown sku {item.sku!r} (no source lists it)"
                    )
        return self


def _path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int) and parts:
            parts[-1] = f"{parts[-1]}[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts) or "instance"


def compile_instance(instance: Instance) -> Problem:
    """The instance as the planner's columnar problem (one route per lane)."""
    skus = sorted({sku for s in instance.sources for sku in s.inventory})
    sku_ix = {s: i for i, s in enumerate(skus)}
    src_ix = {s.id: i for i, s in enumerate(instance.sources)}
    dests = sorted({o.dest for o in instance.orders} | {ln.dest for ln in instance.lanes})
    dest_ix = {d: i for i, d in enumerate(dests)}
    inventory = np.zeros((len(instance.sources), len(skus)), dtype=np.int64)
    for i, s in enumerate(instance.sources):
        for sku, qty in s.inventory.items():
            inventory[i, sku_ix[sku]] = qty
    line_order: list[int] = []
    line_sku: list[int] = []
    line_qty: list[int] = []
    line_weight: list[float] = []
    for i, o in enumerate(instance.orders):
        items = o.items()
        total = sum(it.qty for it in items)
        for it in items:
            line_order.append(i)
            line_sku.append(sku_ix[it.sku])
            line_qty.append(it.qty)
            line_weight.append(o.weight_kg * it.qty / total)  # a split line carries its share
    n = len(instance.orders)
    orders = OrderColumns(
        dest=np.array([dest_ix[o.dest] for o in instance.orders], dtype=np.int64),
        promise_days=np.array([o.promise_days for o in instance.orders], dtype=np.float64),
        penalty=np.full(n, instance.unassigned_penalty),
        split=np.array([o.split for o in instance.orders], dtype=bool),
        line_order=np.array(line_order, dtype=np.int64),
        line_sku=np.array(line_sku, dtype=np.int64),
        line_qty=np.array(line_qty, dtype=np.int64),
        line_weight=np.array(line_weight, dtype=np.float64),
    )
    country = {s.id: s.country for s in instance.sources}
    routes = tuple(
        Route(
            name=ln.id,
            source=src_ix[ln.source],
            dest=dest_ix[ln.dest],
            lane=k,
            per_kg=ln.cost_per_kg,
            per_parcel=ln.cost_per_parcel,
            transit_mean=ln.transit_days,
            transit_p95=ln.transit_p95_days,
            domestic=country[ln.source] == ln.dest,
        )
        for k, ln in enumerate(instance.lanes)
    )
    lanes = LaneColumns(np.array([ln.capacity_kg for ln in instance.lanes], dtype=np.float64))
    network = Network(inventory, lanes, routes, instance.late_penalty_per_day)
    return build(orders, network)


def plan_report(instance: Instance, problem: Problem, plan: Plan) -> dict[str, Any]:
    """The JSON answer: one assignment per order, the cost, the lower bound and the gap."""
    reasons = unit_reasons(problem, plan.choice)
    source_ids = [s.id for s in instance.sources]
    parts: dict[int, list[dict[str, Any]]] = {}
    for u, opt in enumerate(plan.choice.tolist()):
        o = int(problem.unit_order[u])
        entry: dict[str, Any]
        if opt >= 0:
            entry = {
                "source": source_ids[int(problem.opt_source[opt])],
                "lane": problem.route_names[int(problem.opt_route[opt])],
            }
        else:
            entry = {"source": None, "lane": None, "reason": reasons[u]}
        parts.setdefault(o, []).append(entry)
    assignments: list[dict[str, Any]] = []
    for i, order in enumerate(instance.orders):
        got = parts[i]
        row: dict[str, Any] = {"order": order.id, **got[0]}
        if len(got) > 1:
            items = order.items()
            row["parts"] = [
                {"sku": it.sku, "qty": it.qty, **p} for it, p in zip(items, got, strict=True)
            ]
        assignments.append(row)
    unserved = int((plan.choice < 0).sum())
    return {
        "assignments": assignments,
        "cost": round(plan.cost, 6),
        "lower_bound": round(plan.lower_bound, 6),
        "gap": round(plan.gap, 9),
        "method": plan.method,
        "unassigned": unserved,
        "seconds": round(plan.seconds, 4),
    }
