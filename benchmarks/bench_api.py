"""Load test of the HTTP API on loopback: single orders and bulk NDJSON, counted in the store.

Goal (issue 12): >= 2,000 single-order requests/s with p99 < 50 ms on the embedded store with all
workers; bulk NDJSON >= 50,000 orders/s; zero errors; every accepted order stored exactly once.

The server is ``xborder serve --workers N`` in a subprocess on a fresh SQLite store in a temporary
directory (demo world loaded by ``xborder init``, a seller key by ``xborder keys create``); the
load generator is a separate process on the same machine (``wrk`` when installed, else an
asyncio + httpx client), so it shares the cores with the server. Baselines, same run: a trivial
FastAPI endpoint under the same uvicorn settings (the HTTP stack's ceiling here) and the same
kind of orders captured in-process through the use cases, without HTTP. The rate limit is set to
10,000,000 per minute so that it is counted on every request but never refuses. Everything under
the temporary directory is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "src"))

SELLER = "seller-sz-gadgets"
CHANNEL = "bench-api"
WRK = "/usr/bin/wrk"


def trivial_app() -> Any:
    """The baseline: POST /orders reads the body and answers a fixed 201, nothing else."""
    app = FastAPI()

    @app.post("/orders")
    async def post(request: Request) -> Response:
        await request.body()
        return Response(b'{"order_id": 1, "status": "created"}', 201,
                        media_type="application/json")  # fmt: skip

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def order(external_id: str) -> dict[str, Any]:
    """An order of the demo seller in the JSON-lines format (two lines, stocked SKUs)."""
    return {
        "channel": CHANNEL, "external_id": external_id, "seller_id": SELLER,
        "trade_mode": "B2C", "direction": "export", "incoterm": "DDP", "currency": "EUR",
        "origin_country": "CN",
        "buyer": {"name": "Lena Vogel", "telephone": "+49 30 1234567"},
        "consignee": {"name": "Lena Vogel", "telephone": "+49 30 1234567",
                      "line1": "Invalidenstrasse 117", "city": "Berlin", "postcode": "10115",
                      "country": "DE"},
        "lines": [{"sku": "SZG-PHONE-001", "description": "Phone", "hs_code": "851713", "qty": 1,
                   "unit_price": "199.00"},
                  {"sku": "SZG-TAB-001", "description": "Tablet", "hs_code": "847130", "qty": 1,
                   "unit_price": "249.50"}],
        "promised_by": "2027-01-15", "freight": "3.90",
    }  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def xborder(env: dict[str, str], *args: str) -> str:
    exe = Path(sys.executable).with_name("xborder")
    done = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


@contextmanager
def server(cmd: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """Run ``cmd`` until the block ends; yields the base URL once /healthz answers."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        time.sleep(1.0)  # let every worker finish starting
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- load generators -----------------------------------------------------------------------------
def run_wrk(base: str, token: str, prefix: str, seconds: int, conns: int) -> dict[str, Any]:
    template = json.dumps(order("@EXT@"))
    threads = min(conns, 2)
    cmd = [WRK, "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s", "--timeout", "30s",
           "-s", str(HERE / "bench_api_wrk.lua"), base, "--", token, prefix, template]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    r = json.loads(line.removeprefix("WRKJSON "))
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {"requests": r["requests"], "seconds": r["duration_us"] / 1e6,
            "created": r["created"], "existing": r["existing"], "non2xx": r["other"],
            "socket_errors": errors, "p50": r["p50_us"] / 1e3, "p99": r["p99_us"] / 1e3,
            "max": r["max_us"] / 1e3}  # fmt: skip


async def _python_load(base: str, token: str, prefix: str, seconds: float, conns: int) -> Any:
    latencies: list[float] = []
    counts = {"created": 0, "existing": 0, "non2xx": 0, "socket_errors": 0}
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)

    async def worker(client: httpx.AsyncClient, tid: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            n += 1
            ext = f"{prefix}-{tid}-{n}"
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": ext}
            began = time.perf_counter()
            try:
                resp = await client.post("/orders", json=order(ext), headers=headers)
            except httpx.HTTPError:
                counts["socket_errors"] += 1
                continue
            latencies.append(time.perf_counter() - began)
            key = {201: "created", 200: "existing"}.get(resp.status_code, "non2xx")
            counts[key] += 1

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client, t) for t in range(conns)))
    return latencies, counts, time.perf_counter() - began


def run_python(base: str, token: str, prefix: str, seconds: int, conns: int) -> dict[str, Any]:
    latencies, counts, elapsed = asyncio.run(_python_load(base, token, prefix, seconds, conns))
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3 if latencies else 0

    return {"requests": len(latencies) + counts["socket_errors"], "seconds": elapsed, **counts,
            "p50": pct(0.50), "p99": pct(0.99),
            "max": latencies[-1] * 1e3 if latencies else 0}  # fmt: skip


