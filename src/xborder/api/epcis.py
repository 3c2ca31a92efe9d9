"""EPCIS 2.0 REST bindings over the trace ledger (mounted at ``/epcis``).

Follows GS1's ``openapi.yaml`` where it fits: discovery (``OPTIONS``), capture jobs
(``POST /capture``, ``GET /capture``, ``GET /capture/{captureID}``) and events
(``GET /events`` with the SimpleEventQuery parameters, ``GET /events/{eventID}``). Everything
else of the bindings (named queries, subscriptions, the ``/eventTypes``, ``/epcs`` ...
collections, ``POST /events``) is not offered.

A capture job runs synchronously in the request's own transaction, so the job has already
finished when ``202 Accepted`` returns; its events are signed by the authenticated party's key.
Every read goes through the ledger's per-party visibility (in the services), and the problems
carry the bindings' exception types (``epcisException:ValidationException`` ...) as ``type``.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from xborder import __version__
from xborder.api.deps import platform as platform_of
from xborder.api.deps import principal as principal_of
from xborder.api.problems import PROBLEM_JSON, PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.domain.errors import Forbidden, InvalidValue, NotFound, Unauthorized
from xborder.services.access import Principal
from xborder.services.capture_jobs import (
    CAPTURE_LIMIT,
    EPCIS_EXCEPTION,
    CaptureJobFor,
    CaptureJobsFor,
    CaptureLimitExceeded,
    DocumentInvalid,
    EpcisProblem,
    QueryParameterInvalid,
    SubmitCapture,
    capture_job,
    capture_jobs,
    submit_capture,
)
from xborder.services.epcis_events import (
    MAX_PER_PAGE,
    PER_PAGE,
    EventById,
    EventsQuery,
    event_by_id,
    query_events,
)
from xborder.services.trace import NotVisible

CAPTURE_LIMIT_ENV = "XBORDER_EPCIS_CAPTURE_LIMIT"
JSON_TYPES = ("application/json", "application/ld+json")
PAGING = ("perPage", "nextPageToken")
VERSIONS = {
    "GS1-EPCIS-Version": "2.0.0",
    "GS1-EPCIS-Min": "2.0.0",
    "GS1-EPCIS-Max": "2.0.0",
    "GS1-CBV-Version": "2.0.0",
    "GS1-CBV-Min": "2.0.0",
    "GS1-CBV-Max": "2.0.0",
    # our private vocabulary (customs and home-delivery steps and dispositions) is the extension
    "GS1-Extensions": "xb=https://xborder.dev/voc/",
    # stored documents keep the identifiers as captured (EPC URNs stay URNs)
    "GS1-EPC-Format": "Never_Translates",
    "GS1-Vendor-Version": f"xborder-{__version__}",
}
_TITLES = {
    400: "Bad request",
    401: "Unauthorised request",
    403: "Access to resource forbidden",
    404: "Resource not found",
    413: "Capture payload too large",
    415: "Unsupported media type",
}


def capture_limit(request: Request) -> int:
    """Events one capture may hold: the app's settings (``epcis_capture_limit``) if they have
    one, else ``XBORDER_EPCIS_CAPTURE_LIMIT``, else 10,000; the same on every worker."""
    configured = getattr(getattr(request.app.state, "settings", None), "epcis_capture_limit", None)
    if isinstance(configured, int) and configured > 0:
        return configured
    raw = os.environ.get(CAPTURE_LIMIT_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else CAPTURE_LIMIT


# ---- problems with the bindings' exception types -------------------------------------------------
def epcis_problem(
    request: Request,
    status: int,
    exception: str,
    detail: str,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> JSONResponse:
    """A problem (the shape of ``xborder.api.problems.Problem``) typed ``epcisException:<name>``."""
    body: dict[str, Any] = {
        "type": EPCIS_EXCEPTION + exception,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status, headers, media_type=PROBLEM_JSON)


def _problem_for(request: Request, exc: Exception) -> JSONResponse | None:
    """The bindings' problem for an error they name; None leaves it to the app's handlers."""
    if isinstance(exc, CaptureLimitExceeded):
        limit = {"GS1-EPCIS-Capture-Limit": str(exc.limit)}
        return epcis_problem(request, 413, exc.epcis_exception, str(exc), limit)
    if isinstance(exc, DocumentInvalid | QueryParameterInvalid):
        field = [{"field": exc.field, "reason": exc.reason}]
        return epcis_problem(request, 400, exc.epcis_exception, str(exc), errors=field)
    if isinstance(exc, EpcisProblem):
        return None
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 413:
        return epcis_problem(request, 413, "CaptureLimitExceededException", str(exc.detail))
    if isinstance(exc, RequestValidationError):
        where = ", ".join(
            ".".join(str(p) for p in e.get("loc", ())[1:]) or "request" for e in exc.errors()
        )
        return epcis_problem(request, 400, "QueryParameterException", f"invalid: {where}")
    if isinstance(exc, InvalidValue):
        field = [{"field": exc.field, "reason": exc.reason}]
        return epcis_problem(request, 400, "ValidationException", str(exc), errors=field)
    if isinstance(exc, NotFound | NotVisible):
        return epcis_problem(request, 404, "NoSuchResourceException", str(exc))
    if isinstance(exc, Unauthorized):
        return epcis_problem(
            request, 401, "SecurityException", str(exc), {"WWW-Authenticate": "Bearer"}
        )
    if isinstance(exc, Forbidden):
        return epcis_problem(request, 403, "SecurityException", str(exc))
    return None


class EpcisRoute(APIRoute):
    """Routes whose domain errors become problems typed as the bindings say (``epcisException:
    ValidationException`` ...); errors the bindings do not name (rate limits, bugs) go on to the
    application's handlers unchanged."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                answer = _problem_for(request, exc)
                if answer is None:
                    raise
                return answer

        return route


