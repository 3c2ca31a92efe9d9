"""The buyer's tracking: no key, the destination postcode is the proof; a wrong one is a 404."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from xborder.api.deps import platform
from xborder.api.models import Instant
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.services.tenancy_public import TrackPublic, track_public

router = APIRouter(tags=["tracking"], responses=PROBLEM_RESPONSES)


class TrackingPoint(BaseModel):
    time: Instant
    status: str
    place: str | None = None


class Tracking(BaseModel):
    tracking_no: str
    state: str | None = None
    status: str | None = None
    promised_by: date | None = None
    estimated_by: date | None = None
    delivered_at: Instant | None = None
    timeline: list[TrackingPoint]


@router.get("/track/{tracking_no}", response_model=Tracking,
            summary="Track a parcel with its destination postcode (public)")  # fmt: skip
def get_tracking(
    tracking_no: str = Path(..., min_length=1, max_length=40),
    postcode: str = Query(..., min_length=1, max_length=20),
    plat: Platform = Depends(platform),
) -> Tracking:
    view = track_public(plat.uow(), TrackPublic(tracking_no, postcode))
    return Tracking(
        tracking_no=view.tracking_no, state=view.state, status=view.status,
        promised_by=view.promised_by, estimated_by=view.estimated_by,
        delivered_at=view.delivered_at,
        timeline=[TrackingPoint(time=p.time, status=p.status, place=p.place)
                  for p in view.timeline],
    )  # fmt: skip
