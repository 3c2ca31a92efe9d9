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
import gc
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


def _frame(base: pl.DataFrame, **constants: Any) -> pl.DataFrame:
    """A capture frame: ``base``'s columns, ``constants`` broadcast, every other column null."""
    return base.select(
        pl.col(k).cast(t) if k in base.columns else pl.lit(constants.get(k), t).alias(k)
        for k, t in CAPTURE_SCHEMA.items()
    )


def fill(engine: Engine, parcels: int, report: Any) -> dict[str, Any]:
    """Register parcels and bags and capture their flow in waves. Timed: what a user pays --
    the registrations, building the input frames and every capture (its own transaction)."""
    timed = register_s = capture_s = 0.0
    captured = 0
    first_parcel = 1
    while first_parcel <= parcels:
        start = time.perf_counter()
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
        register_s += time.perf_counter() - start
        t = T0 + timedelta(minutes=first_parcel // 1000)
        parcel = pl.DataFrame({"object_key": keys, "party_id": sellers, "i": list(ids)})
        tx = pl.concat_list(
            pl.struct(
                type=pl.lit(BTT_ORDER),
                id=pl.format("https://xborder.dev/tx/order/{}", pl.col("i")),
            )
        ).alias("transactions")
        waves = [
            _frame(
                parcel.select("object_key", tx),
                step="order_placed",
                event_time=t,
                tz_offset="+08:00",
                party_id="platform",
            ),
            _frame(
                parcel.select("object_key", "party_id"),
                step="picked_packed",
                event_time=t + timedelta(hours=3),
                tz_offset="+08:00",
                read_point="https://xborder.dev/loc/warehouse/WH1",
            ),
        ]
        bagged = pl.DataFrame(
            {"object_key": bags, "children": [keys[j : j + BAG] for j in range(0, n, BAG)]}
        )
        for step, where, hours in (
            ("consolidated", HUB, 8),
            ("departed", HUB, 12),
            ("arrived", DEST, 40),
            ("import_released", DEST, 50),
            ("deconsolidated", DEST, 55),
        ):
            waves.append(
                _frame(
                    bagged,
                    step=step,
                    event_time=t + timedelta(hours=hours),
                    tz_offset="+00:00",
                    party_id="fwd",
                    read_point=where,
                )
            )
        for step, hours in (("out_for_delivery", 60), ("delivered", 66)):
            waves.append(
                _frame(
                    parcel.select("object_key"),
                    step=step,
                    event_time=t + timedelta(hours=hours),
                    tz_offset="+00:00",
                    party_id="lastmile",
                )
            )
        for frame in waves:
            started = time.perf_counter()
            with UnitOfWork(engine) as uow:
                captured += svc.capture(uow, frame).events
                uow.commit()
            capture_s += time.perf_counter() - started
        timed += time.perf_counter() - start
        first_parcel += n
        report(captured)
    return {
        "events": captured,
        "seconds": timed,
        "register_s": register_s,
        "capture_s": capture_s,
    }


def raw_insert_baseline(engine: Engine, limit: int, directory: Path) -> float:
    """Rows/s of plain ``sqlite3.executemany`` of the ledger's own first ``limit`` rows into an
    empty table of the same schema, same pragmas, one transaction."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {', '.join(EVENT_COLUMNS)} FROM trace_events ORDER BY id LIMIT {limit}")
        ).all()
    path = directory / "raw.db"
    target = make_engine(f"sqlite:///{path}")
    upgrade(target)
    target.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    marks = ", ".join("?" for _ in EVENT_COLUMNS)
    tuples = [tuple(r) for r in rows]
    del rows
    start = time.perf_counter()
    raw.execute("BEGIN IMMEDIATE")
    raw.executemany(
        f"INSERT INTO trace_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})", tuples
    )
    raw.execute("COMMIT")
    elapsed = time.perf_counter() - start
    raw.close()
    return len(tuples) / elapsed


def scan_sha_baseline(engine: Engine) -> dict[str, float]:
    """Measured, one pass, one process: a plain driver scan of every event in id order, and
    SHA-256 of each chain input (prev + Event Hash digest + document) as it arrives; also the
    scan alone and SHA-256 alone over the same bytes (rows/s)."""
    doc = (
        "CAST(document AS BLOB)"
        if engine.dialect.name == "sqlite"
        else "convert_to(document, 'UTF8')"
    )
    sql = f"SELECT id, prev, hash, {doc} FROM trace_events ORDER BY id"
    sha = hashlib.sha256
    with engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        start = time.perf_counter()
        cursor = raw.cursor()
        cursor.execute(sql)
        count = 0
        while chunk := cursor.fetchmany(50_000):
            count += len(chunk)
            for _, p, h, d in chunk:
                sha(p + h + d).digest()
        both = time.perf_counter() - start
        cursor.close()
        gc.disable()  # the rows are kept for the SHA-256 pass: no collector passes over them
        start = time.perf_counter()
        cursor = raw.cursor()
        cursor.execute(sql)
        kept = []
        while chunk := cursor.fetchmany(50_000):
            kept.append(chunk)
        scan = time.perf_counter() - start
        cursor.close()
        conn.rollback()
    start = time.perf_counter()
    for chunk in kept:
        for _, p, h, d in chunk:
            sha(p + h + d).digest()
    alone = time.perf_counter() - start
    gc.enable()
    return {"scan_sha": count / both, "scan": count / scan, "sha": count / alone}


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


def _verify(engine: Engine, deep: bool, workers: int | None) -> svc.VerifyReport:
    with UnitOfWork(engine) as uow:
        report = svc.verify(uow, svc.Verify(deep=deep, workers=workers))
    assert report.ok, report.first
    return report


def run(url: str, events: int, deep: bool, samples: int, label: str, directory: Path) -> None:
    load = os.getloadavg()[0]
    engine = make_engine(url)
    upgrade(engine)
    parcels = max(BAG, int(events / (4 + 5 / BAG)))
    print(f"\n== {label}: {parcels:,} parcels, target {events:,} events", flush=True)
    done = fill(engine, parcels, lambda c: print(f"  captured {c:,}", end="\r", flush=True))
    with engine.begin() as conn:  # planner statistics, as autovacuum / a DBA would have them
        conn.execute(text("ANALYZE"))
    rate = done["events"] / done["seconds"]
    print(
        f"capture (register parcels and bags + build the input + kernel + chain + Merkle + "
        f"Ed25519 per batch + insert + commit): {done['events']:,} events in "
        f"{done['seconds']:.2f} s = {rate:,.0f} events/s  [goal >= 100,000]\n"
        f"  of which registration {done['register_s']:.2f} s, capture calls "
        f"{done['capture_s']:.2f} s ({done['events'] / done['capture_s']:,.0f} events/s), "
        f"the rest building the input"
    )
    if engine.dialect.name == "sqlite":
        limit = min(done["events"], 1_000_000)
        raw = raw_insert_baseline(engine, limit, directory)
        print(
            f"  baseline, same run: raw sqlite3.executemany of the same {limit:,} rows "
            f"{raw:,.0f} rows/s -> capture / raw = {rate / raw:.2f}"
        )
    base = scan_sha_baseline(engine)
    fast = _verify(engine, False, None)
    vrate = fast.events / fast.seconds
    print(
        f"verify (chains, seq/prev, Merkle roots, signatures, query columns, memberships, "
        f"registry; {fast.workers} process(es)): {fast.events:,} events in {fast.seconds:.2f} s "
        f"= {vrate:,.0f} events/s  [goal >= 500,000]"
    )
    print(
        f"  baseline, same run, measured: one-process scan + SHA-256 of each chain input "
        f"{base['scan_sha']:,.0f} /s -> verify / baseline = {vrate / base['scan_sha']:.2f} "
        f"(scan alone {base['scan']:,.0f} /s, SHA-256 alone {base['sha']:,.0f} /s)"
    )
    one = _verify(engine, False, 1)
    print(
        f"  verify in one process (same checks): {one.events / one.seconds:,.0f} events/s "
        f"-> / baseline = {one.events / one.seconds / base['scan_sha']:.2f}"
    )
    if deep:
        full = _verify(engine, True, None)
        print(
            f"verify --deep (also recompute every CBV Event Hash ID from JSON): "
            f"{full.events / full.seconds:,.0f} events/s"
        )
    h = history_p99(engine, parcels, samples)
    print(
        f"one parcel's history ({samples} random parcels, {done['events']:,} events stored): "
        f"p50 {h['p50_ms']:.2f} ms, p99 {h['p99_ms']:.2f} ms, max {h['max_ms']:.2f} ms"
        "  [goal p99 <= 5 ms]"
    )
    print(f"  load average (1 min) at start / end: {load:.2f} / {os.getloadavg()[0]:.2f}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events to store")
    parser.add_argument("--samples", type=int, default=2_000, help="history lookups")
    parser.add_argument(
        "--quick", action="store_true", help="a small run (20,000 events; well under 60 s)"
    )
    parser.add_argument("--no-deep", action="store_true", help="skip the deep verification")
    parser.add_argument(
        "--postgres", action="store_true", help="also run on a throw-away PostgreSQL server"
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.samples = 20_000, 200
    print(
        f"cores: {os.cpu_count()}, load average (1 min): {os.getloadavg()[0]:.2f} (shared "
        "machine: figures are noisy lower bounds)"
    )
    # everything written (database, WAL, raw baseline copy, signing keys) goes in here
    with tempfile.TemporaryDirectory(prefix="xb-bench-trace-") as tmp:
        directory = Path(tmp)
        os.environ["XBORDER_KEYS_DIR"] = str(directory / "keys")
        run(
            f"sqlite:///{directory / 'trace.db'}",
            args.events,
            not args.no_deep,
            args.samples,
            "SQLite",
            directory,
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
                    server.url("bench_trace"),
                    args.events,
                    not args.no_deep,
                    args.samples,
                    "PostgreSQL",
                    directory,
                )
            finally:
                server.stop()


if __name__ == "__main__":
    main()
