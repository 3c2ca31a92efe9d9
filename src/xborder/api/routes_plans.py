"""Plans and the lifecycle actions of the network: plan, pack, consolidate.

Planning and bagging work over the whole network and are the operator's; a warehouse packs the
orders planned at its warehouses.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from xborder.api.deps import platform, scoped
from xborder.api.models import MAX_ID, Instant, MoneyModel, money
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.domain.errors import InvalidValue
from xborder.services.access import Principal
from xborder.services.tenancy import LatestPlanFor, latest_plan_for
from xborder.services.tenancy_actions import (
    ConsolidateFor,
    PackFor,
    PlanFor,
    consolidate_for,
    pack_for,
    plan_for,
)

router = APIRouter(responses=PROBLEM_RESPONSES)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["auto", "mip", "lp"] = "auto"
    replan: bool = False
    order_ids: list[int] | None = Field(None, max_length=100_000)


class RouteCount(BaseModel):
    warehouse: str
    lane: str
    orders: int


class PlanOut(BaseModel):
    plan_id: int | None
    orders: int
    assigned: int
    released: int
    cost: str = Field(description="exact decimal in currency")
    currency: str
    gap: float
    method: str
    seconds: float
    reasons: dict[str, int]
    routes: list[RouteCount]


class PlanRun(BaseModel):
    id: int
    created_at: Instant
    method: str
    orders: int
    assigned: int
    cost: MoneyModel
    lower_bound: MoneyModel
    gap: float
    seconds: float


class PackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_ids: list[int] | None = Field(None, max_length=100_000)


class PackOut(BaseModel):
    parcels: int
    events: int
    tracking_numbers: list[str]


class ConsolidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    one_per_bag: bool = False


class LaneFill(BaseModel):
    lane: str
    consolidations: int
    mean_fill_rate: float


class ConsolidateOut(BaseModel):
    consolidations: int
    parcels: int
    mean_fill_rate: float
    events: int
    lanes: list[LaneFill]
    bag_ids: list[str]


def _ids(values: list[int] | None) -> tuple[int, ...] | None:
    if values is None:
        return None
    bad = next((v for v in values if not 1 <= v <= MAX_ID), None)
    if bad is not None:
        raise InvalidValue("order_ids", "ids are 1 or more", bad)
    return tuple(values)


@router.post("/plans", response_model=PlanOut, tags=["plans"],
             summary="Plan the open orders (operator)")  # fmt: skip
def post_plan(
    body: PlanIn,
    caller: Principal = Depends(scoped("plans:write")),
    plat: Platform = Depends(platform),
) -> PlanOut:
    result = plan_for(plat.uow(), PlanFor(caller, body.method, body.replan, _ids(body.order_ids)))
    return PlanOut(
        plan_id=result.plan_id, orders=result.orders, assigned=result.assigned,
        released=result.released, cost=f"{result.cost:.2f}", currency=result.currency,
        gap=result.gap, method=result.method, seconds=result.seconds,
        reasons=dict(result.reasons), routes=[RouteCount(**r) for r in result.routes],
    )  # fmt: skip


@router.get("/plans/latest", response_model=PlanRun, tags=["plans"],
            summary="The last plan run (operator)")  # fmt: skip
def get_latest_plan(
    caller: Principal = Depends(scoped("plans:read")),
    plat: Platform = Depends(platform),
) -> PlanRun:
    row = latest_plan_for(plat.uow(), LatestPlanFor(caller))
    return PlanRun(**{**row, "cost": money(row["cost"]),
                      "lower_bound": money(row["lower_bound"])})  # fmt: skip


@router.post("/parcels/pack", response_model=PackOut, tags=["parcels"],
             summary="Pack planned orders (operator; a warehouse its own)")  # fmt: skip
def post_pack(
    body: PackIn,
    caller: Principal = Depends(scoped("parcels:write")),
    plat: Platform = Depends(platform),
) -> PackOut:
    result = pack_for(plat.uow(), PackFor(caller, _ids(body.order_ids)))
    return PackOut(parcels=result.parcels, events=result.events,
                   tracking_numbers=list(result.tracking_numbers))  # fmt: skip


@router.post("/consolidations", response_model=ConsolidateOut, tags=["parcels"],
             summary="Bag the packed parcels per lane departure (operator)")  # fmt: skip
def post_consolidations(
    body: ConsolidateIn,
    caller: Principal = Depends(scoped("parcels:write")),
    plat: Platform = Depends(platform),
) -> ConsolidateOut:
    result = consolidate_for(plat.uow(), ConsolidateFor(caller, body.one_per_bag))
    return ConsolidateOut(
        consolidations=result.consolidations, parcels=result.parcels,
        mean_fill_rate=result.mean_fill_rate, events=result.events,
        lanes=[LaneFill(**ln) for ln in result.lanes], bag_ids=list(result.bag_ids),
    )  # fmt: skip
