"""The event scan of ``trace verify``: one pass over a range of event ids, in id order.

Per chunk of rows, columnar (comprehensions and list comparisons, not per-event branches): each
chain link is recomputed (it binds the document and its stored Event Hash ID), each object's
seq/prev must continue its previous event, each run of a batch's events is closed against the
signed batch (contiguous, count, id range, Merkle root), the party must be the batch's, and the
query columns and object are recomputed from the document (``trace_verify_rows``).

The same scan runs over the whole ledger in one process, or over id ranges in several
(``scan_range``, run by ``trace_verify``): a range cannot know the event before an object's
first one in it, so it hands back those firsts and each object's last (seq, chain), and the
parent stitches the ranges in order, which is exactly the check one pass makes. Python's cyclic
garbage collector is paused during a scan: it allocates millions of short-lived rows that hold no
cycles, and the collector's passes over them took a third of the time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from xborder.services.trace_capture import REGISTRY_PARTY, hash_id_of
from xborder.services.trace_verify_rows import QUERY_COLUMNS, Aggregation, ColumnCheck
from xborder.store.trace_repo import reader
from xborder.trace import chain as chains
from xborder.trace.event_hash import namespaces_of, prehash
from xborder.trace.gcpause import collector_paused

_sha256 = hashlib.sha256
VERIFY_COLUMNS = (
    "id", "object_id", "seq", "batch_id", "party_id", *QUERY_COLUMNS, "hash", "prev", "chain",
    "document",
)  # fmt: skip
_WHY = {
    "object_id": "the event's object is not the one its document names (edited)",
    "party_id": "the party differs from its signed batch's party (edited)",
    "document": "the document is not a JSON event",
}
BROKEN_CHAIN = (
    "chain broken: expected seq {seq} after the object's previous event (an event was deleted, "
    "inserted or reordered)"
)


@dataclass(frozen=True, slots=True)
class Break:
    reason: str
    event_id: int | None = None
    batch_id: int | None = None
    object_key: str | None = None
    event_hash_id: str | None = None
    column: str | None = None  # the stored column (or table) found edited

    def describe(self, verbose: bool = True) -> str:
        """Where and why; without ``verbose``, no object URI and no Event Hash ID."""
        where = ", ".join(
            x
            for x in (
                f"event {self.event_id}" if self.event_id is not None else "",
                f"batch {self.batch_id}" if self.batch_id is not None else "",
                f"column {self.column}" if self.column else "",
                f"object {self.object_key}" if self.object_key and verbose else "",
                (self.event_hash_id or "") if verbose else "",
            )
            if x
        )
        return f"{where}: {self.reason}" if where else self.reason

    def __str__(self) -> str:
        return self.describe()


class Batches:
    """Closes each run of a batch's events in the stream and checks it against the signed
    batch: contiguous, the signed count and id range, the signed Merkle root."""

    def __init__(self, signed: Mapping[int, Mapping[str, Any]], breaks: list[Break]) -> None:
        self.signed, self.breaks = signed, breaks
        self.seen: dict[int, None] = {}

    def close(self, bid: int | None, leaves: list[bytes], first: int, last_id: int) -> None:
        if bid is None:
            return
        breaks = self.breaks
        b = self.signed.get(bid)
        if b is None or b["party_id"] == REGISTRY_PARTY:
            breaks.append(
                Break("event belongs to no batch (inserted)", event_id=first, batch_id=bid)
            )
            return
        if bid in self.seen:
            breaks.append(
                Break(
                    "batch events are not contiguous (reordered or inserted)",
                    batch_id=bid,
                    event_id=first,
                )
            )
        self.seen[bid] = None
        signed = (b["event_count"], b["first_event_id"], b["last_event_id"])
        if (len(leaves), first, last_id) != signed:
            breaks.append(
                Break(
                    f"batch holds {len(leaves)} events {first}..{last_id}, signed "
                    f"{signed[0]} events {signed[1]}..{signed[2]} (deleted or inserted)",
                    batch_id=bid,
                )
            )
        elif chains.merkle_root(leaves) != bytes(b["root"]):
            breaks.append(
                Break(
                    "Merkle root differs from the signed root (changed or reordered events)",
                    batch_id=bid,
                    event_id=first,
                )
            )


@dataclass
class Scan:
    """One pass over events in id order. ``ranged``: the scan covers an id range only, so an
    object's first event in it is not checked here but kept in ``firsts`` (event id, object
    id, seq, prev) for the parent to stitch; ``last`` holds each object's last (seq, chain)."""

    signed: Mapping[int, Mapping[str, Any]]
    keys: dict[int, str]
    deep: bool
    max_breaks: int
    ranged: bool = False
    breaks: list[Break] = field(default_factory=list)
    events: int = 0
    firsts: list[tuple[int, int, int, bytes]] = field(default_factory=list)
    last: dict[int, tuple[int, bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.batches = Batches(self.signed, self.breaks)
        self.columns = ColumnCheck(self.keys)
        self.party_of = {bid: b["party_id"] for bid, b in self.signed.items()}
        self._batch: int | None = None
        self._leaves: list[bytes] = []
        self._first = self._prev = 0

    @property
    def full(self) -> bool:
        return len(self.breaks) >= self.max_breaks

    def run(self, chunks: Iterable[list[Any]]) -> None:
        with collector_paused():
            for chunk in chunks:
                self.chunk(chunk)
                if self.full:
                    break
            self.batches.close(self._batch, self._leaves, self._first, self._prev)

    def chunk(self, chunk: list[Any]) -> None:
        cols = [list(c) for c in zip(*chunk, strict=True)]
        width = len(QUERY_COLUMNS)
        eids, oids, seqs, bids, parties = cols[:5]
        stored = cols[5 : 5 + width]
        digests, prevs, links, docs = cols[5 + width : 9 + width]
        if len(cols) > 9 + width:  # a ranged read: each row ends with its object's key
            self.keys.update(
                (o, k) for o, k in zip(oids, cols[9 + width], strict=True) if k is not None
            )
        n = len(eids)
        self.events += n
        sha = _sha256
        computed = [sha(p + h + d).digest() for p, h, d in zip(prevs, digests, docs, strict=True)]
        last = self.last
        get = last.get
        heads: list[tuple[int, bytes] | None]
        if len(set(oids)) == n:  # each object once in this chunk: bulk lookups and update
            heads = [get(o) for o in oids]
            last.update(zip(oids, zip(seqs, links, strict=True), strict=True))
        else:  # an object twice in the chunk: its second event follows its first
            heads = []
            for o, q, lk in zip(oids, seqs, links, strict=True):
                heads.append(get(o))
                last[o] = (q, lk)
        if self.ranged:  # an object's first event here: the parent checks it
            exp_seq = [h[0] + 1 if h else q for h, q in zip(heads, seqs, strict=True)]
            exp_prev = [h[1] if h else p for h, p in zip(heads, prevs, strict=True)]
            self.firsts.extend(
                (e, o, q, p)
                for h, e, o, q, p in zip(heads, eids, oids, seqs, prevs, strict=True)
                if h is None
            )
        else:
            genesis = chains.GENESIS
            exp_seq = [h[0] + 1 if h else 1 for h in heads]
            exp_prev = [h[1] if h else genesis for h in heads]
        keys, breaks = self.keys, self.breaks

        def where(i: int) -> tuple[int, int, str | None, str]:
            return (eids[i], bids[i], keys.get(oids[i]), hash_id_of(bytes(digests[i])))

        if exp_seq != seqs or exp_prev != prevs or computed != links:
            for i in range(n):
                chained = exp_seq[i] == seqs[i] and exp_prev[i] == prevs[i]
                if chained and computed[i] == links[i]:
                    continue
                if not chained:
                    breaks.append(Break(BROKEN_CHAIN.format(seq=exp_seq[i]), *where(i)))
                if computed[i] != links[i]:
                    breaks.append(
                        Break(
                            "document or Event Hash ID does not match its chain hash (edited)",
                            *where(i),
                        )
                    )
                if self.full:
                    break
        party_of = self.party_of
        if [party_of.get(b) for b in bids] != parties:
            breaks.extend(
                Break(_WHY["party_id"], *where(i), column="party_id")
                for i in range(n)
                if party_of.get(bids[i]) != parties[i]
            )
        for m in self.columns.check(eids, oids, stored, docs):
            reason = _WHY.get(m.column, "the column differs from the hashed document (edited)")
            breaks.append(Break(reason, *where(m.index), column=m.column))
        if self.deep:
            for i, doc in enumerate(docs):
                event = json.loads(bytes(doc))
                again = sha(prehash(event, namespaces_of(event)).encode("utf-8")).digest()
                if again != bytes(digests[i]) and not self.full:
                    breaks.append(
                        Break(
                            "stored Event Hash ID differs from the one recomputed "
                            "from the document",
                            *where(i),
                            column="hash",
                        )
                    )
        start = 0
        for bid, group in itertools.groupby(bids):
            size = len(list(group))
            if bid != self._batch:
                self.batches.close(self._batch, self._leaves, self._first, self._prev)
                self._batch, self._leaves, self._first = bid, [], eids[start]
            self._leaves.extend(links[start : start + size])
            start += size
            self._prev = eids[start - 1]


# ---- one process's share of a parallel verification ----------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeTask:
    """Events ``first..last`` and objects ``objects_first..objects_last`` of the database at
    ``url`` (the signed batches are passed along: the parent has read and checked them)."""

    url: str
    first: int
    last: int
    objects_first: int
    objects_last: int
    signed: dict[int, dict[str, Any]]
    deep: bool
    max_breaks: int


@dataclass(frozen=True, slots=True)
class RangeResult:
    events: int
    breaks: list[Break]
    firsts: list[tuple[int, int, int, bytes]]
    last: dict[int, tuple[int, bytes]]
    seen: list[int]  # the batches closed, in order
    aggregations: list[Aggregation]
    registry: bytes  # LtHash16 lanes of the object rows of the share
    objects: int


def scan_range(task: RangeTask) -> RangeResult:
    """Scan one share on a connection of its own (run in a worker process)."""
    with reader(task.url) as repo:
        scan = Scan(task.signed, {}, task.deep, task.max_breaks, ranged=True)
        scan.run(repo.stream_events_range((*VERIFY_COLUMNS,), task.first, task.last))
        count = 0

        def records() -> Iterator[bytes]:
            nonlocal count
            for chunk in repo.stream_objects(first=task.objects_first, last=task.objects_last):
                count += len(chunk)
                yield from (chains.object_record(row) for row in chunk)

        with collector_paused():
            lanes = chains.registry_sum(records()).astype("<u2").tobytes()
    return RangeResult(
        scan.events,
        scan.breaks,
        scan.firsts,
        scan.last,
        list(scan.batches.seen),
        scan.columns.aggregations,
        lanes,
        count,
    )
