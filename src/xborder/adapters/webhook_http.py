"""The real ``WebhookSender``: one HTTP POST per attempt with httpx.

A subscriber's URL is untrusted input, so the sender refuses anything but http(s), never follows
a redirect (a 3xx is a failed attempt, logged with its status), bounds every phase of the request
by the timeout, and does not read the answer's body. Unless ``allow_private`` is set it also
refuses hosts that resolve to loopback, private, link-local or otherwise reserved addresses, so a
tenant cannot aim the platform at its own network (a server-side request forgery). The check
resolves the name before httpx does; a resolver that answers differently the second time (DNS
rebinding) is not caught here, which is why production should also send through an egress proxy
that only reaches the public internet.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from xborder.services.ports import SendResult


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def refusal(url: str, allow_private: bool) -> str | None:
    """Why ``url`` may not be called (None: it may)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"refused: scheme {parts.scheme or '(none)'!r} is not http or https"
    host = parts.hostname
    if not host:
        return "refused: the URL has no host"
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        return f"could not resolve {host}: {exc}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return f"refused: {host} resolves to a non-public address ({address})"
    return None


class HttpWebhookSender:
    """Posts webhook bodies; reports every failure in the ``SendResult`` instead of raising."""

    def __init__(self, *, allow_private: bool = False, client: httpx.Client | None = None) -> None:
        self.allow_private = allow_private
        self._client = client or httpx.Client(follow_redirects=False, trust_env=False)

    def send(self, url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> SendResult:
        started = time.perf_counter()
        refused = refusal(url, self.allow_private)
        if refused is not None:
            return SendResult(None, refused, _elapsed_ms(started))
        try:
            with self._client.stream(
                "POST",
                url,
                headers=headers,
                content=body,
                timeout=httpx.Timeout(timeout_s),
                follow_redirects=False,
            ) as response:
                status = response.status_code
        except httpx.TimeoutException as exc:
            return SendResult(
                None, f"timeout after {timeout_s:g} s ({type(exc).__name__})", _elapsed_ms(started)
            )
        except httpx.HTTPError as exc:
            return SendResult(None, f"{type(exc).__name__}: {exc}", _elapsed_ms(started))
        return SendResult(status, None, _elapsed_ms(started))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpWebhookSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
