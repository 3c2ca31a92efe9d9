"""Traceability ledger: capture, verification and one parcel's history, each against a baseline.

Goals (DESIGN.md): capture with hash chain and signatures >= 100,000 events/s; chain verification
>= 500,000 events/s; one parcel's history p99 <= 5 ms with 10,000,000 events stored (SQLite;
PostgreSQL recorded too). Baselines measured in the same run:
- capture vs raw ``sqlite3.executemany`` of the very rows the ledger stored (same schema, same
  pragmas) and vs raw SHA-256 over the same document bytes;
- verification vs raw SHA-256 over the same bytes (chain input = previous link + document).

The store is filled through the real capture path, wave by wave like the demo flow: order
placed, packed, consolidated into bags of 100, departed, arrived, import released, unpacked,
out for delivery, delivered (about 4.1 events per parcel). ``--events`` sets the store size.

    .venv/bin/python benchmarks/bench_trace.py --events 200000
    .venv/bin/python benchmarks/bench_trace.py --events 10000000 --no-deep   # the 10 M figure
    .venv/bin/python benchmarks/bench_trace.py --events 200000 --postgres
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xborder.services import trace as svc
from xborder.store.engine import make_engine
from xborder.store.migrate import upgrade
from xborder.store.trace_repo import EVENT_COLUMNS
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import CAPTURE_SCHEMA, sscc_link
from xborder.trace.identifiers import sscc
from xborder.trace.lifecycle import BTT_ORDER

BAG = 100
WAVE = 50_000  # parcels per wave (one capture call per step per wave)
SELLERS = [f"seller-{i}" for i in range(8)]
T0 = datetime(2026, 11, 1, tzinfo=UTC)
HUB = "https://xborder.dev/loc/hub/CNSZX"
DEST = "https://xborder.dev/loc/hub/GBLHR"


def _frame(cols: dict[str, Any], n: int) -> pl.DataFrame:
    data = {k: cols.get(k, [None] * n) for k in CAPTURE_SCHEMA}
    return pl.DataFrame(data, schema=CAPTURE_SCHEMA)


def fill(engine: Engine, parcels: int, report: Any) -> dict[str, Any]:
    """Register parcels and bags and capture their flow in waves; time only the captures."""
    capture_s = 0.0
    captured = 0
    first_parcel = 1
    while first_parcel <= parcels:
        n = min(WAVE, parcels - first_parcel + 1)
        ids = range(first_parcel, first_parcel + n)
        keys = [sscc_link(sscc("0614141", f"{i:09d}", "0")) for i in ids]
        bags = [sscc_link(sscc("0614141", f"{i:09d}", "1")) for i in ids[::BAG]]
        sellers = [SELLERS[i % len(SELLERS)] for i in ids]
        with UnitOfWork(engine) as uow:
            svc.register_objects(
                uow,
                [
                    svc.ObjectSpec(
                        k,
                        tracking_no=f"XB{i:010d}",
                        sscc=k[-18:],
                        destination_postcode="SW1A1AA",
                        participants=(s, "platform"),
                    )
                    for i, k, s in zip(ids, keys, sellers, strict=True)
                ]
                + [
                    svc.ObjectSpec(b, kind="bag", sscc=b[-18:], participants=("fwd",)) for b in bags
                ],
            )
            uow.commit()
        t = T0 + timedelta(minutes=first_parcel // 1000)
        tx = [[{"type": BTT_ORDER, "id": f"https://xborder.dev/tx/order/{i}"}] for i in ids]
        waves = [
            _frame(
                {
                    "object_key": keys,
                    "step": ["order_placed"] * n,
                    "event_time": [t] * n,
                    "tz_offset": ["+08:00"] * n,
                    "party_id": ["platform"] * n,
                    "transactions": tx,
                },
                n,
            ),
            _frame(
                {
                    "object_key": keys,
                    "step": ["picked_packed"] * n,
                    "event_time": [t + timedelta(hours=3)] * n,
                    "tz_offset": ["+08:00"] * n,
                    "party_id": sellers,
                    "read_point": ["https://xborder.dev/loc/warehouse/WH1"] * n,
                },
                n,
            ),
        ]
        nb = len(bags)
        bag_steps = [
            ("consolidated", HUB, 8),
            ("departed", HUB, 12),
            ("arrived", DEST, 40),
            ("import_released", DEST, 50),
            ("deconsolidated", DEST, 55),
        ]
        for step, where, hours in bag_steps:
            waves.append(
                _frame(
                    {
                        "object_key": bags,
                        "step": [step] * nb,
                        "event_time": [t + timedelta(hours=hours)] * nb,
                        "tz_offset": ["+00:00"] * nb,
                        "party_id": ["fwd"] * nb,
                        "read_point": [where] * nb,
                        "children": [keys[j : j + BAG] for j in range(0, n, BAG)],
                    },
                    nb,
                )
            )
        for step, hours in (("out_for_delivery", 60), ("delivered", 66)):
            waves.append(
                _frame(
                    {
                        "object_key": keys,
                        "step": [step] * n,
                        "event_time": [t + timedelta(hours=hours)] * n,
                        "tz_offset": ["+00:00"] * n,
                        "party_id": ["lastmile"] * n,
                    },
                    n,
                )
            )
        for frame in waves:
            start = time.perf_counter()
            with UnitOfWork(engine) as uow:
                captured += svc.capture(uow, frame).events
                uow.commit()
            capture_s += time.perf_counter() - start
        first_parcel += n
        report(captured)
    return {"events": captured, "seconds": capture_s}


def raw_insert_baseline(engine: Engine, limit: int) -> float:
    """Seconds to insert the ledger's own first ``limit`` rows with plain sqlite3.executemany."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {', '.join(EVENT_COLUMNS)} FROM trace_events ORDER BY id LIMIT {limit}")
        ).all()
    path = Path(tempfile.mkdtemp()) / "raw.db"
    target = make_engine(f"sqlite:///{path}")
    upgrade(target)
    target.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    marks = ", ".join("?" for _ in EVENT_COLUMNS)
    tuples = [tuple(r) for r in rows]
    start = time.perf_counter()
    raw.execute("BEGIN IMMEDIATE")
    raw.executemany(
        f"INSERT INTO trace_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})", tuples
    )
    raw.execute("COMMIT")
    elapsed = time.perf_counter() - start
    raw.close()
    return elapsed


