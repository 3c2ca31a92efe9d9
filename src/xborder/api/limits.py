"""Request limits: body size (an ASGI middleware) and the per-key rate limit.

Bodies: 1 MiB by default, 64 MiB for bulk uploads (NDJSON orders, EPCIS capture documents).
A declared ``Content-Length`` over the limit is refused before the body is read; a chunked body
is counted as it streams and refused when it passes the limit. Either way the answer is a 413
problem.

Rate: every authenticated request counts against its key's per-minute allowance, kept in the
store's window row so that the limit holds across worker processes. Writing that row on every
request would make every request, reads included, a write transaction (and on SQLite writes
serialise across workers), so each worker counts in memory and flushes its unflushed count to
the window row with one atomic add (``api_keys.count_hits``) every ``FLUSH_HITS`` requests or
``FLUSH_SECONDS``, whichever comes first, and on a key's first request of a window. A request
is refused when the store's count as of the last flush plus this worker's unflushed count
exceeds the limit. Within ``FLUSH_HITS`` of the limit every request flushes, so near the limit
the count is exact but for the other workers' unflushed requests: a key may exceed its limit by
at most one flush interval's requests per other worker (``FLUSH_HITS`` or ``FLUSH_SECONDS`` of
traffic). Refused requests count too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xborder.api.problems import PROBLEM_JSON, problem_bytes
from xborder.api.settings import ApiSettings
from xborder.bootstrap import Platform
from xborder.services.access import Principal
from xborder.services.api_keys import CountHits, count_hits, rate_limited, rate_window

BULK_PATHS = ("/orders/bulk", "/epcis/capture")


FLUSH_HITS = 100  # a worker writes its count to the store at least every 100 requests...
FLUSH_SECONDS = 0.1  # ...or 100 ms of a key's traffic


@dataclass(slots=True)
class _KeyWindow:
    window: int  # start of the window (Unix seconds)
    stored: int | None = None  # the store's count at the last flush (None: not flushed yet)
    unflushed: int = 0
    flushed_at: float = 0.0  # time.monotonic() of the last flush


@dataclass(frozen=True, slots=True)
class PendingFlush:
    """A count due to be written to the store (made by ``RateCounter.count``)."""

    key_id: str
    state: _KeyWindow
    hits: int
    limit: int
    retry: int


class RateCounter:
    """One worker's batched count of requests per key (see the module docstring)."""

    def __init__(self, flush_hits: int = FLUSH_HITS, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.flush_hits, self.flush_seconds = flush_hits, flush_seconds
        self._keys: dict[str, _KeyWindow] = {}
        self._lock = threading.Lock()

    def hit(self, platform: Platform, key_id: str, limit: int) -> None:
        """Count one request of ``key_id``; ``RateLimited`` past ``limit`` per minute."""
        due = self.count(platform, key_id, limit)
        if due is not None:
            self.flush(platform, due)

    def count(self, platform: Platform, key_id: str, limit: int) -> PendingFlush | None:
        """Count one request in memory: ``RateLimited`` when the count decides it, the flush to
        make when one is due (``flush`` writes it and decides), else None (allowed). Split from
        ``flush`` so that an event loop counts inline and sends only the write to a thread."""
        if limit <= 0:
            return None
        window, retry = rate_window(platform.clock.now())
        with self._lock:
            state = self._keys.get(key_id)
            if state is None or state.window != window:
                state = self._keys[key_id] = _KeyWindow(window)
            state.unflushed += 1
            seen = (state.stored or 0) + state.unflushed
            due = (
                state.stored is None
                or state.unflushed >= self.flush_hits
                or seen > limit - self.flush_hits
                or time.monotonic() - state.flushed_at >= self.flush_seconds
            )
            if due:
                hits, state.unflushed, state.flushed_at = state.unflushed, 0, time.monotonic()
                return PendingFlush(key_id, state, hits, limit, retry)
        if seen > limit:
            raise rate_limited(limit, retry)
        return None

    def flush(self, platform: Platform, due: PendingFlush) -> None:
        """Add a due flush's hits to the store's window row; ``RateLimited`` past the limit."""
        state = due.state
        try:
            stored = count_hits(platform.uow(), CountHits(due.key_id, state.window, due.hits))
        except BaseException:
            with self._lock:
                state.unflushed += due.hits
            raise
        with self._lock:
            state.stored = max(stored, state.stored or 0)
            seen = stored + state.unflushed
        if seen > due.limit:
            raise rate_limited(due.limit, due.retry)

    def forget(self) -> None:
        with self._lock:
            self._keys.clear()


_COUNTERS_LOCK = threading.Lock()


def enforce_rate(
    platform: Platform, settings: ApiSettings, principal: Principal, counter: RateCounter
) -> None:
    """Count the request against the key's allowance; ``RateLimited`` past it."""
    counter.hit(platform, principal.key_id, settings.rate_limit_per_minute)


def rate_counter(state: object) -> RateCounter:
    """The app's rate counter (one per app, made on first use), kept on ``app.state``."""
    found = getattr(state, "rate_counter", None)
    if isinstance(found, RateCounter):
        return found
    with _COUNTERS_LOCK:
        found = getattr(state, "rate_counter", None)
        if not isinstance(found, RateCounter):
            found = RateCounter()
            setattr(state, "rate_counter", found)  # noqa: B010
        return found


def body_limit(settings: ApiSettings, path: str) -> int:
    bulk = any(path == p or path.startswith(p + "/") for p in BULK_PATHS)
    return settings.max_bulk_bytes if bulk else settings.max_json_bytes


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class BodyLimit:
    """Refuse request bodies over the path's limit with a 413 problem."""

    def __init__(self, app: ASGIApp, settings: ApiSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = body_limit(self.settings, path)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0 or length > limit:
                status = 413 if length > limit else 400
                detail = _too_large(limit) if status == 413 else "bad Content-Length"
                await _answer(send, status, detail, path)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counted, send)


async def _answer(send: Send, status: int, detail: str, path: str) -> None:
    body = problem_bytes(status, detail, path)
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()), (b"connection", b"close")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