router = APIRouter(route_class=EpcisRoute, tags=["EPCIS 2.0"])
PrincipalDep = Annotated[Principal, Depends(principal_of)]
PlatformDep = Annotated[Platform, Depends(platform_of)]
_UNSUPPORTED = {
    "description": _TITLES[415],
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The problems a route answers with, documented with the API's ``Problem`` schema."""
    return {code: PROBLEM_RESPONSES.get(code, _UNSUPPORTED) for code in (*codes, 429, 500)}


# ---- discovery -----------------------------------------------------------------------------------
def _discovery(allow: str, extra: dict[str, str] | None = None) -> Response:
    return Response(status_code=204, headers={"Allow": allow, **VERSIONS, **(extra or {})})


@router.options("/", status_code=204, responses=_problems(401))
def discover(principal: PrincipalDep) -> Response:
    """The EPCIS and CBV versions and the extension vocabulary of this repository."""
    return _discovery("OPTIONS")


@router.options("/capture", status_code=204, responses=_problems(401))
def discover_capture(request: Request, principal: PrincipalDep) -> Response:
    """Capture settings: the event limit per document and the error behaviour (rollback)."""
    limits = {
        "GS1-EPCIS-Capture-Limit": str(capture_limit(request)),
        "GS1-Capture-Error-Behaviour": "rollback",
    }
    max_bytes = getattr(getattr(request.app.state, "settings", None), "max_bulk_bytes", None)
    if isinstance(max_bytes, int):
        limits["GS1-EPCIS-Capture-File-Size-Limit"] = str(max_bytes)
    return _discovery("OPTIONS, GET, POST", limits)


@router.options("/events", status_code=204, responses=_problems(401))
def discover_events(principal: PrincipalDep) -> Response:
    return _discovery("OPTIONS, GET")


# ---- capture -------------------------------------------------------------------------------------
_CAPTURE_BODY = {
    "requestBody": {
        "required": True,
        "content": {t: {"schema": {"type": "object"}} for t in JSON_TYPES},
        "description": "An EPCISDocument or EPCISQueryDocument (EPCIS 2.0 JSON-LD)",
    }
}


@router.post(
    "/capture",
    status_code=202,
    openapi_extra=_CAPTURE_BODY,
    responses={
        202: {"description": "The capture job (already finished); its URL in Location"},
        **_problems(400, 401, 403, 413, 415),
    },
)
async def capture(
    request: Request,
    principal: PrincipalDep,
    platform: PlatformDep,
    behaviour: Annotated[str, Header(alias="GS1-Capture-Error-Behaviour")] = "rollback",
) -> JSONResponse:
    """Capture a document's events as the authenticated party, signed with its key."""
    principal.require("trace:write")
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        return epcis_problem(
            request, 415, "UnsupportedMediaTypeException", f"send {' or '.join(JSON_TYPES)}"
        )
    body = await request.body()
    command = SubmitCapture(principal, body, behaviour.strip().lower(), capture_limit(request))
    job = await run_in_threadpool(submit_capture, platform.uow(), command)
    location = f"{request.url.path.rstrip('/')}/{job.capture_id}"
    headers = {"Location": location, **VERSIONS}
    return JSONResponse(job.as_json(), 202, headers)


def _jobs_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"job.{seq}".encode()).decode().rstrip("=")


def _jobs_after(token: str | None) -> int | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        kind, seq = text.split(".", 1)
        if kind != "job":
            raise ValueError(kind)
        return int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise QueryParameterInvalid("nextPageToken", "not a capture-job page token") from None


def _can_read_jobs(principal: Principal) -> None:
    """Jobs are the caller's own captures: a read key or the writing key itself may see them."""
    if not principal.has("trace:write"):
        principal.require("trace:read")