# -- bulk ------------------------------------------------------------------------------------------
def write_bulk(path: Path, prefix: str, start: int, count: int) -> None:
    template = json.dumps(order("@EXT@"))
    with path.open("w") as out:
        for i in range(start, start + count):
            out.write(template.replace("@EXT@", f"{prefix}-{i}") + "\n")


def upload(base: str, token: str, files: list[Path]) -> tuple[float, dict[str, int]]:
    totals = {"created": 0, "existing": 0, "rejected": 0, "non2xx": 0, "report_lines": 0}

    async def one(client: httpx.AsyncClient, path: Path) -> None:
        async def body() -> Any:
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    yield block

        headers = {"X-API-Key": token, "Content-Type": "application/x-ndjson"}
        resp = await client.post("/orders/bulk", content=body(), headers=headers)
        if resp.status_code != 200:
            totals["non2xx"] += 1
            print(f"bulk upload {path.name}: HTTP {resp.status_code} {resp.text[:300]}")
            return
        for k in ("created", "existing", "rejected"):
            totals[k] += int(resp.headers[f"x-orders-{k}"])
        totals["report_lines"] += resp.text.count("\n")

    async def all_files() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            await asyncio.gather(*(one(client, p) for p in files))

    began = time.perf_counter()
    asyncio.run(all_files())
    return time.perf_counter() - began, totals


# -- in-process baselines ----------------------------------------------------------------------
def in_process(url: str, token: str, prefix: str, singles: int, bulk: int) -> dict[str, float]:
    """The same kinds of orders through the use cases in this process: no HTTP, no workers."""
    from xborder.bootstrap import bootstrap
    from xborder.services.api_keys import Authenticate, authenticate
    from xborder.services.idempotency import hash_request
    from xborder.services.tenancy_writes import (
        CaptureLines,
        CaptureOrder,
        capture_lines,
        capture_order,
    )

    plat = bootstrap(url, migrate=False)
    caller = authenticate(plat.uow(), Authenticate(token))
    began = time.perf_counter()
    for i in range(singles):
        record = order(f"{prefix}-s-{i}")
        digest = hash_request("POST /orders", json.dumps(record, sort_keys=True))
        capture_order(plat.uow(), CaptureOrder(caller, record, f"{prefix}-s-{i}", digest))
    single_s = time.perf_counter() - began
    template = json.dumps(order("@EXT@"))
    lines = [template.replace("@EXT@", f"{prefix}-b-{i}") for i in range(bulk)]
    began = time.perf_counter()
    for at in range(0, bulk, 5000):
        capture_lines(plat.uow(), CaptureLines(caller, lines[at : at + 5000], at + 1))
    bulk_s = time.perf_counter() - began
    plat.close()
    return {"single_per_s": singles / single_s, "bulk_per_s": bulk / bulk_s}


