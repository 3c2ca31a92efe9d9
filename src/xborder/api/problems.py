"""Errors as RFC 9457 problem details (``application/problem+json``), never a stack trace.

Every domain error maps to one status (``STATUS``): bad values 422, a missing object 404 (and
another party's object is missing too: the services raise ``NotFound`` for it), a conflicting
repeat 409, no or a wrong key 401, a key without the scope 403, too many requests 429 with
``Retry-After``. Request validation lists the offending fields; anything unexpected is a 500
whose detail says nothing but an id that is also in the server's log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from xborder.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidValue,
    NotFound,
    RateLimited,
    Unauthorized,
)
from xborder.services.imports import StoreBusy, is_store_busy
from xborder.services.trace import NotVisible

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://xborder.dev/problems/"
log = logging.getLogger("xborder.api")

# status, type slug, title; the first class in the exception's MRO found here decides
STATUS: dict[type[BaseException], tuple[int, str, str]] = {
    Unauthorized: (401, "unauthorized", "Missing or invalid API key"),
    Forbidden: (403, "forbidden", "Not allowed for this key"),
    NotVisible: (404, "not-found", "Not found"),
    NotFound: (404, "not-found", "Not found"),
    Conflict: (409, "conflict", "Conflict"),
    RateLimited: (429, "rate-limited", "Too many requests"),
    InvalidValue: (422, "invalid-value", "Invalid value"),
    DomainError: (422, "invalid-value", "Invalid value"),
}
HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Missing or invalid API key"),
    403: ("forbidden", "Not allowed for this key"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-value", "Invalid value"),
    428: ("precondition-required", "Header required"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal", "Internal error"),
    503: ("store-busy", "Store busy"),
}


class FieldProblem(BaseModel):
    field: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists the fields of a rejected request."""

    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


def problem_response(
    status: int,
    detail: str | None,
    instance: str | None,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    default_slug, default_title = HTTP_TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_bytes(status: int, detail: str, instance: str | None) -> bytes:
    """A problem body for ASGI middleware that answers without FastAPI."""
    return bytes(problem_response(status, detail, instance).body)


def _classify(exc: BaseException) -> tuple[int, str, str]:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 422, "invalid-value", "Invalid value"


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    status, slug, title = _classify(exc)
    headers: dict[str, str] = {}
    errors = None
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="xborder"'
    if isinstance(exc, InvalidValue):
        errors = [{"field": exc.field, "reason": exc.reason}]
    return problem_response(status, str(exc), request.url.path, slug=slug, title=title,
                            errors=errors, headers=headers or None)  # fmt: skip


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts) if parts else "request"


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    errors = [{"field": _location(e.get("loc", ())), "reason": str(e.get("msg", "invalid"))}
              for e in raw]  # fmt: skip
    malformed = any(e.get("type") == "json_invalid" for e in raw)
    status = 400 if malformed else 422
    detail = "the body is not valid JSON" if malformed else "the request has invalid fields: " + (
        ", ".join(e["field"] for e in errors))  # fmt: skip
    return problem_response(status, detail, request.url.path, errors=errors)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such resource"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed here"
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(exc.status_code, detail, request.url.path, headers=headers)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, StoreBusy) or is_store_busy(exc):  # another writer holds the store
        return problem_response(503, "the store is busy with another writer; retry shortly",
                                request.url.path, headers={"Retry-After": "1"})  # fmt: skip
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error %s on %s %s", incident, request.method, request.url.path,
              exc_info=exc)  # fmt: skip
    return problem_response(
        500, f"an internal error occurred (incident {incident})", request.url.path
    )


def install(app: FastAPI) -> None:
    """Register the problem handlers on ``app``."""
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": title,
             "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status, title in (
        (400, "Malformed request"), (401, "Missing or invalid API key"),
        (403, "The key lacks the scope or role"), (404, "Not found (or another party's)"),
        (409, "Conflict"), (413, "Request body too large"), (422, "Invalid value"),
        (429, "Rate limit exceeded"), (500, "Internal error"), (503, "Store busy: retry"),
    )
}  # fmt: skip
"""Documented on every route so that clients (and schemathesis) know the error shapes."""
