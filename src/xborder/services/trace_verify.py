"""Verifying the ledger: anyone can check that nothing was rewritten after it was signed.

Recomputes every chain link (which binds each document and its stored Event Hash ID), every
batch's Merkle root and count, the batch-to-batch root chain, every signature (over every column
of the batch row) and key fingerprint; the query columns and object of every event from its
document, its party from its batch, the memberships from the AggregationEvents and the object
registry from its signed state (``trace_verify_rows``); with a checkpoint, that the ledger still
extends it (``trace_checkpoint``); and, deep, every Event Hash ID from its stored document. The
events are streamed in id order so memory stays flat however large the ledger is.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xborder.services.trace_capture import REGISTRY_PARTY, ZERO_ROOT, hash_id_of
from xborder.services.trace_checkpoint import SignedTreeHead, check_checkpoint
from xborder.services.trace_verify_rows import (
    Aggregation,
    membership_breaks,
    registry_digest,
    replay_memberships,
)
from xborder.services.trace_verify_scan import (
    BROKEN_CHAIN,
    VERIFY_COLUMNS,
    Break,
    RangeTask,
    Scan,
    scan_range,
)
from xborder.store.trace_repo import TraceRepository
from xborder.store.uow import UnitOfWork
from xborder.trace import chain as chains
from xborder.trace.gcpause import collector_paused
from xborder.trace.signing import KeyStore, key_id, verify_signature

# From this many signed events on, verify spreads the scan over one process per core: the first
# start of the worker processes (an interpreter importing Polars) costs about a second.
PARALLEL_FROM = 300_000
_MAX_ID = 2**62
__all__ = ["PARALLEL_FROM", "Break", "Verify", "VerifyReport", "verify"]


@dataclass(frozen=True, slots=True)
class Verify:
    """``deep``: also recompute each Event Hash ID from its document; stop at ``max_breaks``;
    ``key_files``: also compare the stored public keys with the local key directory
    (``uow.keys``), which catches a re-signing by someone who can write the store only;
    ``checkpoint``: a signed tree head kept outside the store, which the ledger must extend;
    ``workers``: processes scanning id ranges in parallel (default: one per core from
    ``PARALLEL_FROM`` events on; always one for an in-memory SQLite database)."""

    deep: bool = True
    max_breaks: int = 100
    key_files: bool = True
    checkpoint: SignedTreeHead | None = None
    workers: int | None = None


@dataclass
class VerifyReport:
    events: int = 0
    batches: int = 0
    deep: bool = True
    breaks: list[Break] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first(self) -> Break | None:
        return self.breaks[0] if self.breaks else None


def _check_batches(
    repo: TraceRepository, keys: KeyStore | None, report: VerifyReport
) -> dict[int, dict[str, Any]]:
    batches = repo.batches()
    public = repo.public_keys()
    for (party, kid), raw_key in public.items():
        if key_id(raw_key) != kid:
            report.breaks.append(Break(f"public key of {party} does not match its key id {kid}"))
    if keys is not None:
        for party in {p for p, _ in public}:
            if keys.has(party) and (party, keys.load(party).key_id) not in public:
                report.breaks.append(
                    Break(f"no public key in the store matches {party}'s key file")
                )
    last_root: dict[str, bytes] = {}
    for b in batches:
        prev = last_root.get(b["party_id"], ZERO_ROOT)
        if bytes(b["prev_root"]) != prev:
            report.breaks.append(
                Break(
                    "batch does not follow the party's previous batch "
                    "(a batch was deleted, inserted or reordered)",
                    batch_id=b["id"],
                )
            )
        message = chains.row_message(b)
        pub = public.get((b["party_id"], b["key_id"]))
        if pub is None or not verify_signature(pub, bytes(b["signature"]), message):
            report.breaks.append(
                Break(f"signature of {b['party_id']} does not verify", batch_id=b["id"])
            )
        last_root[b["party_id"]] = bytes(b["root"])
    report.batches = len(batches)
    return {int(b["id"]): b for b in batches}


def _registry(
    repo: TraceRepository, signed: dict[int, dict[str, Any]], report: VerifyReport
) -> tuple[dict[int, str], dict[str, int]]:
    """Check ``trace_objects`` against the registry's last signed state; id <-> key maps."""
    keys: dict[int, str] = {}

    def all_rows() -> Any:
        for chunk in repo.stream_objects():
            for row in chunk:
                keys[int(row[0])] = str(row[1])
                yield row

    state, count = registry_digest(all_rows())
    _registry_state(signed, state, count, report)
    return keys, {k: i for i, k in keys.items()}


