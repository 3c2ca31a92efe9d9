"""What every page handler shares: the templates, the session, the principal, error pages.

Sessions: the login form posts an API key; the server checks it with the same use case the API
uses (``services.api_keys.authenticate``) and stores the *token* in the cookie ``xb_session``
(HttpOnly, SameSite=Strict, Secure over HTTPS, Path=/, 12 hours). Every request authenticates
the cookie again, so a revoked key logs its browser out at once and the server keeps no session
state (several workers need nothing shared). POSTs also check ``Origin`` against the host.

Who sees what is decided in the services (``services.tenancy`` for a party's own objects,
``services.web_views`` for the operator's network-wide views), never here. Domain errors become
HTML pages (404 for objects outside the tenancy, 403 for views of another role, 400 for bad
input); pages that need a login redirect to ``/login``. Autoescaping is on for every template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from xborder.bootstrap import Platform
from xborder.domain.errors import DomainError, Forbidden, NotFound, Unauthorized
from xborder.services.access import ApiRole, Principal
from xborder.services.api_keys import Authenticate, authenticate
from xborder.web import format as fmt
from xborder.web.i18n import choose_language, switch_url, translator

COOKIE = "xb_session"
SESSION_SECONDS = 12 * 3600
PAGE_ROWS = 50

env = Environment(
    loader=PackageLoader("xborder.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(fmt.FILTERS)
env.globals.update(kpi=fmt.kpi, kpi_label=fmt.kpi_label)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # tracking URLs carry the buyer's postcode: never sent to another site ("no-referrer" would
    # also make browsers send "Origin: null" on our own form posts)
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def platform_of(request: Request) -> Platform:
    """The app's platform (``app.state.platform``, set by ``xborder.api.app.create_app``)."""
    found: Platform = request.app.state.platform
    return found


def principal_or_none(request: Request) -> Principal | None:
    """The principal of the session cookie (None when absent, unknown or revoked)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return authenticate(platform_of(request).uow(), Authenticate(token))
    except Unauthorized:
        return None


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    key: str


def navigation(principal: Principal | None) -> list[NavItem]:
    if principal is None:
        return [NavItem("/track", "nav.track")]
    items = [NavItem("/", "nav.dashboard")]
    if principal.is_operator:
        items += [NavItem("/dashboard/orders", "nav.orders"),
                  NavItem("/dashboard/parcels", "nav.parcels"),
                  NavItem("/dashboard/declarations", "nav.declarations"),
                  NavItem("/dashboard/balances", "nav.balances"),
                  NavItem("/simulations", "nav.simulations")]  # fmt: skip
    elif principal.role in (ApiRole.SELLER, ApiRole.PLATFORM):
        items += [NavItem("/seller", "nav.seller"), NavItem("/dashboard/parcels", "nav.parcels")]
    elif principal.role in (ApiRole.CARRIER, ApiRole.WAREHOUSE):
        items += [NavItem("/carrier", "nav.carrier")]
    return [*items, NavItem("/track", "nav.track")]


def render(
    request: Request, template: str, status_code: int = 200,
    principal: Principal | None = None, **context: Any,
) -> HTMLResponse:  # fmt: skip
    lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    page = env.get_template(template).render(
        request_path=request.url.path, lang=lang, t=translator(lang),
        switch=switch_url(request.url.path, request.url.query, lang),
        principal=principal, nav=navigation(principal), **context,
    )  # fmt: skip
    response = HTMLResponse(page, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Language"] = lang
    if principal is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


def problem_page(request: Request, error: DomainError, principal: Principal | None) -> Response:
    """A domain error as an HTML page with the status the API would answer."""
    if isinstance(error, Unauthorized):
        return to_login(request)
    # the trace layer's "not visible" is a PermissionError, said like "not found" on purpose
    status = 404 if isinstance(error, NotFound | PermissionError) else 400
    if isinstance(error, Forbidden):
        status = 403
    message = str(error) if status != 404 else "Not found."
    return render(request, "error.html", status, principal, status=status, message=message)


def page(
    request: Request, build: Callable[[Principal], Response], *, login: bool = True
) -> Response:
    """Run ``build`` for the logged-in principal; no login -> /login, domain errors -> pages."""
    principal = principal_or_none(request)
    if principal is None and login:
        return to_login(request)
    assert principal is not None
    try:
        return build(principal)
    except DomainError as error:
        return problem_page(request, error, principal)


def same_origin(request: Request) -> bool:
    """A POST comes from our own pages: the browser says so (``Sec-Fetch-Site``), or its
    ``Origin`` is this host; a client that sends neither (not a browser) is let through."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no ``//host``, no backslash) may follow a login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
