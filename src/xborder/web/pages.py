"""The web pages (mounted at ``/`` by the API app): thin handlers over the use cases.

``/`` the operator's dashboard (other roles are sent to their own page), ``/login`` and
``/logout``, ``/track?tracking_no=&postcode=`` for buyers (no login), the operator's
``/dashboard/orders``, ``/dashboard/parcels`` (both tenant-filtered, so a seller may open them
too), ``/dashboard/declarations`` and ``/dashboard/balances``, ``/seller`` and ``/carrier`` for
parties, ``/simulations``. The API owns ``/orders``, ``/parcels``, ``/track/{no}`` (JSON).
Lists page with the services' cursors (``?cursor=``)
or offsets. ``render.py`` has the session and the error pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xborder.domain.errors import DomainError, Unauthorized
from xborder.services.access import ApiRole, Principal
from xborder.services.api_keys import Authenticate, authenticate
from xborder.services.network_view import show_network
from xborder.services.tenancy import OrdersFor, ParcelsFor, list_orders_for, parcels_for
from xborder.services.tenancy_public import TrackPublic, track_public
from xborder.services.web_views import (
    ListBalances,
    ListMatchProblems,
    ShowDashboard,
    balance_page,
    dashboard,
    declarations_with_problems,
    network_names,
    operator_only,
    order_rows,
    parcel_row,
)
from xborder.web import format as fmt
from xborder.web.i18n import parcel_state, step_label
from xborder.web.map import render_map
from xborder.web.parties import router as parties_router
from xborder.web.render import (
    COOKIE,
    PAGE_ROWS,
    SESSION_SECONDS,
    page,
    platform_of,
    principal_or_none,
    render,
    safe_next,
    same_origin,
)

router = APIRouter(include_in_schema=False)
router.include_router(parties_router)


# --- login ------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=safe_next(next), failed=False)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
    if not same_origin(request):
        return render(request, "error.html", 403, status=403, message="Cross-site request.")
    token = token.strip()
    try:
        authenticate(platform_of(request).uow(), Authenticate(token))
    except Unauthorized:
        return render(request, "login.html", 401, next=safe_next(next), failed=True)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE, token, max_age=SESSION_SECONDS, path="/", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.api_route("/logout", methods=["GET", "POST"])
def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# --- the operator's dashboard and lists ---------------------------------------------------------
HOME = {ApiRole.SELLER: "/seller", ApiRole.PLATFORM: "/seller", ApiRole.CARRIER: "/carrier",
        ApiRole.WAREHOUSE: "/carrier"}  # fmt: skip


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    def build(principal: Principal) -> Response:
        if not principal.is_operator:
            if principal.role in HOME:
                return RedirectResponse(HOME[principal.role], status_code=303)
            return render(request, "home.html", principal=principal)
        uow = platform_of(request).uow
        view = dashboard(uow(), ShowDashboard(principal))
        svg = render_map(show_network(uow()), title="Warehouses and lanes")
        sparks = {f.key: fmt.sparkline(f.trend, f.key) for f in view.kpis}
        return render(request, "dashboard.html", principal=principal, view=view, map_svg=svg,
                      sparks=sparks)  # fmt: skip

    return page(request, build)


@router.get("/dashboard/orders", response_class=HTMLResponse)
def orders(request: Request, status: str | None = None, cursor: str | None = None) -> Response:
    def build(principal: Principal) -> Response:
        principal.require("orders:read")
        uow = platform_of(request).uow
        got = list_orders_for(uow(), OrdersFor(principal, status or None, cursor, PAGE_ROWS))
        rows = order_rows(uow(), got.items)
        return render(request, "orders.html", principal=principal, rows=rows, status=status,
                      next_cursor=got.next_cursor, cursor=cursor)  # fmt: skip

    return page(request, build)


@router.get("/dashboard/parcels", response_class=HTMLResponse)
def parcels(request: Request, status: str | None = None, cursor: str | None = None) -> Response:
    def build(principal: Principal) -> Response:
        principal.require("parcels:read")
        uow = platform_of(request).uow
        got = parcels_for(uow(), ParcelsFor(principal, status or None, cursor, PAGE_ROWS))
        names = network_names(uow())
        rows = [parcel_row(p, names) for p in got.items]
        return render(request, "parcels.html", principal=principal, rows=rows, status=status,
                      next_cursor=got.next_cursor, cursor=cursor)  # fmt: skip

    return page(request, build)


@router.get("/dashboard/declarations", response_class=HTMLResponse)
def declarations(request: Request) -> Response:
    def build(principal: Principal) -> Response:
        rows = declarations_with_problems(
            platform_of(request).uow(), ListMatchProblems(principal, PAGE_ROWS)
        )
        return render(request, "declarations.html", principal=principal, rows=rows)

    return page(request, build)


@router.get("/dashboard/balances", response_class=HTMLResponse)
def balances(request: Request, offset: int = 0) -> Response:
    def build(principal: Principal) -> Response:
        got = balance_page(platform_of(request).uow(), ListBalances(principal, offset, PAGE_ROWS))
        return render(request, "balances.html", principal=principal, got=got)

    return page(request, build)


@router.get("/simulations", response_class=HTMLResponse)
def simulations(request: Request) -> Response:
    def build(principal: Principal) -> Response:
        operator_only(principal, "simulate:run")
        return render(request, "simulations.html", principal=principal)

    return page(request, build)


# --- the buyer's tracking page (public) ---------------------------------------------------------
@router.get("/track", response_class=HTMLResponse)
def track(
    request: Request, tracking_no: str | None = None, postcode: str | None = None
) -> Response:
    """The form, and with a tracking number and a postcode the parcel's public view (one URL,
    ``/track?tracking_no=..&postcode=..``: ``/track/{tracking_no}`` is the API's JSON)."""
    principal = principal_or_none(request)
    number, code = (tracking_no or "").strip(), (postcode or "").strip()
    form = {"tracking_no": number, "postcode": code}
    if not number or not code:
        missing = tracking_no is not None or postcode is not None
        return render(request, "track_form.html", 400 if missing else 200, principal,
                      missing=missing, not_found=False, **form)  # fmt: skip
    try:
        parcel = track_public(platform_of(request).uow(), TrackPublic(number, code))
    except DomainError:
        # unknown, wrong postcode or malformed: all said the same way
        return render(request, "track_form.html", 404, principal, missing=False,
                      not_found=True, **form)  # fmt: skip
    return render(request, "track.html", principal=principal, parcel=parcel,
                  step_label=step_label, parcel_state=parcel_state)  # fmt: skip