def sha_baseline(engine: Engine, limit: int) -> tuple[float, float]:
    """Seconds for raw SHA-256 of (a) each document, (b) prev link + document, same bytes."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT prev, document FROM trace_events ORDER BY id LIMIT {limit}")
        ).all()
    docs = [r.document.encode() for r in rows]
    prevs = [bytes(r.prev) for r in rows]
    sha = hashlib.sha256
    start = time.perf_counter()
    for d in docs:
        sha(d).digest()
    docs_s = time.perf_counter() - start
    start = time.perf_counter()
    for p, d in zip(prevs, docs, strict=True):
        sha(p + d).digest()
    return docs_s, time.perf_counter() - start


def raw_read_baseline(path: Path) -> float:
    """Rows/s of a plain sqlite3 scan of the columns verification reads, in id order."""
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    count = 0
    cursor = conn.execute(
        "SELECT id, object_id, seq, batch_id, party_id, hash, prev, chain, "
        "CAST(document AS BLOB) FROM trace_events ORDER BY id"
    )
    while chunk := cursor.fetchmany(50_000):
        count += len(chunk)
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def history_p99(engine: Engine, parcels: int, samples: int) -> dict[str, float]:
    rng = random.Random(7)
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM trace_objects WHERE kind = 'parcel'")).scalars()
        pool = list(ids)
    picks = [rng.choice(pool) for _ in range(samples)]
    times = []
    with UnitOfWork(engine) as uow:
        svc.history_rows(uow, picks[0])  # warm the connection
        for oid in picks:
            start = time.perf_counter()
            rows = svc.history_rows(uow, oid)
            times.append((time.perf_counter() - start) * 1000)
            assert len(rows) >= 4
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p99_ms": times[int(len(times) * 0.99) - 1],
        "max_ms": times[-1],
    }


def run(url: str, events: int, deep: bool, samples: int, label: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    parcels = max(BAG, int(events / (4 + 5 / BAG)))
    print(f"\n== {label}: {parcels:,} parcels, target {events:,} events", flush=True)
    done = fill(engine, parcels, lambda c: print(f"  captured {c:,}", end="\r", flush=True))
    with engine.begin() as conn:  # planner statistics, as autovacuum / a DBA would have them
        conn.execute(text("ANALYZE"))
    rate = done["events"] / done["seconds"]
    print(
        f"capture (kernel + chain + Merkle + Ed25519 per batch + insert + commit): "
        f"{done['events']:,} events in {done['seconds']:.1f} s = {rate:,.0f} events/s"
    )
    if engine.dialect.name == "sqlite":
        limit = min(done["events"], 500_000)
        raw_s = raw_insert_baseline(engine, limit)
        print(
            f"  baseline raw sqlite3.executemany of the same {limit:,} rows: "
            f"{limit / raw_s:,.0f} rows/s  -> capture is {rate / (limit / raw_s):.0%} of raw"
        )
    limit = min(done["events"], 500_000)
    docs_s, chain_s = sha_baseline(engine, limit)
    print(f"  baseline raw SHA-256 over the same documents: {limit / docs_s:,.0f} /s")
    with UnitOfWork(engine) as uow:
        fast = svc.verify(uow, svc.Verify(deep=False))
    assert fast.ok, fast.first
    vrate = fast.events / fast.seconds
    print(
        f"verify (stream + chains + Merkle roots + signatures): {fast.events:,} events in "
        f"{fast.seconds:.1f} s = {vrate:,.0f} events/s"
    )
    print(
        f"  baseline raw SHA-256 over the same bytes (prev + document): "
        f"{limit / chain_s:,.0f} /s  -> verify is {vrate / (limit / chain_s):.0%} of raw"
    )
    if engine.dialect.name == "sqlite" and engine.url.database:
        read = raw_read_baseline(Path(engine.url.database))
        both = 1 / (1 / read + chain_s / limit)
        print(
            f"  baseline raw sqlite3 scan of the same rows: {read:,.0f} rows/s; scan + SHA-256: "
            f"{both:,.0f} /s  -> verify is {vrate / both:.0%} of that"
        )
    if deep:
        with UnitOfWork(engine) as uow:
            full = svc.verify(uow, svc.Verify(deep=True))
        assert full.ok, full.first
        print(
            f"verify --deep (also recompute every CBV Event Hash ID from JSON): "
            f"{full.events / full.seconds:,.0f} events/s"
        )
    h = history_p99(engine, parcels, samples)
    print(
        f"one parcel's history ({samples} random parcels, {done['events']:,} events stored): "
        f"p50 {h['p50_ms']:.2f} ms, p99 {h['p99_ms']:.2f} ms, max {h['max_ms']:.2f} ms"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events to store")
    parser.add_argument("--samples", type=int, default=2_000, help="history lookups")
    parser.add_argument("--no-deep", action="store_true", help="skip the deep verification")
    parser.add_argument(
        "--postgres", action="store_true", help="also run on a throw-away PostgreSQL server"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite file goes")
    args = parser.parse_args()
    os.environ.setdefault("XBORDER_KEYS_DIR", tempfile.mkdtemp(prefix="xb-bench-keys-"))
    print(
        f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} (shared machine: "
        "figures are noisy lower bounds)"
    )
    directory = args.dir or Path(tempfile.mkdtemp(prefix="xb-bench-trace-"))
    run(
        f"sqlite:///{directory / 'trace.db'}", args.events, not args.no_deep, args.samples, "SQLite"
    )
    if args.postgres:
        from tests.pg_server import PostgresServer

        server = PostgresServer()
        admin = server.start()
        try:
            from sqlalchemy import create_engine

            eng = create_engine(admin, isolation_level="AUTOCOMMIT")
            with eng.connect() as conn:
                conn.execute(text("CREATE DATABASE bench_trace"))
            eng.dispose()
            run(
                server.url("bench_trace"), args.events, not args.no_deep, args.samples, "PostgreSQL"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
