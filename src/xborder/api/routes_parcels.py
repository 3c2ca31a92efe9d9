"""Parcels: the ones you carry, pack or ship, each with its timeline and exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from xborder.api.deps import platform, scoped
from xborder.api.models import Instant
from xborder.api.pagination import PageModel, PageParams, page_params
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.domain.lifecycle import ParcelStatus
from xborder.services.access import Principal
from xborder.services.tenancy import ParcelFor, ParcelsFor, parcel_for, parcels_for

router = APIRouter(tags=["parcels"], responses=PROBLEM_RESPONSES)
TRACKING = Path(..., min_length=1, max_length=40, description="tracking number (XB...)")


class ParcelOut(BaseModel):
    id: str
    order_id: int
    tracking_no: str
    sscc: str
    status: str
    status_at: Instant | None = None
    warehouse_id: str
    lane_id: str | None = None
    last_mile_id: str | None = None
    consolidation_id: str | None = None
    master_waybill: str | None = None
    destination_country: str | None = None
    promised_by: date | None = None
    packed_at: Instant | None = None
    departed_at: Instant | None = None
    delivered_at: Instant | None = None


class Checkpoint(BaseModel):
    time: Instant
    status: str
    place: str | None = None
    location: str | None = None
    party: str | None = None
    party_name: str | None = None
    event_type: str | None = None
    biz_step: str | None = None
    disposition: str | None = None
    event_id: str | None = None


class ParcelException(BaseModel):
    kind: str
    at: Instant
    custodian: str | None = None
    detail: str


class ParcelDetail(BaseModel):
    parcel: ParcelOut
    status: str | None
    timeline: list[Checkpoint]
    exceptions: list[ParcelException]


@router.get("/parcels", response_model=PageModel[ParcelOut],
            summary="Parcels you carry, pack, or ship")  # fmt: skip
def get_parcels(
    status: ParcelStatus | None = Query(None),
    page: PageParams = Depends(page_params),
    caller: Principal = Depends(scoped("parcels:read")),
    plat: Platform = Depends(platform),
) -> PageModel[ParcelOut]:
    found = parcels_for(
        plat.uow(), ParcelsFor(caller, status.value if status else None, page.cursor, page.limit)
    )
    items = [ParcelOut(**row) for row in found.items]
    return PageModel[ParcelOut](items=items, next_cursor=found.next_cursor, limit=found.limit)


@router.get("/parcels/{tracking_no}", response_model=ParcelDetail,
            summary="One parcel: its timeline (every event) and exceptions")  # fmt: skip
def get_parcel(
    tracking_no: str = TRACKING,
    caller: Principal = Depends(scoped("parcels:read")),
    plat: Platform = Depends(platform),
) -> ParcelDetail:
    view = parcel_for(plat.uow(), ParcelFor(caller, tracking_no))
    timeline = view.timeline
    return ParcelDetail(
        parcel=ParcelOut(**view.parcel),
        status=timeline.status,
        timeline=[
            Checkpoint(time=p.time, status=p.status, place=p.place, location=p.location,
                       party=p.party, party_name=p.party_name, event_type=p.event_type,
                       biz_step=p.biz_step, disposition=p.disposition, event_id=p.event_id)
            for p in timeline.points
        ],
        exceptions=[
            ParcelException(kind=f.kind.value, at=datetime.fromtimestamp(f.at_ms / 1000, UTC),
                            custodian=timeline.party_names.get(f.custodian or "", f.custodian),
                            detail=f.detail)
            for f in timeline.exceptions
        ],
    )  # fmt: skip