def stored(db: Path, prefix: str) -> tuple[int, int, int]:
    """(orders, distinct (channel, external id), idempotency records) of one phase's prefix."""
    with sqlite3.connect(db) as conn:
        like = (CHANNEL, f"{prefix}-%")
        n, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT channel || '/' || external_id) FROM orders "
            "WHERE channel = ? AND external_id LIKE ?", like).fetchone()  # fmt: skip
        idem = conn.execute("SELECT count(*) FROM idempotency_records WHERE idem_key LIKE ?",
                            (f"{prefix}-%",)).fetchone()[0]  # fmt: skip
    return int(n), int(distinct), int(idem)


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    cpus = os.cpu_count() or 1
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=cpus, help="uvicorn workers (default: cores)")
    ap.add_argument("--seconds", type=int, default=20, help="single-order phase duration")
    ap.add_argument("--connections", type=int, default=32, help="concurrent connections")
    ap.add_argument("--bulk", type=int, default=200_000, help="orders uploaded as NDJSON")
    ap.add_argument("--files", type=int, default=0, help="bulk files, uploaded concurrently "
                    "(default: one per worker, at most 50,000 orders each)")  # fmt: skip
    ap.add_argument("--python-client", action="store_true", help="ignore wrk")
    ap.add_argument("--quick", action="store_true", help="a few seconds, for CI")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.bulk, args.connections = 3, 10_000, 8
    # one file per worker, and each under the server's 64 MiB bulk body limit (about 700 bytes
    # an order: 50,000 orders a file stay well inside it)
    files_n = args.files or max(args.workers, -(-args.bulk // 50_000))
    use_wrk = os.access(WRK, os.X_OK) and not args.python_client
    drive = run_wrk if use_wrk else run_python
    print(f"cores {cpus}, workers {args.workers}, {args.connections} connections, "
          f"{args.seconds} s; load generator: "
          f"{'wrk ' + WRK if use_wrk else 'Python asyncio + httpx'} on the same cores; "
          f"load average before {loadavg()}")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="xborder-bench-api-") as folder:
        tmp = Path(folder)
        db = tmp / "store.db"
        env = {**os.environ, "XBORDER_DATABASE_URL": f"sqlite:///{db}",
               "XBORDER_KEYS_DIR": str(tmp / "keys"), "XBORDER_DATA_DIR": str(tmp / "data"),
               "XBORDER_API_RATE_LIMIT": "10000000", "COLUMNS": "120"}  # fmt: skip
        xborder(env, "init")
        token = json.loads(xborder(env, "keys", "create", SELLER, "--role", "seller",
                                   "--json"))["token"]  # fmt: skip
        port = free_port()
        py = sys.executable
        results: dict[str, Any] = {}

        # baseline 1: the HTTP stack's ceiling (trivial endpoint, same uvicorn settings)
        cmd = [
            py,
            "-m",
            "uvicorn",
            "bench_api:trivial_app",
            "--factory",
            "--app-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-proxy-headers",
            "--no-access-log",
        ]  # fmt: skip (xborder serve's settings as the benchmark runs it: no access log)
        with server(cmd, env, port, tmp / "trivial.log") as base:
            results["trivial"] = drive(base, token, "T", args.seconds, args.connections)

        # the API: single orders, then bulk
        serve = [str(Path(py).with_name("xborder")), "serve", "--port", str(port),
                 "--workers", str(args.workers), "--no-access-log"]  # fmt: skip
        files = []
        per = -(-args.bulk // files_n)
        for f in range(files_n):
            count = min(per, args.bulk - f * per)
            if count > 0:
                files.append(tmp / f"bulk-{f}.ndjson")
                write_bulk(files[-1], "B", f * per, count)
        with server(serve, env, port, tmp / "serve.log") as base:
            results["single"] = drive(base, token, "S", args.seconds, args.connections)
            results["load_single"] = loadavg()
            bulk_s, bulk = upload(base, token, files)
            results["load_bulk"] = loadavg()

        singles_stored = stored(db, "S")
        bulk_stored = stored(db, "B")
        base_n = 50 if args.quick else 300
        inproc = in_process(env["XBORDER_DATABASE_URL"], token, "I", base_n,
                            min(args.bulk, 50_000))  # fmt: skip

        # report
        t, s = results["trivial"], results["single"]
        rate = s["requests"] / s["seconds"]
        print("\n| single orders (POST /orders) | req/s | p50 ms | p99 ms | max ms | non-2xx "
              "| socket errors |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, r in (("xborder API", s), ("trivial FastAPI endpoint (baseline)", t)):
            print(
                f"| {name} | {r['requests'] / r['seconds']:,.0f} | {r['p50']:.1f} "
                f"| {r['p99']:.1f} | {r['max']:.1f} | {r['non2xx']} | {r['socket_errors']} |"
            )
        print(
            f"| in-process capture_order use case, one thread (baseline) "
            f"| {inproc['single_per_s']:,.0f} | | | | | |"
        )
        print(f"\n| bulk NDJSON ({args.bulk:,} orders in {len(files)} files) | s | orders/s |")
        print("| --- | --- | --- |")
        print(f"| xborder API POST /orders/bulk | {bulk_s:.2f} | {args.bulk / bulk_s:,.0f} |")
        print(f"| in-process capture_lines use case, 5,000-line chunks (baseline) | | "
              f"{inproc['bulk_per_s']:,.0f} |")  # fmt: skip
        n1, d1, idem = singles_stored
        n2, d2, _ = bulk_stored
        in_flight = n1 - s["created"]  # stored, but the load generator stopped before the answer
        ok_single = (n1 == d1 == idem and s["existing"] == 0
                     and 0 <= in_flight <= args.connections)  # fmt: skip
        ok_bulk = bulk["created"] == n2 == d2 == args.bulk and bulk["rejected"] == 0
        print(
            f"\nsingle: {s['created']:,} answered 201, {s['existing']} 200, "
            f"{s['non2xx']} other; stored {n1:,} orders ({d1:,} distinct), {idem:,} "
            f"idempotency records; {in_flight} stored but unanswered when the load generator "
            f"stopped (in flight) -> {'OK' if ok_single else 'MISMATCH'}"
        )
        print(
            f"bulk: {bulk['created']:,} created, {bulk['existing']} existing, "
            f"{bulk['rejected']} rejected, {bulk['non2xx']} failed uploads; stored {n2:,} "
            f"({d2:,} distinct) -> {'OK' if ok_bulk else 'MISMATCH'}"
        )
        print(
            f"load average during single / bulk / after: {results['load_single']} / "
            f"{results['load_bulk']} / {loadavg()}"
        )
        # wrk counts the requests in flight when it stops as read errors or timeouts
        errors = s["non2xx"] + max(0, s["socket_errors"] - in_flight) + bulk["non2xx"]
        goals = [("single >= 2,000 req/s", rate >= 2000), ("p99 < 50 ms", s["p99"] < 50),
                 ("bulk >= 50,000 orders/s", args.bulk / bulk_s >= 50_000),
                 ("zero errors", errors == 0),
                 ("stored exactly once", ok_single and ok_bulk)]  # fmt: skip
        print("goals: " + "; ".join(f"{g}: {'met' if ok else 'MISSED'}" for g, ok in goals))
        return 0 if ok_single and ok_bulk and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
