"""The status machine of a CBEC declaration list, driven by the customs receipt codes.

Receipt codes (``returnStatus`` of the CEB622 receipt to a CEB621 list, GACC Announcement
56/2018 and the China E-Port CBEC message manual): 2 declared at the e-port, 120 accepted into
the customs system, 300 held for manual review, 399 concluded, 500 inspection, 800 released,
899 closed, 100 rejected, 700 returned (sent back). Any transition not listed is refused with a
clear error: a receipt cannot, say, release a list customs has rejected.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from xborder.domain.errors import Conflict, InvalidValue


class Status(StrEnum):
    NEW = "new"
    DECLARED = "declared"
    ACCEPTED = "accepted"
    MANUAL_REVIEW = "manual_review"
    CONCLUDED = "concluded"
    INSPECTION = "inspection"
    RELEASED = "released"
    CLOSED = "closed"
    REJECTED = "rejected"
    RETURNED = "returned"
    REFUNDED = "refunded"  # goods returned by the buyer within the window: tax given back


RECEIPT_CODES = MappingProxyType(
    {
        "2": Status.DECLARED,
        "120": Status.ACCEPTED,
        "300": Status.MANUAL_REVIEW,
        "399": Status.CONCLUDED,
        "500": Status.INSPECTION,
        "800": Status.RELEASED,
        "899": Status.CLOSED,
        "100": Status.REJECTED,
        "700": Status.RETURNED,
    }
)

TRANSITIONS = MappingProxyType(
    {
        Status.NEW: frozenset({Status.DECLARED, Status.REJECTED}),
        Status.DECLARED: frozenset({Status.ACCEPTED, Status.REJECTED}),
        Status.ACCEPTED: frozenset(
            {Status.MANUAL_REVIEW, Status.CONCLUDED, Status.INSPECTION, Status.REJECTED}
        ),
        Status.MANUAL_REVIEW: frozenset({Status.CONCLUDED, Status.INSPECTION, Status.REJECTED}),
        Status.CONCLUDED: frozenset({Status.INSPECTION, Status.RELEASED}),
        Status.INSPECTION: frozenset(
            {Status.CONCLUDED, Status.RELEASED, Status.RETURNED, Status.REJECTED}
        ),
        Status.RELEASED: frozenset({Status.CLOSED, Status.RETURNED, Status.REFUNDED}),
        Status.CLOSED: frozenset({Status.REFUNDED}),
        Status.REJECTED: frozenset(),
        Status.RETURNED: frozenset(),
        Status.REFUNDED: frozenset(),
    }
)
# Statuses after which the goods count as cleared into the buyer's annual CBEC total.
COUNTED = frozenset({Status.RELEASED, Status.CLOSED})


def status_for(code: str) -> Status:
    """The status a receipt code moves a declaration to."""
    key = str(code).strip()
    if key not in RECEIPT_CODES:
        raise InvalidValue("code", f"not a known receipt code ({', '.join(RECEIPT_CODES)})", code)
    return RECEIPT_CODES[key]


def advance(current: Status, code: str) -> Status:
    """Apply a receipt code; repeating the current status is idempotent."""
    target = status_for(code)
    if target == current:
        return current
    if target not in TRANSITIONS[current]:
        raise Conflict(f"receipt {code} ({target.value}) is not allowed after {current.value}")
    return target