def _registry_state(
    signed: dict[int, dict[str, Any]], state: bytes, count: int, report: VerifyReport
) -> None:
    """The registry's LtHash ``state`` over ``count`` object rows against its last signed one."""
    last = max(
        (b for b in signed.values() if b["party_id"] == REGISTRY_PARTY),
        key=lambda b: int(b["id"]),
        default=None,
    )
    if last is None:
        if count:
            report.breaks.append(
                Break("objects without a signed registry state (inserted)", column="trace_objects")
            )
    elif bytes(last["root"]) != state or int(last["event_count"]) != count:
        report.breaks.append(
            Break(
                f"the object registry ({count} rows) differs from its signed state "
                f"({last['event_count']} rows): an object row was edited, inserted or deleted",
                batch_id=int(last["id"]),
                column="trace_objects",
            )
        )


# ---- in parallel ---------------------------------------------------------------------------------


def _ranges(signed: dict[int, dict[str, Any]], parts: int) -> list[tuple[int, int]]:
    """``parts`` id ranges covering every id, cut at the first events of signed batches (so a
    batch of an untouched ledger lies in one range) with about equal signed event counts."""
    batches = sorted(
        (int(b["first_event_id"]), int(b["event_count"]))
        for b in signed.values()
        if b["party_id"] != REGISTRY_PARTY and int(b["event_count"]) > 0
    )
    total = sum(c for _, c in batches)
    cuts: list[int] = []
    done = 0
    for first, count in batches:
        if done >= total * (len(cuts) + 1) / parts and len(cuts) < parts - 1:
            cuts.append(first)
        done += count
    bounds = [0, *cuts, _MAX_ID + 1]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(len(bounds) - 1)]


