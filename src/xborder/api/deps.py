"""Dependencies of the routes: the platform, the settings, and who is calling.

A key arrives as ``Authorization: Bearer <token>``, as ``X-API-Key: <token>``, or (for the web
pages) in the ``xb_session`` cookie the login sets (HttpOnly, SameSite=Strict). ``principal``
authenticates it through the ``api_keys`` use case (a snapshot read of the key row, no write),
counts the request against the key's rate limit (in memory, flushed to the store in batches:
``xborder.api.limits``) and remembers the principal on the request; ``scoped(scope)`` also
checks the scope.

The dependencies are ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, and
under load each such hop waited for the GIL behind the threads doing the real work (16 ms mean,
over a second at p99, measured with wrk). Authentication is a key-row read (about 30 us on
SQLite; argon2 verification is cached per token) and the rate count is in memory, so both run on
the event loop; only a due rate-count flush, a write, goes to a thread. The price: on PostgreSQL
the key read is a round trip on the loop (a fraction of a millisecond on a near server), and
when every pooled connection is held by request threads the loop waits for the first one back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

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


async def platform(request: Request) -> Platform:
    """The app's platform (one per worker process)."""
    found: Platform = request.app.state.platform
    return found


async def settings(request: Request) -> ApiSettings:
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


def _authenticated(request: Request) -> Principal:
    """The principal of the request's key, or ``Unauthorized``; not yet counted."""
    token = token_of(request)
    if token is None:
        raise Unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key)")
    plat: Platform = request.app.state.platform
    return authenticate(plat.uow(), Authenticate(token))


def resolve_principal(request: Request) -> Principal:
    """Authenticate the request's key (``Unauthorized`` without a valid one) and count it
    against the key's rate limit (``RateLimited``); cached on the request. For callers in a
    thread (the web pages); the API's dependency is ``principal``."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    found = _authenticated(request)
    plat: Platform = request.app.state.platform
    enforce_rate(plat, request.app.state.settings, found, rate_counter(request.app.state))
    request.state.principal = found
    return found


async def principal(
    request: Request,
    _bearer_key: HTTPAuthorizationCredentials | None = Security(_bearer),
    _header_key: str | None = Security(_header),
    _cookie_key: str | None = Security(_cookie),
) -> Principal:
    """The authenticated caller (the security parameters document the three ways in), counted
    against its rate limit; on the event loop but for a due flush of the count."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    found = _authenticated(request)
    plat: Platform = request.app.state.platform
    limit = request.app.state.settings.rate_limit_per_minute
    counter = rate_counter(request.app.state)
    due = counter.count(plat, found.key_id, limit)
    if due is not None:
        await run_in_threadpool(counter.flush, plat, due)
    request.state.principal = found
    return found


def principal_or_none(request: Request) -> Principal | None:
    """The caller, or None when the request carries no valid key (web pages)."""
    try:
        return resolve_principal(request)
    except Unauthorized:
        return None


def scoped(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, whose key must hold ``scope`` (``Forbidden`` otherwise)."""

    async def dependency(caller: Principal = Depends(principal)) -> Principal:
        caller.require(scope)
        return caller

    dependency.__name__ = f"scope_{scope.replace(':', '_')}"
    return dependency
