"""The buyer's view of one parcel, found by tracking number plus destination postcode.

A buyer holds no key: the postcode is the proof. The view is the timeline in plain words with
place names, the promised and the estimated delivery date and the current state; nothing more
(no parties, no event ids, no custodian of an exception). A wrong postcode is ``NotFound``,
the same answer as an unknown tracking number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from xborder.domain.errors import InvalidValue, NotFound
from xborder.services.trace import NotVisible, ShowParcel, show
from xborder.store.uow import UnitOfWork

MAX_TRACKING = 40
MAX_POSTCODE = 20


@dataclass(frozen=True, slots=True)
class TrackPublic:
    tracking_no: str
    postcode: str


@dataclass(frozen=True, slots=True)
class PublicPoint:
    time: datetime
    status: str  # lifecycle words ("Departed", "Out for delivery")
    place: str | None  # a place name where the store knows one


@dataclass(frozen=True, slots=True)
class PublicTracking:
    tracking_no: str
    state: str | None  # the parcel's lifecycle state (``ParcelStatus``), None before packing
    status: str | None  # the last step in words
    promised_by: date | None
    estimated_by: date | None
    delivered_at: datetime | None
    timeline: list[PublicPoint]


def _estimate(row: dict[str, object], today: date) -> date | None:
    """Delivered: its day. Otherwise the day it left (or will leave, or was packed) plus the
    lane's and last mile's mean transit days, never before today."""
    delivered = row.get("delivered_at")
    if isinstance(delivered, datetime):
        return delivered.date()
    start: date | None = None
    for key in ("departed_at", "departure_date", "packed_at"):
        value = row.get(key)
        if isinstance(value, datetime):
            start = value.date()
            break
        if isinstance(value, date):
            start = value
            break
    if start is None:
        return None
    days = sum(float(v) for k in ("lane_days", "last_mile_days")
               if isinstance(v := row.get(k), int | float))  # fmt: skip
    return max(start + timedelta(days=math.ceil(days)), today)


def track_public(uow: UnitOfWork, command: TrackPublic) -> PublicTracking:
    tracking = command.tracking_no.strip()
    postcode = command.postcode.strip()
    if not tracking or len(tracking) > MAX_TRACKING:
        raise InvalidValue("tracking_no", f"must be 1 to {MAX_TRACKING} characters")
    if not postcode or len(postcode) > MAX_POSTCODE:
        raise InvalidValue("postcode", f"must be 1 to {MAX_POSTCODE} characters")
    with uow:
        try:
            timeline = show(uow, ShowParcel(tracking, postcode=postcode))
        except (NotVisible, NotFound):
            raise NotFound(f"no parcel {tracking} for that postcode") from None
        row = uow.tenancy.public_parcel(tracking)
        today = uow.clock.now().date()
    points = [PublicPoint(p.time, p.status, p.place if p.place != p.location else None)
              for p in timeline.points]  # fmt: skip
    if row is None:  # registered in the trace ledger but not packed by this platform
        return PublicTracking(tracking, None, timeline.status, None, None, None, points)
    delivered = row["delivered_at"] if isinstance(row["delivered_at"], datetime) else None
    return PublicTracking(
        tracking_no=tracking,
        state=str(row["status"]),
        status=timeline.status,
        promised_by=row["promised_by"],
        estimated_by=_estimate(row, today),
        delivered_at=delivered,
        timeline=points,
    )
