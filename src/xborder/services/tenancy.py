"""Tenant-filtered reads: every read the HTTP API serves, confined to the calling party.

Each use case takes the ``Principal`` and asks a repository that turns the party into the WHERE
clause (``store/tenancy_repo.py``), so isolation does not depend on a route remembering to
filter. An object outside the caller's tenancy raises ``NotFound``, exactly as one that does not
exist: the answer never tells another party's ids from unused ones. Role checks for actions
that belong to one kind of party (planning, network KPIs) raise ``Forbidden``.

Lists are pages with an opaque, stable cursor (base64 of the last sort key): rows that arrive
while a client pages through do not shift the pages it has not read yet.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Generic, TypeVar

from xborder.domain.errors import Forbidden, InvalidValue, NotFound
from xborder.domain.lifecycle import ParcelStatus
from xborder.domain.money import Money
from xborder.domain.orders import OrderStatus
from xborder.services.access import ApiRole, Principal
from xborder.services.kpis import KpiReport, MeasureKpis, measure_kpis
from xborder.services.queries import OrderView, show_order
from xborder.services.settlement_statements import Statement, StatementQuery, statement
from xborder.services.trace import ShowParcel, Timeline, Viewer, show
from xborder.store.uow import UnitOfWork

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_KPI_DAYS = 3660  # a KPI request covers at most ten years (one row per day in the timeline)
ORDER_STATUSES = tuple(s.value for s in OrderStatus)
PARCEL_STATUSES = tuple(s.value for s in ParcelStatus)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; ``next_cursor`` (None on the last page) asks for the next one."""

    items: list[T]
    next_cursor: str | None
    limit: int


