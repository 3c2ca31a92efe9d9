"""Two uvicorn workers on one PostgreSQL store: concurrent orders are each stored exactly once.

``uvicorn xborder.api.app:create_app --factory --workers 2`` runs as a separate process on a free
loopback port against a fresh database of the suite's PostgreSQL server. Threads post orders
concurrently: distinct orders under distinct ``Idempotency-Key``s, the same requests again under
the same keys (racing the first), and the same orders under new keys. Every request must be
answered without a server error, a repeat must get the first answer, and the store must hold
each order once with unique ids (no id from ``count(*)``, no state in a worker).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import _postgres_url
from tests.factories import make_order
from tests.pg_server import PostgresServer
from xborder.bootstrap import bootstrap
from xborder.services.access import OPERATOR_PARTY, ApiRole
from xborder.services.api_keys import CreateKey, create_key

pytestmark = pytest.mark.postgres
DISTINCT = 150
REPEATS = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _order(i: int) -> dict[str, Any]:
    raw = make_order(f"W-{i:05d}", channel="workers").model_dump(mode="json")
    return {k: v for k, v in raw.items() if v is not None} | {
        "buyer": {k: v for k, v in raw["buyer"].items() if v is not None},
        "consignee": {k: v for k, v in raw["consignee"].items() if v is not None},
        "lines": [{k: v for k, v in ln.items() if v is not None} for ln in raw["lines"]],
    }


@pytest.fixture(scope="module")
def server(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, str, int]]:
    """(base URL, operator token, database URL, uvicorn's pid): two workers on a fresh
    database."""
    tmp_path = tmp_path_factory.mktemp("workers")
    url = _postgres_url(postgres)
    platform = bootstrap(url)
    token = create_key(
        platform.uow(), CreateKey(OPERATOR_PARTY, ApiRole.OPERATOR, None, "workers test")
    ).token
    platform.close()
    port = _free_port()
    env = {**os.environ, "XBORDER_DATABASE_URL": url, "XBORDER_API_RATE_LIMIT": "0",
           "XBORDER_API_MIGRATED": "1", "XBORDER_DATA_DIR": str(tmp_path)}  # fmt: skip
    log = (tmp_path / "uvicorn.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "xborder.api.app:create_app", "--factory",
         "--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("uvicorn did not start:\n" + (tmp_path / "uvicorn.log").read_text())
            time.sleep(0.2)
        yield base, token, url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _children(pid: int) -> list[str]:
    """The command lines of the processes whose parent is ``pid``."""
    # -ww: no width limit (ps cuts command lines at 80 columns when not on a terminal, and a
    # long checkout path then hides "spawn_main")
    out = subprocess.run(["ps", "-ww", "-o", "args=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout  # fmt: skip
    return out.splitlines()


def test_two_workers_store_each_order_once(server: tuple[str, str, str, int]) -> None:
    base, token, url, _pid = server
    requests = [(f"key-{i}", _order(i)) for i in range(DISTINCT)]
    requests += [(f"key-{i}", _order(i)) for i in range(REPEATS)]  # same key, same body
    requests += [(f"other-{i}", _order(i)) for i in range(REPEATS, 2 * REPEATS)]  # new key
    requests.sort(key=lambda r: r[1]["external_id"])  # repeats land next to their first

    def post(item: tuple[str, dict[str, Any]]) -> tuple[str, int, dict[str, Any]]:
        key, body = item
        with httpx.Client(base_url=base, timeout=60) as client:
            response = client.post("/orders", json=body, headers={
                "Authorization": f"Bearer {token}", "Idempotency-Key": key})  # fmt: skip
        return body["external_id"], response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(post, requests))
    statuses = sorted({status for _e, status, _b in results})
    assert set(statuses) <= {200, 201}, [r for r in results if r[1] not in (200, 201)][:3]
    ids: dict[str, set[int]] = {}
    for external_id, _status, body in results:
        ids.setdefault(external_id, set()).add(int(body["order_id"]))
    assert all(len(v) == 1 for v in ids.values()), "one order id per order"
    assert len(ids) == DISTINCT
    created = sum(1 for _e, status, _b in results if status == 201)
    assert created >= DISTINCT  # each order created once; a same-key repeat replays the 201
    engine = bootstrap(url, migrate=False).engine
    with engine.connect() as conn:
        stored = conn.execute(text(
            "SELECT count(*), count(DISTINCT id), count(DISTINCT external_id) FROM orders "
            "WHERE channel = 'workers'")).one()  # fmt: skip
        records = conn.execute(text("SELECT count(*) FROM idempotency_records")).scalar_one()
    engine.dispose()
    assert tuple(stored) == (DISTINCT, DISTINCT, DISTINCT)
    assert sorted(i for v in ids.values() for i in v) == sorted(set().union(*ids.values()))
    assert records == DISTINCT + REPEATS  # one per key: key-0..149 and other-50..99


def test_uvicorn_runs_two_worker_processes(server: tuple[str, str, str, int]) -> None:
    pid = server[3]
    if shutil.which("ps") is None:
        pytest.skip("ps is not available")
    # uvicorn's supervisor spawns one process per worker (a resource tracker is not one)
    workers = [c for c in _children(pid) if "spawn_main" in c]
    assert len(workers) == 2, _children(pid)
