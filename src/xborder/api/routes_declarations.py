"""Customs declarations: yours (a broker's into its country, a seller's of its orders), each
with its three-document match, and the China CEB XML messages of a declared order."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from xborder.api.deps import platform, scoped
from xborder.api.models import MAX_ID, Instant, MoneyModel, money
from xborder.api.pagination import PageModel, PageParams, page_params
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.services.access import Principal
from xborder.services.customs import Status
from xborder.services.tenancy_customs import (
    CebFor,
    DeclarationFor,
    DeclarationsFor,
    ceb_for,
    declaration_for,
    declarations_for,
)

router = APIRouter(tags=["customs"], responses=PROBLEM_RESPONSES)
ORDER_ID = Path(..., ge=1, le=MAX_ID)


class DeclarationSummary(BaseModel):
    id: int
    order_id: int | None
    order_no: str
    status: str
    regime: str
    destination: str
    channel: str
    declared_on: date
    total_tax: MoneyModel
    landed_cost: MoneyModel
    match_status: str | None = None


class DeclarationEvent(BaseModel):
    seq: int
    code: str | None = None
    status: str
    at: Instant
    note: str


class MatchProblemOut(BaseModel):
    rule: str | None = None
    field: str | None = None
    expected: str | None = None
    actual: str | None = None


class DeclarationDetail(BaseModel):
    order_id: int
    order_no: str
    status: str
    regime: str
    destination: str
    channel: str
    tax_payer: str
    collected_at: str
    declared_on: date
    released_on: date | None = None
    amounts: dict[str, MoneyModel]
    events: list[DeclarationEvent]
    match_status: str | None = None
    match_checked_on: date | None = None
    problems: list[MatchProblemOut]


@router.get("/declarations", response_model=PageModel[DeclarationSummary],
            summary="Declarations you file or that concern your orders; newest first")  # fmt: skip
def get_declarations(
    status: Status | None = Query(None),
    page: PageParams = Depends(page_params),
    caller: Principal = Depends(scoped("customs:read")),
    plat: Platform = Depends(platform),
) -> PageModel[DeclarationSummary]:
    found = declarations_for(
        plat.uow(),
        DeclarationsFor(caller, status.value if status else None, page.cursor, page.limit),
    )
    items = [
        DeclarationSummary(**{**row, "total_tax": money(row["total_tax"]),
                              "landed_cost": money(row["landed_cost"])})
        for row in found.items
    ]  # fmt: skip
    return PageModel[DeclarationSummary](
        items=items, next_cursor=found.next_cursor, limit=found.limit
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@router.get("/declarations/{order_id}", response_model=DeclarationDetail,
            summary="One order's declaration with its three-document match")  # fmt: skip
def get_declaration(
    order_id: int = ORDER_ID,
    caller: Principal = Depends(scoped("customs:read")),
    plat: Platform = Depends(platform),
) -> DeclarationDetail:
    view = declaration_for(plat.uow(), DeclarationFor(caller, order_id))
    return DeclarationDetail(
        order_id=view.order_id, order_no=view.order_no, status=view.status, regime=view.regime,
        destination=view.destination, channel=view.channel, tax_payer=view.tax_payer,
        collected_at=view.collected_at, declared_on=view.declared_on,
        released_on=view.released_on,
        amounts={k: money(v) for k, v in view.amounts.items()},
        events=[DeclarationEvent(**e) for e in view.events],
        match_status=view.match_status, match_checked_on=view.match_checked_on,
        problems=[MatchProblemOut(**{k: _text(p.get(k)) for k in MatchProblemOut.model_fields})
                  for p in view.problems],
    )  # fmt: skip


@router.get(
    "/declarations/{order_id}/ceb/{message_type}",
    response_class=Response,
    responses={200: {"description": "The CEB XML message",
                     "content": {"application/xml": {"schema": {"type": "string"}}}}},
    summary="A China CEB message of a declared import order (CEB311, CEB411, CEB511, CEB621)",
)  # fmt: skip
def get_ceb(
    message_type: Literal["CEB311", "CEB411", "CEB511", "CEB621"],
    order_id: int = ORDER_ID,
    caller: Principal = Depends(scoped("customs:read")),
    plat: Platform = Depends(platform),
) -> Response:
    xml = ceb_for(plat.uow(), CebFor(caller, order_id, message_type))
    return Response(xml, media_type="application/xml")