def encode_cursor(key: int | str) -> str:
    """An opaque cursor: the last row's sort key, as URL-safe base64 of JSON."""
    return base64.urlsafe_b64encode(json.dumps([key]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type[int] | type[str]) -> Any:
    """The sort key inside ``cursor`` (None for the first page); ``InvalidValue`` when the cursor
    was not made by this list."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidValue("cursor", "not a cursor of this list", cursor) from None
    if not (isinstance(value, list) and len(value) == 1):
        raise InvalidValue("cursor", "not a cursor of this list", cursor)
    key = value[0]
    if kind is int and (isinstance(key, bool) or not isinstance(key, int)):
        raise InvalidValue("cursor", "not a cursor of this list", cursor)
    if kind is str and not isinstance(key, str):
        raise InvalidValue("cursor", "not a cursor of this list", cursor)
    return key


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue("limit", f"must be 1 to {MAX_LIMIT}", limit)
    return limit


def page_of(rows: list[dict[str, Any]], limit: int, key: str) -> Page[dict[str, Any]]:
    """A page from ``limit + 1`` fetched rows: the extra row only says there is a next page."""
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items, encode_cursor(items[-1][key]) if more and items else None, limit)


def require_role(principal: Principal, *roles: ApiRole) -> None:
    """``Forbidden`` unless the principal's role is one of ``roles``."""
    if principal.role not in roles:
        named = " or ".join(r.value for r in roles)
        raise Forbidden(f"only a {named} key may do this")


def tenant(principal: Principal) -> tuple[str, str]:
    """(role, party) as the tenancy repository filters on them."""
    return principal.role.value, principal.party_id


def check_status(value: str | None, allowed: tuple[str, ...], field: str = "status") -> str | None:
    if value is not None and value not in allowed:
        raise InvalidValue(field, f"one of {', '.join(allowed)}", value)
    return value


# --- orders -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrdersFor:
    principal: Principal
    status: str | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def list_orders_for(uow: UnitOfWork, command: OrdersFor) -> Page[dict[str, Any]]:
    """The caller's orders, newest first; money as ``Money`` (``goods``, ``freight``)."""
    limit = check_limit(command.limit)
    status = check_status(command.status, ORDER_STATUSES)
    before = decode_cursor(command.cursor, int)
    role, party = tenant(command.principal)
    with uow:
        rows = uow.tenancy.orders(role, party, status=status, before=before, limit=limit + 1)
    for row in rows:
        currency = str(row["currency"])
        row["goods"] = Money.from_minor(int(row.pop("goods_minor")), currency)
        row["freight"] = Money.from_minor(int(row.pop("freight_minor")), currency)
    return page_of(rows, limit, "id")


@dataclass(frozen=True, slots=True)
class OrderFor:
    principal: Principal
    order_id: int


def order_for(uow: UnitOfWork, command: OrderFor) -> OrderView:
    """One of the caller's orders with its parcels, declaration, escrow and timeline."""
    role, party = tenant(command.principal)
    with uow:
        if not uow.tenancy.order_visible(role, party, command.order_id):
            raise NotFound(f"order {command.order_id} does not exist")
        return show_order(uow, command.order_id)


# --- payments ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PaymentsFor:
    principal: Principal
    order_id: int | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def payments_for(uow: UnitOfWork, command: PaymentsFor) -> Page[dict[str, Any]]:
    """Payments the caller may see (its own as a provider; of its orders as seller or
    platform), newest first, ``amount`` as ``Money``."""
    limit = check_limit(command.limit)
    before = decode_cursor(command.cursor, int)
    role, party = tenant(command.principal)
    with uow:
        rows = uow.tenancy.payments(
            role, party, order_id=command.order_id, before=before, limit=limit + 1
        )
    for row in rows:
        row["amount"] = Money.from_minor(int(row.pop("amount_minor")), str(row["currency"]))
    return page_of(rows, limit, "id")


# --- parcels ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ParcelsFor:
    principal: Principal
    status: str | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def parcels_for(uow: UnitOfWork, command: ParcelsFor) -> Page[dict[str, Any]]:
    """Parcels the caller carries, packs, or (seller, platform) ships, by parcel id."""
    limit = check_limit(command.limit)
    status = check_status(command.status, PARCEL_STATUSES)
    after = decode_cursor(command.cursor, str)
    role, party = tenant(command.principal)
    with uow:
        rows = uow.tenancy.parcels(role, party, status=status, after=after, limit=limit + 1)
    return page_of(rows, limit, "id")


@dataclass(frozen=True, slots=True)
class ParcelFor:
    principal: Principal
    tracking_no: str


@dataclass(frozen=True, slots=True)
class ParcelView:
    parcel: dict[str, Any]
    timeline: Timeline


def parcel_for(uow: UnitOfWork, command: ParcelFor) -> ParcelView:
    """One parcel of the caller's with its full timeline (parties, events) and exceptions."""
    role, party = tenant(command.principal)
    with uow:
        row = uow.tenancy.parcel(role, party, command.tracking_no)
        if row is None:
            raise NotFound(f"parcel {command.tracking_no} does not exist")
        # tenancy was decided above, in SQL; the trace read shows the whole record
        timeline = show(uow, ShowParcel(command.tracking_no, viewer=Viewer.operator()))
    return ParcelView(row, timeline)


# --- money, plans, KPIs -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StatementFor:
    """The caller's own statement; an operator may name any ``party``."""

    principal: Principal
    party: str | None = None
    since: date | None = None
    until: date | None = None


def statement_for(uow: UnitOfWork, command: StatementFor) -> Statement:
    principal = command.principal
    party = command.party or principal.party_id
    if party != principal.party_id and principal.role is not ApiRole.OPERATOR:
        raise NotFound(f"party {party} has no statement you may see")
    return statement(uow, StatementQuery(party, command.since, command.until))


@dataclass(frozen=True, slots=True)
class KpisFor:
    principal: Principal
    period_days: int = 7
    start: date | None = None
    until: date | None = None
    currency: str = "CNY"


def kpis_for(uow: UnitOfWork, command: KpisFor) -> KpiReport:
    """The network's KPIs: the operator's view (and a platform's, which runs the network)."""
    require_role(command.principal, ApiRole.OPERATOR, ApiRole.PLATFORM)
    with uow:
        today = uow.clock.now().date()
    until = command.until or today
    if until > today + timedelta(days=MAX_KPI_DAYS):
        raise InvalidValue("until", f"at most {MAX_KPI_DAYS} days after today", until.isoformat())
    if command.start is not None and (until - command.start).days > MAX_KPI_DAYS:
        raise InvalidValue("start", f"at most {MAX_KPI_DAYS} days before until",
                           command.start.isoformat())  # fmt: skip
    return measure_kpis(
        uow,
        MeasureKpis(command.period_days, command.start, command.until, command.currency),
    )


@dataclass(frozen=True, slots=True)
class LatestPlanFor:
    principal: Principal


def latest_plan_for(uow: UnitOfWork, command: LatestPlanFor) -> dict[str, Any]:
    """The last plan run (orders, assigned, cost): network-wide, so the operator's alone."""
    require_role(command.principal, ApiRole.OPERATOR)
    with uow:
        row = uow.tenancy.latest_plan()
    if row is None:
        raise NotFound("no plan has been made yet")
    currency = str(row["currency"])
    row["cost"] = Money.from_minor(int(row.pop("cost_minor")), currency)
    row["lower_bound"] = Money.from_minor(int(row.pop("lower_bound_minor")), currency)
    return row
