"""Dependencies of the routes: the platform, the settings, and who is calling.

A key arrives as ``Authorization: Bearer <token>``, as ``X-API-Key: <token>``, or (for the web
pages) in the ``xb_session`` cookie the login sets (HttpOnly, SameSite=Strict). ``principal``
authenticates it through the ``api_keys`` use case (a snapshot read of the key row, no write),
counts the request against the key's rate limit (in memory, flushed to the store in batches:
``xborder.api.limits``) and remembers the principal on the request; ``scoped(scope)`` also
checks the scope.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from xborder.api.limits import enforce_rate, rate_counter
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.domain.errors import Unauthorized
from xborder.services.access import Principal
from xborder.services.api_keys import Authenticate, authenticate

SESSION_COOKIE = "xb_session"
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer xbk_...")
_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False)


def platform(request: Request) -> Platform:
    """The app's platform (one per worker process)."""
    found: Platform = request.app.state.platform
    return found


def settings(request: Request) -> ApiSettings:
    found: ApiSettings = request.app.state.settings
    return found


def token_of(request: Request) -> str | None:
    """The API key of the request: bearer token, ``X-API-Key`` header, or session cookie."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    header = request.headers.get("x-api-key", "").strip()
    if header:
        return header
    cookie = request.cookies.get(SESSION_COOKIE, "").strip()
    return cookie or None


def resolve_principal(request: Request) -> Principal:
    """Authenticate the request's key (``Unauthorized`` without a valid one) and count it
    against the key's rate limit (``RateLimited``); cached on the request."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = token_of(request)
    if token is None:
        raise Unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key)")
    found = authenticate(platform(request).uow(), Authenticate(token))
    enforce_rate(platform(request), settings(request), found, rate_counter(request.app.state))
    request.state.principal = found
    return found


def principal(
    request: Request,
    _bearer_key: HTTPAuthorizationCredentials | None = Security(_bearer),
    _header_key: str | None = Security(_header),
    _cookie_key: str | None = Security(_cookie),
) -> Principal:
    """The authenticated caller (the security parameters document the three ways in)."""
    return resolve_principal(request)


def principal_or_none(request: Request) -> Principal | None:
    """The caller, or None when the request carries no valid key (web pages)."""
    try:
        return resolve_principal(request)
    except Unauthorized:
        return None


def scoped(scope: str) -> Callable[..., Principal]:
    """A dependency: the caller, whose key must hold ``scope`` (``Forbidden`` otherwise)."""

    def dependency(caller: Principal = Depends(principal)) -> Principal:
        caller.require(scope)
        return caller

    dependency.__name__ = f"scope_{scope.replace(':', '_')}"
    return dependency
