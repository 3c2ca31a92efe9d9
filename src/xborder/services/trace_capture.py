"""Writing to the trace ledger: register parcels and bags, capture lifecycle events.

These are the building blocks other use cases call inside their own transaction (packing,
consolidation, departure, delivery ... each writes its EPCIS event in the same unit of work as
the state it changes). So they keep their plain signatures, ``register_objects(uow, specs)`` and
``capture(uow, frame, keys=None)``: they enter the unit of work (joining the caller's transaction
when one is open) and commit only when nobody else will. Record times come from ``uow.clock``;
an event dated after the clock's now is refused, so nothing stored is dated in the future.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.store.trace_repo import OBJECT_FACTS, OBJECT_ROW, TraceRepository
from xborder.store.uow import UnitOfWork
from xborder.trace import chain as chains
from xborder.trace.epcis import PARTY_ID, SSCC_DL, build_events
from xborder.trace.event_hash import CbvVersion
from xborder.trace.gcpause import collector_paused
from xborder.trace.identifiers import normalise
from xborder.trace.lifecycle import EventType
from xborder.trace.signing import KeyStore

ZERO_ROOT = chains.ZERO_ROOT
# The signer of the object registry's state (``chain.registry_state``); no party captures as it.
REGISTRY_PARTY = "registry"
_SSCC_LINK = re.compile(SSCC_DL)
PARTY = re.compile(PARTY_ID)
_sha256 = hashlib.sha256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LIMITS = (("tracking_no", 40), ("destination_postcode", 20), ("lane", 64))


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (exact integer arithmetic, no float rounding)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def hash_id_of(digest: bytes, version: CbvVersion = "2.0") -> str:
    return f"ni:///sha-256;{digest.hex()}?ver=CBV{version}"


# ---- registry ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """A parcel or bag to trace: its canonical key (SSCC Digital Link) and who takes part."""

    key: str
    kind: str = "parcel"
    tracking_no: str | None = None
    sscc: str | None = None
    destination_postcode: str | None = None
    order_id: int | None = None
    lane: str | None = None
    participants: tuple[str, ...] = ()


def _check_spec(spec: ObjectSpec) -> None:
    if not _SSCC_LINK.match(spec.key) and normalise(spec.key) not in (None, spec.key):
        raise InvalidValue("key", f"not canonical; use {normalise(spec.key)}", spec.key)
    for name, limit in _LIMITS:
        value = getattr(spec, name)
        if value is not None and not 0 < len(value) <= limit:
            raise InvalidValue(name, f"must have 1 to {limit} characters", value)
    if spec.sscc is not None and not (len(spec.sscc) == 18 and spec.sscc.isdigit()):
        raise InvalidValue("sscc", "an SSCC has 18 digits", spec.sscc)
    bad_party = next(
        (p for p in spec.participants if not PARTY.match(p) or p == REGISTRY_PARTY), None
    )
    if bad_party is not None:
        raise InvalidValue(
            "participants", "a party id is 1-64 of a-z, 0-9 and '-', not 'registry'", bad_party
        )


def check_party(name: str, party_id: str) -> None:
    """A capturing party: a party id, and not the registry's own signer."""
    if not PARTY.match(party_id) or party_id == REGISTRY_PARTY:
        raise InvalidValue(name, "a party id is 1-64 of a-z, 0-9 and '-', not 'registry'", party_id)


def register_objects(uow: UnitOfWork, specs: Sequence[ObjectSpec]) -> dict[str, int]:
    """Register objects idempotently by key (see ``_register``); returns key -> object id."""
    with collector_paused():
        return _register(uow, specs)


