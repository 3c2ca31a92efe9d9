"""Orders: capture one (with an ``Idempotency-Key``), upload many as NDJSON, list, show.

Single orders are captured in batches per worker (group commit, ``_GroupCommit``): under load
the validation pass and the store's transaction are paid once per batch, not once per order.
A single order is the JSON-lines format of ``docs/orders-import.md`` as one JSON object. The
bulk upload reads the body as it streams, captures every ``bulk_chunk_lines`` lines in one
transaction and spools the per-line report to a temporary file (kept in memory while small), so
memory stays bounded whatever the upload's size.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from xborder.api.deps import platform, scoped, settings
from xborder.api.models import MAX_ID, money
from xborder.api.order_models import (
    DeclarationBrief,
    OrderAccepted,
    OrderDetail,
    OrderIn,
    OrderLineOut,
    OrderSummary,
    ParcelBrief,
    PaymentBrief,
    TimelineEntry,
)
from xborder.api.pagination import PageModel, PageParams, page_params
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.domain.orders import OrderStatus
from xborder.services.access import Principal
from xborder.services.idempotency import hash_request
from xborder.services.imports import retry_while_busy
from xborder.services.tenancy import OrderFor, OrdersFor, list_orders_for, order_for
from xborder.services.tenancy_writes import (
    CaptureLines,
    CaptureOrder,
    CaptureOrders,
    LineResult,
    StoredResponse,
    capture_orders,
)
from xborder.services.tenancy_writes import capture_lines as capture_lines_use_case

router = APIRouter(tags=["orders"], responses=PROBLEM_RESPONSES)
NDJSON = "application/x-ndjson"
SPOOL_BYTES = 1024 * 1024


class _GroupCommit:
    """Single orders of one worker captured in batches (group commit): while one batch is in
    the store, the orders that arrive wait, and go together in the next one. An idle server
    captures an order at once; a busy one pays the validation pass and the transaction once per
    batch instead of once per order. Each order gets the answer it would get alone
    (``capture_orders``)."""

    MAX_BATCH = 500

    def __init__(self, plat: Platform) -> None:
        self.plat = plat
        self.loop = asyncio.get_running_loop()
        self.waiting: list[tuple[CaptureOrder, asyncio.Future[StoredResponse]]] = []
        self.draining = False
        self.task: asyncio.Task[None] | None = None

    async def capture(self, command: CaptureOrder) -> StoredResponse:
        future: asyncio.Future[StoredResponse] = self.loop.create_future()
        self.waiting.append((command, future))
        if not self.draining:
            self.draining = True
            self.task = self.loop.create_task(self._drain())  # held: the loop keeps weak refs
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch = self.waiting[: self.MAX_BATCH]
                del self.waiting[: self.MAX_BATCH]
                command = CaptureOrders(tuple(c for c, _ in batch))
                try:
                    answers = await run_in_threadpool(capture_orders, self.plat.uow(), command)
                except Exception as exc:  # a fault of ours: every order of the batch gets it
                    answers = [exc] * len(batch)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(answer, StoredResponse):
                        future.set_result(answer)
                    else:
                        future.set_exception(answer)
        finally:
            self.draining = False


_GROUP_LOCK = threading.Lock()


def _group_commit(request: Request, plat: Platform) -> _GroupCommit:
    """The app's group commit on this event loop (made on first use)."""
    found = getattr(request.app.state, "order_group_commit", None)
    loop = asyncio.get_running_loop()
    if isinstance(found, _GroupCommit) and found.loop is loop and found.plat is plat:
        return found
    with _GROUP_LOCK:
        found = _GroupCommit(plat)
        request.app.state.order_group_commit = found
    return found


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderAccepted,
    responses={200: {"model": OrderAccepted, "description": "The order was already stored"}},
    summary="Capture one order (idempotent by Idempotency-Key and by channel + external id)",
)
async def post_order(
    request: Request,
    body: OrderIn,
    idempotency_key: str = Header(..., alias="Idempotency-Key", min_length=1, max_length=255),
    caller: Principal = Depends(scoped("orders:write")),
    plat: Platform = Depends(platform),
) -> Response:
    record = body.model_dump(mode="json", exclude_none=True)
    digest = hash_request("POST /orders", json.dumps(record, sort_keys=True))
    command = CaptureOrder(caller, record, idempotency_key, digest)
    stored = await _group_commit(request, plat).capture(command)
    order_id = json.loads(stored.body).get("order_id")
    headers = {"Location": f"/orders/{order_id}"}
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(stored.body, stored.status_code, headers, media_type="application/json")


def _report_line(result: LineResult) -> bytes:
    out: dict[str, Any] = {"line": result.line, "status": result.status}
    if result.order_id is not None:
        out["order_id"] = result.order_id
    if result.status == "rejected":
        out["error"] = {"field": result.field, "reason": result.reason, "value": result.value}
    return json.dumps(out).encode() + b"\n"


async def _numbered_lines(
    request: Request, max_line: int
) -> AsyncIterator[tuple[int, bytes | None]]:
    """(line number, raw line) as the body streams; None for a line longer than ``max_line``."""
    number, pending, skipping = 0, b"", False
    async for chunk in request.stream():
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        for part in parts:
            number += 1
            yield number, None if skipping else part
            skipping = False
        if len(pending) > max_line:
            pending, skipping = b"", True
    if pending or skipping:
        yield number + 1, None if skipping else pending