def _next_link(request: Request, per_page: int, token: str) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in PAGING]
    query = urlencode([*kept, ("perPage", str(per_page)), ("nextPageToken", token)])
    return f'<{request.url.replace(query=query)}>; rel="next"'


@router.get("/capture", responses=_problems(400, 401, 403))
def list_capture_jobs(
    request: Request,
    principal: PrincipalDep,
    platform: PlatformDep,
    per_page: Annotated[int, Query(alias="perPage", ge=1)] = PER_PAGE,
    next_page_token: Annotated[str | None, Query(alias="nextPageToken")] = None,
) -> JSONResponse:
    """The capture jobs of the caller's party (the operator's: all), oldest first."""
    _can_read_jobs(principal)
    per_page = min(per_page, MAX_PER_PAGE)
    command = CaptureJobsFor(principal, per_page, _jobs_after(next_page_token))
    page = capture_jobs(platform.uow(), command)
    headers = dict(VERSIONS)
    if page.next_after is not None:
        headers["Link"] = _next_link(request, per_page, _jobs_token(page.next_after))
    return JSONResponse([j.as_json() for j in page.jobs], 200, headers)


@router.get("/capture/{captureID}", responses=_problems(401, 403, 404))
def get_capture_job(
    capture_id: Annotated[str, Path(alias="captureID")],
    principal: PrincipalDep,
    platform: PlatformDep,
) -> JSONResponse:
    """One capture job of the caller's party; another party's job is not found."""
    _can_read_jobs(principal)
    job = capture_job(platform.uow(), CaptureJobFor(principal, capture_id))
    return JSONResponse(job.as_json(), 200, dict(VERSIONS))


# ---- events --------------------------------------------------------------------------------------
_PIPE = "one or more values separated by '|' (or the parameter repeated)"


@router.get("/events", responses=_problems(400, 401, 403))
def get_events(
    request: Request,
    principal: PrincipalDep,
    platform: PlatformDep,
    per_page: Annotated[int, Query(alias="perPage", ge=1)] = PER_PAGE,
    next_page_token: Annotated[str | None, Query(alias="nextPageToken")] = None,
    event_type: Annotated[str | None, Query(alias="eventType", description=_PIPE)] = None,
    ge_event_time: Annotated[str | None, Query(alias="GE_eventTime")] = None,
    lt_event_time: Annotated[str | None, Query(alias="LT_eventTime")] = None,
    ge_record_time: Annotated[str | None, Query(alias="GE_recordTime")] = None,
    lt_record_time: Annotated[str | None, Query(alias="LT_recordTime")] = None,
    eq_action: Annotated[str | None, Query(alias="EQ_action", description=_PIPE)] = None,
    eq_biz_step: Annotated[str | None, Query(alias="EQ_bizStep", description=_PIPE)] = None,
    eq_disposition: Annotated[str | None, Query(alias="EQ_disposition", description=_PIPE)] = None,
    eq_read_point: Annotated[str | None, Query(alias="EQ_readPoint", description=_PIPE)] = None,
    eq_biz_location: Annotated[str | None, Query(alias="EQ_bizLocation", description=_PIPE)] = None,
    match_epc: Annotated[str | None, Query(alias="MATCH_epc", description=_PIPE)] = None,
    match_parent_id: Annotated[str | None, Query(alias="MATCH_parentID", description=_PIPE)] = None,
    match_any_epc: Annotated[str | None, Query(alias="MATCH_anyEPC", description=_PIPE)] = None,
) -> JSONResponse:
    """The events the caller may see that match the query, as an EPCISQueryDocument, one page
    at a time (``perPage``, at most 1,000; the next page's URL in ``Link: <...>; rel="next"``).

    The named parameters document the query; the values are read from the query string itself,
    so a parameter repeated counts with all its values and an unknown one is refused."""
    principal.require("trace:read")
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in PAGING:
            params.setdefault(name, []).append(value)
    command = EventsQuery(principal, params, per_page, next_page_token)
    page = query_events(platform.uow(), command)
    headers = dict(VERSIONS)
    if page.next_page_token is not None:
        headers["Link"] = _next_link(request, page.per_page, page.next_page_token)
    return JSONResponse(page.document, 200, headers)


@router.get("/events/{eventID:path}", responses=_problems(401, 403, 404))
def get_event(
    event_id: Annotated[str, Path(alias="eventID")],
    principal: PrincipalDep,
    platform: PlatformDep,
) -> JSONResponse:
    """One event by its eventID (or its Event Hash ID, ``ni:///sha-256;...?ver=CBV2.0``), as an
    EPCISQueryDocument; percent-encode it in the path."""
    principal.require("trace:read")
    document = event_by_id(platform.uow(), EventById(principal, event_id))
    return JSONResponse(document, 200, dict(VERSIONS))