def _register(uow: UnitOfWork, specs: Sequence[ObjectSpec]) -> dict[str, int]:
    """Register objects idempotently by key; returns key -> object id for all of them.

    A registration of a known key adds its participants and fills in the facts (tracking
    number, SSCC, destination postcode, order, lane) the object was registered without, so the
    step that learns the postcode after the one that bagged the parcel still makes it
    trackable by its buyer; a fact already set is never changed. Every registration that
    changes the registry signs its new state (``_sign_registry``), so that verify notices an
    object row edited, inserted or deleted outside this use case.
    """
    for spec in specs:
        _check_spec(spec)
    with uow:
        repo = uow.trace
        repo.lock()
        known = repo.object_facts(list(dict.fromkeys(s.key for s in specs)))
        ids = {key: int(facts["id"]) for key, facts in known.items()}
        fills: dict[int, dict[str, Any]] = {}
        before: dict[int, bytes] = {}
        next_id = repo.next_id("objects")
        created = epoch_ms(uow.clock.now())
        rows = []
        for spec in specs:
            facts = known.get(spec.key)
            if facts is not None:
                missing = {
                    name: getattr(spec, name)
                    for name in OBJECT_FACTS
                    if facts[name] is None and getattr(spec, name) is not None
                }
                if missing:
                    oid = int(facts["id"])
                    before.setdefault(oid, chains.object_record([facts[c] for c in OBJECT_ROW]))
                    fills.setdefault(oid, {}).update(missing)
                    facts.update(missing)
                continue
            row = {"id": next_id, "key": spec.key, "kind": spec.kind, "created_ms": created} | {
                name: getattr(spec, name) for name in OBJECT_FACTS
            }
            known[spec.key] = row
            ids[spec.key] = next_id
            rows.append(row)
            next_id += 1
        repo.insert_objects(rows)
        repo.fill_objects(sorted(fills.items()))
        if rows or fills:
            by_id = {int(f["id"]): f for f in known.values()}
            added = [chains.object_record([r[c] for c in OBJECT_ROW]) for r in rows]
            added += [chains.object_record([by_id[o][c] for c in OBJECT_ROW]) for o in fills]
            _sign_registry(repo, uow.keys, created, added, list(before.values()), len(rows))
        repo.add_participants([(ids[s.key], p) for s in specs for p in s.participants])
        uow.commit()
    return ids


def _sign_registry(
    repo: TraceRepository,
    keys: KeyStore,
    now_ms: int,
    added: list[bytes],
    removed: list[bytes],
    new_objects: int,
) -> None:
    """Append a registry batch: the registry's new LtHash state (``root``, over every object
    row) and object count (``event_count``), chained to the previous state and signed."""
    key = keys.load_or_create(REGISTRY_PARTY)
    repo.add_key(REGISTRY_PARTY, key.key_id, key.public, now_ms)
    last = repo.last_batch(REGISTRY_PARTY)
    prev_root = bytes(last["root"]) if last else ZERO_ROOT
    count = int(last["event_count"]) + new_objects if last else repo.count_objects()
    batch = {
        "id": repo.next_id("batches"),
        "party_id": REGISTRY_PARTY,
        "key_id": key.key_id,
        "event_count": count,
        "first_event_id": 0,
        "last_event_id": 0,
        "prev_root": prev_root,
        "root": chains.registry_state(prev_root, added, removed),
        "created_ms": now_ms,
        "source": "registry",
    }
    batch["signature"] = key.sign(chains.row_message(batch))
    repo.insert_batch(batch)


# ---- appending to the ledger ---------------------------------------------------------------------


@dataclass
class Pending:
    """Row-aligned columns of events about to be appended."""

    object_ids: list[int] = field(default_factory=list)
    object_keys: list[str] = field(default_factory=list)
    party_ids: list[str] = field(default_factory=list)
    columns: list[tuple[Any, ...]] = field(default_factory=list)  # type..biz_location, time_ms
    digests: list[bytes] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AppendReport:
    event_ids: list[int]
    digests: list[bytes]
    batch_ids: list[int]