class _Bulk:
    """Chunks of lines through the capture use case; the report spooled as NDJSON."""

    def __init__(self, plat: Platform, caller: Principal, size: int) -> None:
        self.plat, self.caller, self.size = plat, caller, size
        self.report: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.texts: list[str] = []
        self.first = 1
        self.own: list[LineResult] = []
        self.counts = {"created": 0, "existing": 0, "rejected": 0}

    def add(self, number: int, raw: bytes | None) -> None:
        if not self.texts:
            self.first = number
        text = ""
        if raw is None:
            self.own.append(LineResult(number, "rejected", None, "json", "line too long"))
        else:
            try:
                text = raw.decode("utf-8").rstrip("\r")
            except UnicodeDecodeError:
                self.own.append(LineResult(number, "rejected", None, "json", "not UTF-8 text"))
        self.texts.append(text)

    async def flush(self) -> None:
        if not self.texts:
            return
        command = CaptureLines(self.caller, tuple(self.texts), self.first)
        plat = self.plat  # a chunk is idempotent: while another writer holds SQLite, retry it
        results = await run_in_threadpool(
            retry_while_busy, lambda: capture_lines_use_case(plat.uow(), command)
        )
        for result in sorted([*results, *self.own], key=lambda r: r.line):
            self.counts[result.status] += 1
            self.report.write(_report_line(result))
        self.texts, self.own = [], []


def _read_back(report: IO[bytes]) -> Iterator[bytes]:
    try:
        report.seek(0)
        while block := report.read(65536):
            yield block
    finally:
        report.close()


@router.post(
    "/orders/bulk",
    summary="Upload orders as NDJSON (one order per line); a per-line report comes back",
    openapi_extra={"requestBody": {"required": True, "content": {
        NDJSON: {"schema": {"type": "string", "description": "JSON lines, one order each"}}}}},
    responses={200: {"description": "One LineReport per non-blank line, as NDJSON",
                     "content": {NDJSON: {"schema": {"$ref": "#/components/schemas/LineReport"}}}}},
    response_class=StreamingResponse,
)  # fmt: skip
async def post_bulk(
    request: Request,
    caller: Principal = Depends(scoped("orders:write")),
    plat: Platform = Depends(platform),
    conf: ApiSettings = Depends(settings),
) -> StreamingResponse:
    bulk = _Bulk(plat, caller, conf.bulk_chunk_lines)
    try:
        async for number, raw in _numbered_lines(request, conf.max_json_bytes):
            bulk.add(number, raw)
            if len(bulk.texts) >= bulk.size:
                await bulk.flush()
        await bulk.flush()
    except BaseException:
        bulk.report.close()
        raise
    headers = {f"X-Orders-{k.capitalize()}": str(v) for k, v in bulk.counts.items()}
    return StreamingResponse(_read_back(bulk.report), media_type=NDJSON, headers=headers)


@router.get("/orders", response_model=PageModel[OrderSummary], summary="Your orders, newest first")
def get_orders(
    status: OrderStatus | None = Query(None),
    page: PageParams = Depends(page_params),
    caller: Principal = Depends(scoped("orders:read")),
    plat: Platform = Depends(platform),
) -> PageModel[OrderSummary]:
    found = list_orders_for(
        plat.uow(), OrdersFor(caller, status.value if status else None, page.cursor, page.limit)
    )
    items = [
        OrderSummary(**{**row, "goods": money(row["goods"]), "freight": money(row["freight"])})
        for row in found.items
    ]
    return PageModel[OrderSummary](items=items, next_cursor=found.next_cursor, limit=found.limit)


@router.get("/orders/{order_id}", response_model=OrderDetail, summary="One of your orders")
def get_order(
    order_id: int = Path(..., ge=1, le=MAX_ID),
    caller: Principal = Depends(scoped("orders:read")),
    plat: Platform = Depends(platform),
) -> OrderDetail:
    view = order_for(plat.uow(), OrderFor(caller, order_id))
    head = view.order
    decl = view.declaration
    return OrderDetail(
        **{k: head[k] for k in OrderDetail.model_fields if k in head and k not in _MONEY},
        **{k: money(head[k]) for k in _MONEY},
        lines=[OrderLineOut(**{**ln, "unit_price": money(ln["unit_price"])})
               for ln in view.lines],
        payments=[PaymentBrief(provider=p["provider"], transaction_id=p["transaction_id"],
                               amount=money(p["amount"]), paid_at=p["paid_at"])
                  for p in view.payments],
        parcels=[ParcelBrief(**{k: p.get(k) for k in ParcelBrief.model_fields})
                 for p in view.parcels],
        declaration=DeclarationBrief(**{k: decl.get(k) for k in DeclarationBrief.model_fields})
        if decl else None,
        escrow={k: money(v) for k, v in view.escrow.items()},
        timeline=[TimelineEntry(**{k: t.get(k) for k in TimelineEntry.model_fields})
                  for t in view.timeline],
    )  # fmt: skip


_MONEY = ("goods", "freight", "insurance", "discount")
