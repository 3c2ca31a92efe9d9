"""Test-only crash points: a settlement process kills itself (SIGKILL) at a named point.

The crash tests (``tests/settlement/test_crash.py``) run settlement in a subprocess with
``XBORDER_CRASH_AT`` set to ``point``, ``point@tag`` or either with ``#n`` (the n-th time the
process passes it, default the first); the process then dies as ``kill -9`` would kill it: no
handler, no rollback, no flush. Points: ``posted`` (a batch is written, its transaction still
open; tags: the batch's transfer codes), ``captured`` (an order capture's rows are written, its
transaction still open; tag: ``orders``) and ``committed`` (a use case has committed; tag: the use
case). Unset, the normal case, a point costs one comparison.
"""

from __future__ import annotations

import os
import signal

ENV = "XBORDER_CRASH_AT"
_TARGET = os.environ.get(ENV) or None
_seen = 0


def _parse(target: str) -> tuple[str, int]:
    name, _, count = target.partition("#")
    return name, int(count) if count else 1


def crash_point(point: str, *tags: str) -> None:
    """Die here if ``XBORDER_CRASH_AT`` names this point (or this point with one of the tags)."""
    global _seen
    if _TARGET is None:
        return
    name, count = _parse(_TARGET)
    if name != point and name not in {f"{point}@{tag}" for tag in tags}:
        return
    _seen += 1
    if _seen >= count:
        os.kill(os.getpid(), signal.SIGKILL)