def _links(
    heads: dict[int, tuple[int, bytes]], oids: list[int], docs: list[str], digests: list[bytes]
) -> tuple[list[int], list[bytes], list[bytes]]:
    """(seq, prev, chain) of each new event, continuing each object's chain; updates heads."""
    genesis = chains.GENESIS
    if len(set(oids)) == len(oids):  # each object once: comprehensions, no per-event branch
        got = [heads.get(o) for o in oids]
        seqs = [h[0] + 1 if h else 1 for h in got]
        prevs = [h[1] if h else genesis for h in got]
        leaves = [
            _sha256(pv + dg + d.encode("utf-8")).digest()
            for pv, dg, d in zip(prevs, digests, docs, strict=True)
        ]
        heads.update(zip(oids, zip(seqs, leaves, strict=True), strict=True))
        return seqs, prevs, leaves
    seqs, prevs, leaves = [], [], []  # an object twice: each event chains onto the one before
    for o, d, dg in zip(oids, docs, digests, strict=True):
        h = heads.get(o)
        seq, pv = (h[0] + 1, h[1]) if h else (1, genesis)
        link = _sha256(pv + dg + d.encode("utf-8")).digest()
        heads[o] = (seq, link)
        seqs.append(seq)
        prevs.append(pv)
        leaves.append(link)
    return seqs, prevs, leaves


def append(
    repo: TraceRepository,
    keys: KeyStore,
    now_ms: int,
    p: Pending,
    source: str,
    heads: dict[int, tuple[int, bytes]] | None = None,
) -> AppendReport:
    """Chain, batch, sign and insert; one signed batch per capturing party. ``heads``: the
    objects' chain heads when the caller already read them with their ids (capture)."""
    n = len(p.object_ids)
    if n == 0:
        return AppendReport([], [], [])
    if heads is None:
        heads = repo.heads(p.object_ids)
    next_event = repo.next_id("events")
    next_batch = repo.next_id("batches")
    order: dict[str, Sequence[int]]
    parties = dict.fromkeys(p.party_ids)
    if len(parties) == 1:  # one capturing party (the common case): no per-event grouping
        order = {next(iter(parties)): range(n)}
    else:
        grouped: dict[str, list[int]] = {}
        for i, party in enumerate(p.party_ids):
            grouped.setdefault(party, []).append(i)
        order = dict(grouped)
    event_ids = [0] * n
    batch_ids = []
    for party, idx in order.items():
        key = keys.load_or_create(party)
        repo.add_key(party, key.key_id, key.public, now_ms)
        first = next_event
        if len(idx) == n:  # one party: the pending lists as they are
            oids, docs, digests, columns = p.object_ids, p.documents, p.digests, p.columns
        else:
            oids = [p.object_ids[i] for i in idx]
            docs = [p.documents[i] for i in idx]
            digests = [p.digests[i] for i in idx]
            columns = [p.columns[i] for i in idx]
        seqs, prevs, leaves = _links(heads, oids, docs, digests)
        ids = range(first, first + len(idx))
        if len(idx) == n:
            event_ids = list(ids)
        else:
            for i, eid in zip(idx, ids, strict=True):
                event_ids[i] = eid
        next_event = first + len(idx)
        # rows assembled by zip (in C), the query columns transposed once
        rows = list(
            zip(
                ids, oids, seqs, repeat(next_batch), repeat(party), *zip(*columns, strict=True),
                digests, prevs, leaves, docs,
            )
        )  # fmt: skip
        root = chains.merkle_root(leaves)
        prev_root = repo.last_root(party) or ZERO_ROOT
        batch: dict[str, Any] = {
            "id": next_batch,
            "party_id": party,
            "key_id": key.key_id,
            "event_count": len(rows),
            "first_event_id": first,
            "last_event_id": next_event - 1,
            "prev_root": prev_root,
            "root": root,
            "created_ms": now_ms,
            "source": source[:200],
        }
        batch["signature"] = key.sign(chains.row_message(batch))
        repo.insert_events(rows)
        repo.insert_batch(batch)
        batch_ids.append(next_batch)
        next_batch += 1
    repo.add_participants(list(dict.fromkeys(zip(p.object_ids, p.party_ids, strict=True))))
    return AppendReport(event_ids, p.digests, batch_ids)


@dataclass(frozen=True, slots=True)
class CaptureReport:
    events: int
    batch_ids: list[int]
    digests: list[bytes]

    @property
    def hash_ids(self) -> list[str]:
        """Event Hash IDs of the captured events, in input order."""
        return [hash_id_of(d) for d in self.digests]