def parallel_scan(
    repo: TraceRepository,
    signed: dict[int, dict[str, Any]],
    command: Verify,
    report: VerifyReport,
    workers: int,
) -> None:
    """The scan and the registry over id ranges in ``workers`` processes, each on its own
    connection, stitched in ledger order (see ``trace_verify_scan``)."""
    url = repo.shared_url()
    assert url is not None
    ranges = _ranges(signed, workers)
    low, high = repo.object_id_bounds()
    step = max(1, -(-(high - low + 1) // len(ranges)))
    tasks = [
        RangeTask(
            url,
            first,
            last,
            low + i * step if i else 0,
            low + (i + 1) * step - 1 if i < len(ranges) - 1 else _MAX_ID,
            signed,
            command.deep,
            command.max_breaks,
        )
        for i, (first, last) in enumerate(ranges)
    ]
    # not a plain fork, which would inherit Polars' thread pool: a fork server that has the scan
    # module imported once per process lifetime (later verifies start their workers quickly)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([scan_range.__module__])
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
        results = list(pool.map(scan_range, tasks))
    report.workers = min(workers, len(tasks))
    lanes = np.zeros(chains.LT_LANES, dtype=np.uint16)
    for r in results:
        lanes += np.frombuffer(r.registry, dtype="<u2")
    _registry_state(signed, lanes.astype("<u2").tobytes(), sum(r.objects for r in results), report)
    breaks = report.breaks
    last: dict[int, tuple[int, bytes]] = {}
    broken: list[tuple[int, int]] = []
    seen: dict[int, None] = {}
    genesis = chains.GENESIS
    for r in results:
        breaks.extend(r.breaks)
        report.events += r.events
        get = last.get
        for eid, oid, seq, prev in r.firsts:
            head = get(oid)
            want = (head[0] + 1, head[1]) if head else (1, genesis)
            if seq != want[0] or prev != want[1]:
                broken.append((eid, want[0]))
        last.update(r.last)
        for bid in r.seen:
            if bid in seen:
                breaks.append(
                    Break("batch events are not contiguous (reordered or inserted)", batch_id=bid)
                )
            seen[bid] = None
    places = repo.event_places([eid for eid, _ in broken[: command.max_breaks]])
    for eid, seq in broken[: command.max_breaks]:
        place = places.get(eid)
        where = (place[0], place[2], hash_id_of(place[1])) if place else (None, None, None)
        breaks.append(Break(BROKEN_CHAIN.format(seq=seq), eid, *where))
    finish(repo, signed, seen, [a for r in results for a in r.aggregations], None, report, command)


def verify(uow: UnitOfWork, command: Verify) -> VerifyReport:
    """Recompute chains, Merkle roots, signatures, the query columns, memberships and registry
    (and, ``deep``, every Event Hash ID from its stored document; with a checkpoint, that the
    ledger extends it); stream the events in id order and report breaks in ledger order (a
    parallel run: in ledger order within each check)."""
    started = time.perf_counter()
    report = VerifyReport(deep=command.deep)
    with uow:
        repo = uow.trace
        signed = _check_batches(repo, uow.keys if command.key_files else None, report)
        if command.checkpoint is not None:
            report.breaks.extend(
                Break(reason, batch_id=bid)
                for reason, bid in check_checkpoint(
                    command.checkpoint, list(signed.values()), repo.public_keys(), uow.keys
                )
            )
        workers = _workers(repo, signed, command.workers)
        if workers > 1:
            parallel_scan(repo, signed, command, report, workers)
        else:
            _serial_scan(repo, signed, command, report)
    del report.breaks[command.max_breaks :]
    report.seconds = time.perf_counter() - started
    return report


def _workers(repo: TraceRepository, signed: dict[int, dict[str, Any]], asked: int | None) -> int:
    """How many processes: as asked, else one per core for a ledger large enough to repay
    starting them; one when no other connection can see this database (in-memory SQLite).
    Worker processes read what is committed: verify inside a transaction that wrote trace
    rows itself asks for ``workers=1``."""
    if repo.shared_url() is None:
        return 1
    if asked is not None:
        return max(1, asked)
    events = sum(int(b["event_count"]) for b in signed.values() if b["party_id"] != REGISTRY_PARTY)
    if events < PARALLEL_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def _serial_scan(
    repo: TraceRepository,
    signed: dict[int, dict[str, Any]],
    command: Verify,
    report: VerifyReport,
) -> None:
    with collector_paused():
        key_by_id, id_by_key = _registry(repo, signed, report)
    scan = Scan(signed, key_by_id, command.deep, command.max_breaks)
    scan.breaks.extend(report.breaks)
    report.breaks = scan.breaks
    scan.batches.breaks = scan.breaks
    scan.run(repo.stream_events(VERIFY_COLUMNS))
    report.events = scan.events
    finish(repo, signed, scan.batches.seen, scan.columns.aggregations, id_by_key, report, command)


def finish(
    repo: TraceRepository,
    signed: dict[int, dict[str, Any]],
    seen: Mapping[int, None],
    aggregations: list[Aggregation],
    id_by_key: Mapping[str, int] | None,
    report: VerifyReport,
    command: Verify,
) -> None:
    """After the scan: batches with no events left, and the memberships replayed from the
    AggregationEvents (``id_by_key``: the registry's key -> id, None to look the children up)."""
    breaks, max_breaks = report.breaks, command.max_breaks
    for bid, b in signed.items():
        if b["party_id"] == REGISTRY_PARTY:
            continue
        if bid not in seen and len(breaks) < max_breaks:
            breaks.append(Break("signed batch has no events left (deleted)", batch_id=bid))
    if len(breaks) >= max_breaks:
        return
    if id_by_key is None:
        id_by_key = repo.object_ids(sorted({k for a in aggregations for k in a.children}))
    implied = replay_memberships(aggregations, id_by_key)
    for (container, member, added), why in membership_breaks(implied, repo.all_memberships()):
        breaks.append(
            Break(
                f"membership of object {member} in container {container} {why}",
                event_id=added,
                column="trace_memberships",
            )
        )
