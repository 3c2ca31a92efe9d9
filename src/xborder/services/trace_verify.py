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

import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from xborder.services.trace_capture import REGISTRY_PARTY, ZERO_ROOT, hash_id_of
from xborder.services.trace_checkpoint import SignedTreeHead, check_checkpoint
from xborder.services.trace_verify_rows import (
    QUERY_COLUMNS,
    ColumnCheck,
    membership_breaks,
    registry_digest,
    replay_memberships,
)
from xborder.store.trace_repo import TraceRepository
from xborder.store.uow import UnitOfWork
from xborder.trace import chain as chains
from xborder.trace.event_hash import namespaces_of, prehash
from xborder.trace.signing import KeyStore, key_id, verify_signature

_sha256 = hashlib.sha256


@dataclass(frozen=True, slots=True)
class Verify:
    """``deep``: also recompute each Event Hash ID from its document; stop at ``max_breaks``;
    ``key_files``: also compare the stored public keys with the local key directory
    (``uow.keys``), which catches a re-signing by someone who can write the store only;
    ``checkpoint``: a signed tree head kept outside the store, which the ledger must extend."""

    deep: bool = True
    max_breaks: int = 100
    key_files: bool = True
    checkpoint: SignedTreeHead | None = None


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


@dataclass
class VerifyReport:
    events: int = 0
    batches: int = 0
    deep: bool = True
    breaks: list[Break] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first(self) -> Break | None:
        return self.breaks[0] if self.breaks else None


_VERIFY_COLUMNS = (
    "id", "object_id", "seq", "batch_id", "party_id", *QUERY_COLUMNS, "hash", "prev", "chain",
    "document",
)  # fmt: skip
_WHY = {
    "object_id": "the event's object is not the one its document names (edited)",
    "party_id": "the party differs from its signed batch's party (edited)",
    "document": "the document is not a JSON event",
}


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


class _Batches:
    """Closes each run of a batch's events in the stream and checks it against the signed
    batch: contiguous, the signed count and id range, the signed Merkle root."""

    def __init__(self, signed: dict[int, dict[str, Any]], breaks: list[Break]) -> None:
        self.signed, self.breaks = signed, breaks
        self.seen: set[int] = set()

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
        self.seen.add(bid)
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
    return keys, {k: i for i, k in keys.items()}


def verify(uow: UnitOfWork, command: Verify) -> VerifyReport:
    """Recompute chains, Merkle roots, signatures, the query columns, memberships and registry
    (and, ``deep``, every Event Hash ID from its stored document; with a checkpoint, that the
    ledger extends it); stream the events in id order and report breaks in ledger order."""
    started = time.perf_counter()
    deep, max_breaks = command.deep, command.max_breaks
    report = VerifyReport(deep=deep)
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
        key_by_id, id_by_key = _registry(repo, signed, report)
        batches = _Batches(signed, report.breaks)
        party_of = {bid: b["party_id"] for bid, b in signed.items()}
        columns = ColumnCheck(key_by_id)
        last: dict[int, tuple[int, bytes]] = {}
        heads: list[tuple[int, bytes] | None]
        genesis = chains.GENESIS
        sha = _sha256
        batch_id: int | None = None
        leaves: list[bytes] = []
        first_id = prev_id = count = 0
        breaks = report.breaks
        width = len(QUERY_COLUMNS)
        for chunk in repo.stream_events(_VERIFY_COLUMNS):
            # columnar per chunk: comprehensions and list comparisons, not per-event branches
            cols = [list(c) for c in zip(*chunk, strict=True)]
            eids, oids, seqs, bids, parties = cols[:5]
            stored = cols[5 : 5 + width]
            digests, prevs, links, docs = cols[5 + width :]
            n = len(eids)
            count += n
            computed = [
                sha(p + h + d).digest() for p, h, d in zip(prevs, digests, docs, strict=True)
            ]
            get = last.get
            if len(set(oids)) == n:  # each object once in this chunk: bulk lookups and update
                heads = [get(o) for o in oids]
                last.update(zip(oids, zip(seqs, links, strict=True), strict=True))
            else:  # an object twice in the chunk: its second event follows its first
                heads = []
                for o, q, lk in zip(oids, seqs, links, strict=True):
                    heads.append(get(o))
                    last[o] = (q, lk)
            exp_seq = [h[0] + 1 if h else 1 for h in heads]
            exp_prev = [h[1] if h else genesis for h in heads]

            def where(
                i: int,
                eids: list[Any] = eids,
                bids: list[Any] = bids,
                oids: list[Any] = oids,
                digests: list[Any] = digests,
            ) -> tuple[int, int, str | None, str]:
                return (eids[i], bids[i], key_by_id.get(oids[i]), hash_id_of(bytes(digests[i])))

            if exp_seq != seqs or exp_prev != prevs or computed != links:
                for i in range(n):
                    chained = exp_seq[i] == seqs[i] and exp_prev[i] == prevs[i]
                    if chained and computed[i] == links[i]:
                        continue
                    if not chained:
                        breaks.append(
                            Break(
                                f"chain broken: expected seq {exp_seq[i]} after the object's "
                                "previous event (an event was deleted, inserted or reordered)",
                                *where(i),
                            )
                        )
                    if computed[i] != links[i]:
                        breaks.append(
                            Break(
                                "document or Event Hash ID does not match its chain hash (edited)",
                                *where(i),
                            )
                        )
                    if len(breaks) >= max_breaks:
                        break
            if [party_of.get(b) for b in bids] != parties:
                breaks.extend(
                    Break(_WHY["party_id"], *where(i), column="party_id")
                    for i in range(n)
                    if party_of.get(bids[i]) != parties[i]
                )
            for m in columns.check(eids, oids, stored, docs):
                reason = _WHY.get(m.column, "the column differs from the hashed document (edited)")
                breaks.append(Break(reason, *where(m.index), column=m.column))
            if deep:
                for i, doc in enumerate(docs):
                    event = json.loads(bytes(doc))
                    again = sha(prehash(event, namespaces_of(event)).encode("utf-8")).digest()
                    if again != bytes(digests[i]) and len(breaks) < max_breaks:
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
                size = sum(1 for _ in group)
                if bid != batch_id:
                    batches.close(batch_id, leaves, first_id, prev_id)
                    batch_id, leaves, first_id = bid, [], eids[start]
                leaves.extend(links[start : start + size])
                start += size
                prev_id = eids[start - 1]
            if len(breaks) >= max_breaks:
                break
        batches.close(batch_id, leaves, first_id, prev_id)
        for bid, b in signed.items():
            if b["party_id"] == REGISTRY_PARTY:
                continue
            if bid not in batches.seen and len(breaks) < max_breaks:
                breaks.append(Break("signed batch has no events left (deleted)", batch_id=bid))
        if len(breaks) < max_breaks:
            implied = replay_memberships(columns.aggregations, id_by_key)
            for (container, member, added), why in membership_breaks(
                implied, repo.all_memberships()
            ):
                breaks.append(
                    Break(
                        f"membership of object {member} in container {container} {why}",
                        event_id=added,
                        column="trace_memberships",
                    )
                )
    del report.breaks[max_breaks:]
    report.events = count
    report.seconds = time.perf_counter() - started
    return report
