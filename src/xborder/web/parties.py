"""A party's own pages: a seller (or marketplace) sees its orders and its statement, a carrier
(or warehouse) its parcels and their exceptions. The services filter by the principal's party
(``services.tenancy``); these handlers only choose the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from xborder.services.access import ApiRole, Principal
from xborder.services.tenancy import (
    OrdersFor,
    ParcelsFor,
    StatementFor,
    list_orders_for,
    parcels_for,
    require_role,
    statement_for,
)
from xborder.services.web_views import TROUBLE, network_names, order_rows, parcel_row, party_names
from xborder.web.render import PAGE_ROWS, page, platform_of, render

router = APIRouter(include_in_schema=False)
TROUBLE_ROWS = 20


@router.get("/seller", response_class=HTMLResponse)
def seller(request: Request, status: str | None = None, cursor: str | None = None) -> Response:
    def build(principal: Principal) -> Response:
        require_role(principal, ApiRole.SELLER, ApiRole.PLATFORM)
        principal.require("orders:read")
        uow = platform_of(request).uow
        got = list_orders_for(uow(), OrdersFor(principal, status or None, cursor, PAGE_ROWS))
        rows = order_rows(uow(), got.items)
        names = party_names(uow(), [principal.party_id])
        statement = None
        if principal.has("ledger:read"):
            statement = statement_for(uow(), StatementFor(principal))
        return render(request, "seller.html", principal=principal, rows=rows, status=status,
                      cursor=cursor, next_cursor=got.next_cursor, statement=statement,
                      party_name=names.get(principal.party_id, principal.party_id))  # fmt: skip

    return page(request, build)


@router.get("/carrier", response_class=HTMLResponse)
def carrier(request: Request, status: str | None = None, cursor: str | None = None) -> Response:
    def build(principal: Principal) -> Response:
        require_role(principal, ApiRole.CARRIER, ApiRole.WAREHOUSE)
        principal.require("parcels:read")
        uow = platform_of(request).uow
        got = parcels_for(uow(), ParcelsFor(principal, status or None, cursor, PAGE_ROWS))
        trouble = []
        for state in TROUBLE:
            trouble += parcels_for(uow(), ParcelsFor(principal, state.value, None,
                                                     TROUBLE_ROWS)).items  # fmt: skip
        names = network_names(uow())
        party = party_names(uow(), [principal.party_id])
        return render(request, "carrier.html", principal=principal, status=status, cursor=cursor,
                      rows=[parcel_row(p, names) for p in got.items],
                      trouble=[parcel_row(p, names) for p in trouble],
                      next_cursor=got.next_cursor,
                      party_name=party.get(principal.party_id, principal.party_id))  # fmt: skip

    return page(request, build)