def _refuse_future(frame: pl.DataFrame, now: datetime) -> None:
    """An event may not be dated after the clock's now (nothing stored is)."""
    late = frame.filter(pl.col("event_time") > now)
    if late.height:
        moment = late.item(0, "event_time")
        raise InvalidValue(
            "event_time",
            f"after the clock's now ({now.isoformat(timespec='seconds')}) for "
            f"{late.item(0, 'object_key')}",
            moment.isoformat() if isinstance(moment, datetime) else moment,
        )


def capture(uow: UnitOfWork, frame: pl.DataFrame, keys: KeyStore | None = None) -> CaptureReport:
    """Capture lifecycle events (see ``epcis.CAPTURE_SCHEMA``) for registered parcels and bags,
    signed with ``keys`` (default: ``uow.keys``); a refused frame stores nothing."""
    with collector_paused():
        return _capture(uow, frame, keys)


def _capture(uow: UnitOfWork, frame: pl.DataFrame, keys: KeyStore | None) -> CaptureReport:
    with uow:
        now = uow.clock.now()
        built = build_events(frame)
        f = built.frame
        if f.height and (f.get_column("party_id") == REGISTRY_PARTY).any():
            check_party("party_id", REGISTRY_PARTY)
        _refuse_future(f, now)
        repo = uow.trace
        repo.lock()
        object_keys = f.get_column("object_key").to_list()
        found = repo.ids_and_heads(list(dict.fromkeys(object_keys)))
        ids = {k: v[0] for k, v in found.items()}
        heads = {i: (q, c) for i, q, c in found.values() if c is not None}
        missing = next((k for k in object_keys if k not in ids), None)
        if missing is not None:
            raise InvalidValue(
                "object_key", "not registered: register the parcel or bag first", missing
            )
        cols = f.select(
            "event_type", "action", "biz_step", "disposition", "read_point", "biz_location",
            "time_ms",
        ).rows()  # fmt: skip
        pending = Pending(
            object_ids=[ids[k] for k in object_keys],
            object_keys=object_keys,
            party_ids=f.get_column("party_id").to_list(),
            columns=cols,
            digests=[_sha256(s.encode("utf-8")).digest() for s in built.prehashes],
            documents=built.documents,
        )
        agg = f.with_row_index("_row").filter(pl.col("event_type") == EventType.AGGREGATION.value)
        child_ids: dict[str, int] = {}
        if agg.height:
            kids = agg.get_column("children").explode().drop_nulls().unique().to_list()
            child_ids = repo.object_ids(kids)
            absent = next((k for k in kids if k not in child_ids), None)
            if absent is not None:
                raise InvalidValue("children", "not registered: register the parcel first", absent)
        signer = keys if keys is not None else uow.keys
        report = append(repo, signer, epoch_ms(now), pending, "capture", heads)
        memberships(
            repo,
            agg.select("_row", "action", "children").rows(),
            pending.object_ids,
            report.event_ids,
            child_ids,
        )
        uow.commit()
    return CaptureReport(len(object_keys), report.batch_ids, report.digests)


def memberships(
    repo: TraceRepository,
    agg_rows: Iterable[tuple[Any, ...]],
    object_ids: list[int],
    event_ids: list[int],
    child_ids: Mapping[str, int],
) -> None:
    """Record which parcels went into (ADD) or came out of (DELETE) which bag, at which event,
    applied in ledger (event id) order, as verify replays them."""
    adds: list[tuple[int, int, int]] = []
    closes: list[tuple[int, int, list[int] | None]] = []
    for row, action, children in sorted(agg_rows, key=lambda r: event_ids[r[0]]):
        container, event_id = object_ids[row], event_ids[row]
        members = [child_ids[c] for c in children or [] if c in child_ids]
        if action == "ADD":
            repo.close_memberships_many(closes)  # a DELETE earlier in the ledger comes first
            closes = []
            adds.extend((container, m, event_id) for m in members)
        elif action == "DELETE":
            repo.add_memberships(adds)  # an ADD earlier in the ledger is open before this DELETE
            adds = []
            closes.append((container, event_id, members or None))
    repo.add_memberships(adds)
    repo.close_memberships_many(closes)
