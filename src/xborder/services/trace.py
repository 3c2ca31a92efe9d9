"""Traceability use cases: register parcels, capture and import events, verify, query, export.

Each function runs inside the caller's unit of work (one transaction); the caller commits. All
reads take a ``Viewer`` and enforce visibility here, not in the CLI or UI.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import select

from xborder.domain.errors import InvalidValue, NotFound
from xborder.store.schema import lanes
from xborder.store.schema_trace import (
    trace_batches,
    trace_events,
    trace_objects,
    trace_participants,
)
from xborder.store.trace_repo import TraceRepository
from xborder.store.uow import UnitOfWork
from xborder.trace import chain as chains
from xborder.trace import vocabulary
from xborder.trace.epcis import (
    PARTY_ID,
    SSCC_DL,
    EventColumns,
    build_events,
    document,
    epcs_of,
    event_columns,
    parse_json,
)
from xborder.trace.event_hash import (
    CbvVersion,
    canonical_time,
    canonical_value,
    document_events,
    event_hash_id,
    namespaces_of,
    prehash,
)
from xborder.trace.exceptions import Checkpoint, Finding, Thresholds, findings
from xborder.trace.identifiers import normalise
from xborder.trace.lifecycle import LIFECYCLE, XB_VOC, EventType, step_of
from xborder.trace.schema import validate, validate_query
from xborder.trace.signing import KeyStore, key_id, verify_signature
from xborder.trace.visibility import NotVisible, Viewer, may_see

ZERO_ROOT = b"\x00" * 32
_SSCC_LINK = re.compile(SSCC_DL)
_PARTY = re.compile(PARTY_ID)
_sha256 = hashlib.sha256


def _now_ms() -> int:
    return int(time.time() * 1000)


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


def register_objects(uow: UnitOfWork, specs: Sequence[ObjectSpec]) -> dict[str, int]:
    """Register objects idempotently by key; returns key -> object id for all of them."""
    repo = TraceRepository(uow.connection)
    repo.lock()
    for spec in specs:
        if not _SSCC_LINK.match(spec.key) and normalise(spec.key) not in (None, spec.key):
            raise InvalidValue("key", f"not canonical; use {normalise(spec.key)}", spec.key)
        for name, value, limit in (
            ("tracking_no", spec.tracking_no, 40),
            ("destination_postcode", spec.destination_postcode, 20),
            ("lane", spec.lane, 64),
        ):
            if value is not None and not 0 < len(value) <= limit:
                raise InvalidValue(name, f"must have 1 to {limit} characters", value)
        if spec.sscc is not None and not (len(spec.sscc) == 18 and spec.sscc.isdigit()):
            raise InvalidValue("sscc", "an SSCC has 18 digits", spec.sscc)
        bad_party = next((p for p in spec.participants if not _PARTY.match(p)), None)
        if bad_party is not None:
            raise InvalidValue("participants", "a party id is 1-64 of a-z, 0-9 and '-'", bad_party)
    ids = repo.object_ids([s.key for s in specs])
    next_id = repo.next_id(trace_objects)
    now = _now_ms()
    rows = []
    for spec in specs:
        if spec.key in ids:
            continue
        ids[spec.key] = next_id
        rows.append(
            {
                "id": next_id,
                "key": spec.key,
                "kind": spec.kind,
                "tracking_no": spec.tracking_no,
                "sscc": spec.sscc,
                "destination_postcode": spec.destination_postcode,
                "order_id": spec.order_id,
                "lane": spec.lane,
                "created_ms": now,
            }
        )
        next_id += 1
    repo.insert_objects(rows)
    repo.add_participants([(ids[s.key], p) for s in specs for p in s.participants])
    return ids


# ---- appending to the ledger ---------------------------------------------------------------------


@dataclass
class _Pending:
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


def _append(repo: TraceRepository, keys: KeyStore, p: _Pending, source: str) -> AppendReport:
    """Chain, batch, sign and insert; one signed batch per capturing party."""
    n = len(p.object_ids)
    if n == 0:
        return AppendReport([], [], [])
    heads = repo.heads(p.object_ids)
    next_event = repo.next_id(trace_events)
    next_batch = repo.next_id(trace_batches)
    now = _now_ms()
    order: dict[str, list[int]] = {}
    for i, party in enumerate(p.party_ids):
        order.setdefault(party, []).append(i)
    event_ids = [0] * n
    batch_ids = []
    genesis = chains.GENESIS
    for party, idx in order.items():
        key = keys.load_or_create(party)
        repo.add_key(party, key.key_id, key.public, now)
        first = next_event
        oids = [p.object_ids[i] for i in idx]
        docs = [p.documents[i] for i in idx]
        if len(set(oids)) == len(oids):  # each object once: comprehensions, no per-event branch
            got = [heads.get(o) for o in oids]
            seqs = [h[0] + 1 if h else 1 for h in got]
            prevs = [h[1] if h else genesis for h in got]
            leaves = [
                _sha256(pv + d.encode("utf-8")).digest() for pv, d in zip(prevs, docs, strict=True)
            ]
            heads.update(zip(oids, zip(seqs, leaves, strict=True), strict=True))
        else:  # an object twice in this batch: each event chains onto the one before
            seqs, prevs, leaves = [], [], []
            for o, d in zip(oids, docs, strict=True):
                h = heads.get(o)
                seq, pv = (h[0] + 1, h[1]) if h else (1, genesis)
                link = _sha256(pv + d.encode("utf-8")).digest()
                heads[o] = (seq, link)
                seqs.append(seq)
                prevs.append(pv)
                leaves.append(link)
        ids = range(first, first + len(idx))
        for i, eid in zip(idx, ids, strict=True):
            event_ids[i] = eid
        next_event = first + len(idx)
        rows = [
            (eid, o, q, next_batch, party, *p.columns[i], p.digests[i], pv, lk, d)
            for eid, i, o, q, pv, lk, d in zip(
                ids, idx, oids, seqs, prevs, leaves, docs, strict=True
            )
        ]
        root = chains.merkle_root(leaves)
        prev_root = repo.last_root(party) or ZERO_ROOT
        message = chains.batch_message(
            next_batch, party, prev_root, root, len(rows), first, next_event - 1
        )
        repo.insert_events(rows)
        repo.insert_batch(
            {
                "id": next_batch,
                "party_id": party,
                "key_id": key.key_id,
                "event_count": len(rows),
                "first_event_id": first,
                "last_event_id": next_event - 1,
                "prev_root": prev_root,
                "root": root,
                "signature": key.sign(message),
                "created_ms": now,
                "source": source[:200],
            }
        )
        batch_ids.append(next_batch)
        next_batch += 1
    repo.add_participants(
        sorted({(o, pid) for o, pid in zip(p.object_ids, p.party_ids, strict=True)})
    )
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


def capture(uow: UnitOfWork, frame: pl.DataFrame, keys: KeyStore | None = None) -> CaptureReport:
    """Capture lifecycle events (see ``epcis.CAPTURE_SCHEMA``) for registered parcels and bags."""
    repo = TraceRepository(uow.connection)
    repo.lock()
    built = build_events(frame)
    f = built.frame
    object_keys = f.get_column("object_key").to_list()
    ids = repo.object_ids(list(dict.fromkeys(object_keys)))
    missing = next((k for k in object_keys if k not in ids), None)
    if missing is not None:
        raise InvalidValue(
            "object_key", "not registered: register the parcel or bag first", missing
        )
    cols = f.select(
        "event_type", "action", "biz_step", "disposition", "read_point", "biz_location", "time_ms"
    ).rows()
    pending = _Pending(
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
    report = _append(repo, keys or KeyStore(), pending, "capture")
    _memberships(
        repo,
        agg.select("_row", "action", "children").rows(),
        pending.object_ids,
        report.event_ids,
        child_ids,
    )
    return CaptureReport(len(object_keys), report.batch_ids, report.digests)


def _memberships(
    repo: TraceRepository,
    agg_rows: Iterable[tuple[Any, ...]],
    object_ids: list[int],
    event_ids: list[int],
    child_ids: Mapping[str, int],
) -> None:
    adds: list[tuple[int, int, int]] = []
    for row, action, children in agg_rows:
        container, event_id = object_ids[row], event_ids[row]
        members = [child_ids[c] for c in children or [] if c in child_ids]
        if action == "ADD":
            adds.extend((container, m, event_id) for m in members)
        elif action == "DELETE":
            repo.close_memberships(container, event_id, members or None)
    repo.add_memberships(adds)


# ---- import -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportReport:
    events: int
    stored: int
    duplicates: int
    hash_ids: list[str]


def _custom_context(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    ctx = doc.get("@context")
    return [dict(c) for c in (ctx if isinstance(ctx, list) else [ctx]) if isinstance(c, dict) and c]


def import_document(
    uow: UnitOfWork,
    raw: str | bytes | Mapping[str, Any],
    party_id: str,
    keys: KeyStore | None = None,
    source: str = "import",
) -> ImportReport:
    """Validate and store an EPCIS 2.0 document; a rejected document stores nothing.

    Each event keeps the document's prefix declarations in its own ``@context`` so that it stays
    self-describing (and re-hashable) on its own, and joins the chain of its subject (parentID,
    else its first EPC). Events already in the ledger (same Event Hash ID) are skipped.
    """
    if not _PARTY.match(party_id):
        raise InvalidValue("party", "a party id is 1-64 of a-z, 0-9 and '-'", party_id)
    doc: Any = parse_json(raw) if isinstance(raw, str | bytes) else dict(raw)
    validate(doc)
    repo = TraceRepository(uow.connection)
    repo.lock()
    ns = namespaces_of(doc)
    extra = _custom_context(doc)
    prepared: list[tuple[dict[str, Any], bytes, EventColumns]] = []
    for event in document_events(doc):
        stored = dict(event)
        if extra:
            own = event.get("@context")
            own_list = own if isinstance(own, list) else ([own] if own else [])
            stored["@context"] = [*extra, *own_list]
        ev_ns = namespaces_of(stored, ns)
        digest = _sha256(prehash(stored, ev_ns).encode("utf-8")).digest()
        prepared.append((stored, digest, event_columns(stored, ev_ns, hash_id_of(digest))))
    subjects = list(dict.fromkeys(c.subject for _, _, c in prepared))
    # participation comes only with events actually appended (``_append``), not from naming
    ids = register_objects(uow, [ObjectSpec(key=s, kind="imported") for s in subjects])
    seen = {bytes(h) for (h,) in repo.events_of(list(ids.values()), ["hash"])} if ids else set()
    pending = _Pending()
    agg_rows = []
    child_keys: set[str] = set()
    duplicates = 0
    for stored, digest, c in prepared:
        if digest in seen:
            duplicates += 1
            continue
        seen.add(digest)
        if c.event_type == EventType.AGGREGATION.value and c.action in ("ADD", "DELETE"):
            kids = [
                canonical_value(k, namespaces_of(stored, ns)) for k in stored.get("childEPCs") or []
            ]
            child_keys.update(kids)
            agg_rows.append((len(pending.object_ids), c.action, kids))
        pending.object_ids.append(ids[c.subject])
        pending.object_keys.append(c.subject)
        pending.party_ids.append(party_id)
        pending.columns.append(
            (
                c.event_type,
                c.action,
                c.biz_step,
                c.disposition,
                c.read_point,
                c.biz_location,
                c.time_ms,
            )
        )
        pending.digests.append(digest)
        pending.documents.append(json.dumps(stored, separators=(",", ":"), ensure_ascii=False))
    child_ids = (
        register_objects(uow, [ObjectSpec(key=k, kind="imported") for k in sorted(child_keys)])
        if child_keys
        else {}
    )
    report = _append(repo, keys or KeyStore(), pending, f"import:{source}")
    _memberships(repo, agg_rows, pending.object_ids, report.event_ids, child_ids)
    return ImportReport(
        len(prepared), len(pending.object_ids), duplicates, [hash_id_of(d) for _, d, _ in prepared]
    )


# ---- reading: visibility, export, query, show ----------------------------------------------------

_READ_COLUMNS = (
    "id",
    "object_id",
    "party_id",
    "event_type",
    "action",
    "biz_step",
    "disposition",
    "read_point",
    "biz_location",
    "event_time_ms",
    "hash",
    "document",
)


def _resolve(uow: UnitOfWork, viewer: Viewer, parcel: str) -> dict[str, Any]:
    """An object by tracking number or key, if the viewer may see it (else 'not found')."""
    repo = TraceRepository(uow.connection)
    obj = repo.object_by_tracking(parcel) or repo.object_by_key(normalise(parcel) or parcel)
    if obj is not None and may_see(
        viewer, repo.participants(int(obj["id"])), obj["tracking_no"], obj["destination_postcode"]
    ):
        return obj
    raise NotVisible(f"no parcel {parcel!r} visible to you")


def _event_json(row: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(row.document)
    event.setdefault("eventID", hash_id_of(bytes(row.hash)))
    return event


REDACTED = "xb:redactedChildEPCs"


def _events_for(uow: UnitOfWork, viewer: Viewer, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Stored events as JSON; for a party, a bag's childEPCs keep only parcels it may see.

    A redacted event says how many children it hides (``xb:redactedChildEPCs``); its eventID
    stays the hash of the full stored event, which only the operator can re-derive.
    """
    events = [_event_json(r) for r in rows]
    if viewer.is_operator or viewer.party_id is None:
        return events
    children = sorted({c for e in events for c in e.get("childEPCs") or []})
    if not children:
        return events
    visible = {
        k
        for (k,) in uow.connection.execute(
            select(trace_objects.c.key)
            .join(trace_participants, trace_participants.c.object_id == trace_objects.c.id)
            .where(
                trace_participants.c.party_id == viewer.party_id, trace_objects.c.key.in_(children)
            )
        )
    }
    for event in events:
        kids = event.get("childEPCs")
        if not kids:
            continue
        keep = [k for k in kids if k in visible]
        if len(keep) < len(kids):
            event["childEPCs"] = keep
            event["@context"] = [{"xb": XB_VOC}]
            event[REDACTED] = len(kids) - len(keep)
    return events


def _visible_clause(viewer: Viewer) -> tuple[str, dict[str, Any]]:
    if viewer.is_operator:
        return "1 = 1", {}
    if viewer.is_buyer or viewer.party_id is None:
        raise NotVisible("buyers see a parcel's timeline only (trace show)")
    return (
        "(e.object_id IN (SELECT object_id FROM trace_participants WHERE party_id = :viewer)"
        " OR e.object_id IN (SELECT m.container_id FROM trace_memberships m"
        " JOIN trace_participants tp ON tp.object_id = m.member_id"
        " WHERE tp.party_id = :viewer))"
    ), {"viewer": viewer.party_id}


def _time_ms(field_name: str, value: str | datetime) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    text = canonical_time(value)
    try:
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidValue(field_name, "not an ISO 8601 date-time", value) from None
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def export(
    uow: UnitOfWork, viewer: Viewer, parcel: str | None = None, since: str | datetime | None = None
) -> dict[str, Any]:
    """An EPCIS 2.0 document of the events the viewer may see (one parcel's history or all)."""
    repo = TraceRepository(uow.connection)
    since_ms = _time_ms("since", since) if since is not None else None
    if parcel is not None:
        if viewer.is_buyer:
            raise NotVisible("buyers see a parcel's timeline only (trace show)")
        obj = _resolve(uow, viewer, parcel)
        rows = sorted(repo.history(int(obj["id"]), _READ_COLUMNS), key=lambda r: r.id)
        if since_ms is not None:
            rows = [r for r in rows if r.event_time_ms >= since_ms]
    else:
        where, params = _visible_clause(viewer)
        if since_ms is not None:
            where += " AND e.event_time_ms >= :since"
            params["since"] = since_ms
        rows = repo.query(where, params, _READ_COLUMNS)
    return document(_events_for(uow, viewer, rows))


QUERY_PARAMETERS = (
    "MATCH_epc",
    "MATCH_parentID",
    "EQ_bizStep",
    "EQ_disposition",
    "EQ_bizLocation",
    "EQ_readPoint",
    "GE_eventTime",
    "LT_eventTime",
)


def _values(name: str, value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    out = [str(v).strip() for v in items if str(v).strip()]
    if not out:
        raise InvalidValue(name, "needs at least one value")
    return out


def query(
    uow: UnitOfWork, viewer: Viewer, params: Mapping[str, Any], limit: int | None = 10_000
) -> list[dict[str, Any]]:
    """EPCIS SimpleEventQuery subset (EPCIS 2.0 section 8.2.7.1) over what the viewer may see."""
    unknown = [k for k in params if k not in QUERY_PARAMETERS]
    if unknown:
        raise InvalidValue(
            unknown[0], "unsupported query parameter; supported: " + ", ".join(QUERY_PARAMETERS)
        )
    validate_query({k: v if k.endswith("Time") else _values(k, v) for k, v in params.items()})
    repo = TraceRepository(uow.connection)
    where, sql_params = _visible_clause(viewer)
    ns: dict[str, str] = namespaces_of({})
    column_of = {
        "EQ_bizStep": ("biz_step", "bizStep"),
        "EQ_disposition": ("disposition", "disposition"),
        "EQ_bizLocation": ("biz_location", None),
        "EQ_readPoint": ("read_point", None),
    }
    for name, (column, vocab) in column_of.items():
        if name in params:
            vals = [
                canonical_value(vocabulary.expand(vocab, v) if vocab and ":" not in v else v, ns)
                for v in _values(name, params[name])
            ]
            where += f" AND e.{column} IN :{name}"
            sql_params[name] = vals
    if "GE_eventTime" in params:
        where += " AND e.event_time_ms >= :ge"
        sql_params["ge"] = _time_ms(
            "GE_eventTime", _values("GE_eventTime", params["GE_eventTime"])[0]
        )
    if "LT_eventTime" in params:
        where += " AND e.event_time_ms < :lt"
        sql_params["lt"] = _time_ms(
            "LT_eventTime", _values("LT_eventTime", params["LT_eventTime"])[0]
        )
    epcs = parents = None
    if "MATCH_epc" in params or "MATCH_parentID" in params:
        candidates: set[int] = set()
        if "MATCH_epc" in params:
            epcs = {canonical_value(v, ns) for v in _values("MATCH_epc", params["MATCH_epc"])}
            found = repo.object_ids(sorted(epcs))
            candidates.update(found.values())
            for oid in found.values():
                candidates.update(c for c, _, _ in repo.containers_of(oid))
        if "MATCH_parentID" in params:
            parents = {
                canonical_value(v, ns) for v in _values("MATCH_parentID", params["MATCH_parentID"])
            }
            candidates.update(repo.object_ids(sorted(parents)).values())
        if not candidates:
            return []
        where += " AND e.object_id IN :candidates"
        sql_params["candidates"] = sorted(candidates)
    rows = repo.query(where, sql_params, _READ_COLUMNS, limit=None if (epcs or parents) else limit)
    out = []
    for event in _events_for(uow, viewer, rows):
        ev_ns = namespaces_of(event, ns) if "@context" in event else ns
        if epcs is not None and not epcs & set(epcs_of(event, ev_ns)):
            continue
        if parents is not None and (
            not event.get("parentID") or canonical_value(event["parentID"], ev_ns) not in parents
        ):
            continue
        out.append(event)
        if limit is not None and len(out) >= limit:
            break
    return out


@dataclass(frozen=True, slots=True)
class Timeline:
    tracking_no: str | None
    key: str
    status: str | None
    checkpoints: list[dict[str, Any]]
    exceptions: list[Finding]


def _label(
    event_type: str | None, action: str | None, biz_step: str | None, disposition: str | None
) -> str:
    step = step_of(event_type, action, biz_step, disposition)
    if step is not None:
        return LIFECYCLE[step].label
    word = (biz_step or "event").rsplit("/", 1)[-1].replace("BizStep-", "")
    return word.replace("_", " ").capitalize()


def _lane_p95(uow: UnitOfWork, lane: str | None) -> float | None:
    if lane is None:
        return None
    value = uow.connection.execute(
        select(lanes.c.transit_p95_days).where(lanes.c.id == lane)
    ).scalar()
    return float(value) if value is not None else None


def show(
    uow: UnitOfWork,
    viewer: Viewer,
    parcel: str,
    now: datetime | None = None,
    default_p95_days: float = 10.0,
    slack_days: float = 2.0,
    silence_days: float = 7.0,
) -> Timeline:
    """A parcel's timeline (own events plus its bags' while inside) and derived exceptions."""
    obj = _resolve(uow, viewer, parcel)
    repo = TraceRepository(uow.connection)
    rows = sorted(
        repo.history(int(obj["id"]), _READ_COLUMNS), key=lambda r: (r.event_time_ms, r.id)
    )
    points = []
    for r in rows:
        point: dict[str, Any] = {
            "time": datetime.fromtimestamp(r.event_time_ms / 1000, UTC).isoformat(
                timespec="milliseconds"
            ),
            "status": _label(r.event_type, r.action, r.biz_step, r.disposition),
            "location": r.biz_location or r.read_point,
        }
        if not viewer.is_buyer:
            point.update(
                {
                    "party": r.party_id,
                    "event_type": r.event_type,
                    "bizStep": r.biz_step,
                    "disposition": r.disposition,
                    "eventID": hash_id_of(bytes(r.hash)),
                }
            )
        points.append(point)
    history = [Checkpoint(r.event_time_ms, r.party_id, r.biz_step, r.disposition) for r in rows]
    limits = Thresholds(_lane_p95(uow, obj["lane"]) or default_p95_days, slack_days, silence_days)
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    found = findings(history, now_ms, limits)
    if viewer.is_buyer:  # buyers learn that something is wrong, not who is liable
        found = [Finding(f.kind, f.at_ms, None, "") for f in found]
    return Timeline(
        obj["tracking_no"], obj["key"], points[-1]["status"] if points else None, points, found
    )


def history_rows(uow: UnitOfWork, object_id: int) -> list[Any]:
    """Raw history rows of one object (the benchmark's p99 path)."""
    return TraceRepository(uow.connection).history(object_id, _READ_COLUMNS)


# ---- verification --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Break:
    reason: str
    event_id: int | None = None
    batch_id: int | None = None
    object_key: str | None = None
    event_hash_id: str | None = None

    def __str__(self) -> str:
        where = ", ".join(
            x
            for x in (
                f"event {self.event_id}" if self.event_id is not None else "",
                f"batch {self.batch_id}" if self.batch_id is not None else "",
                f"object {self.object_key}" if self.object_key else "",
                self.event_hash_id or "",
            )
            if x
        )
        return f"{where}: {self.reason}" if where else self.reason


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
    "id",
    "object_id",
    "seq",
    "batch_id",
    "party_id",
    "hash",
    "prev",
    "chain",
    "document",
)


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
        message = chains.batch_message(
            b["id"],
            b["party_id"],
            bytes(b["prev_root"]),
            bytes(b["root"]),
            b["event_count"],
            b["first_event_id"],
            b["last_event_id"],
        )
        pub = public.get((b["party_id"], b["key_id"]))
        if pub is None or not verify_signature(pub, bytes(b["signature"]), message):
            report.breaks.append(
                Break(f"signature of {b['party_id']} does not verify", batch_id=b["id"])
            )
        last_root[b["party_id"]] = bytes(b["root"])
    report.batches = len(batches)
    return {int(b["id"]): b for b in batches}


def verify(
    uow: UnitOfWork, deep: bool = True, keys: KeyStore | None = None, max_breaks: int = 100
) -> VerifyReport:
    """Recompute chains, Merkle roots and signatures (and, ``deep``, every Event Hash ID from its
    stored document); stream the events in id order and report breaks in ledger order."""
    started = time.perf_counter()
    repo = TraceRepository(uow.connection)
    report = VerifyReport(deep=deep)
    batches = _check_batches(repo, keys, report)

    def key_of(oid: int) -> str | None:  # only needed to report a break
        return uow.connection.execute(
            select(trace_objects.c.key).where(trace_objects.c.id == oid)
        ).scalar()

    last: dict[int, tuple[int, bytes]] = {}
    heads: list[tuple[int, bytes] | None]
    genesis = chains.GENESIS
    sha = _sha256
    seen_batches: set[int] = set()
    batch_id: int | None = None
    leaves: list[bytes] = []
    first_id = 0
    breaks = report.breaks
    count = 0

    def close(bid: int | None, leaves: list[bytes], first: int, last_id: int) -> None:
        if bid is None:
            return
        b = batches.get(bid)
        if b is None:
            breaks.append(
                Break("event belongs to no batch (inserted)", event_id=first, batch_id=bid)
            )
            return
        if bid in seen_batches:
            breaks.append(
                Break(
                    "batch events are not contiguous (reordered or inserted)",
                    batch_id=bid,
                    event_id=first,
                )
            )
        seen_batches.add(bid)
        if (len(leaves), first, last_id) != (
            b["event_count"],
            b["first_event_id"],
            b["last_event_id"],
        ):
            breaks.append(
                Break(
                    f"batch holds {len(leaves)} events {first}..{last_id}, signed "
                    f"{b['event_count']} events {b['first_event_id']}.."
                    f"{b['last_event_id']} (deleted or inserted)",
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

    prev_id = 0
    for chunk in repo.stream_events(_VERIFY_COLUMNS):
        # columnar per chunk: comprehensions and list comparisons instead of per-event branches
        eids, oids, seqs, bids, _parties, digests, prevs, links, docs = (
            list(c) for c in zip(*chunk, strict=True)
        )
        n = len(eids)
        count += n
        computed = [sha(p + d).digest() for p, d in zip(prevs, docs, strict=True)]
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
        if exp_seq != seqs or exp_prev != prevs or computed != links:
            for i in range(n):
                if exp_seq[i] != seqs[i] or exp_prev[i] != prevs[i]:
                    breaks.append(
                        Break(
                            f"chain broken: expected seq {exp_seq[i]} after the object's previous "
                            "event (an event was deleted, inserted or reordered)",
                            eids[i],
                            bids[i],
                            key_of(oids[i]),
                            hash_id_of(bytes(digests[i])),
                        )
                    )
                if computed[i] != links[i]:
                    breaks.append(
                        Break(
                            "document does not match its chain hash (edited)",
                            eids[i],
                            bids[i],
                            key_of(oids[i]),
                            hash_id_of(bytes(digests[i])),
                        )
                    )
                if len(breaks) >= max_breaks:
                    break
        if deep:
            for i, doc in enumerate(docs):
                event = json.loads(bytes(doc))
                again = sha(prehash(event, namespaces_of(event)).encode("utf-8")).digest()
                if again != bytes(digests[i]) and len(breaks) < max_breaks:
                    breaks.append(
                        Break(
                            "stored Event Hash ID differs from the one recomputed "
                            "from the document",
                            eids[i],
                            bids[i],
                            key_of(oids[i]),
                            hash_id_of(bytes(digests[i])),
                        )
                    )
        start = 0
        for bid, group in itertools.groupby(bids):
            size = sum(1 for _ in group)
            if bid != batch_id:
                close(batch_id, leaves, first_id, prev_id)
                batch_id, leaves, first_id = bid, [], eids[start]
            leaves.extend(links[start : start + size])
            start += size
            prev_id = eids[start - 1]
        if len(breaks) >= max_breaks:
            break
    close(batch_id, leaves, first_id, prev_id)
    for bid in batches:
        if bid not in seen_batches and len(breaks) < max_breaks:
            breaks.append(Break("signed batch has no events left (deleted)", batch_id=bid))
    report.events = count
    report.seconds = time.perf_counter() - started
    return report


def event_hash_ids(
    document_text: str | bytes, version: CbvVersion = "2.0"
) -> list[tuple[str, str]]:
    """(Event Hash ID, pre-hash) of each event of a document (no store involved)."""
    doc = parse_json(document_text)
    if not isinstance(doc, dict):
        raise InvalidValue("$", "an EPCIS document must be a JSON object")
    ns = namespaces_of(doc)
    out = []
    for event in document_events(doc):
        pre = prehash(event, namespaces_of(event, ns) if "@context" in event else ns, version)
        out.append((event_hash_id(pre, version), pre))
    return out


__all__ = [
    "Break",
    "CaptureReport",
    "ImportReport",
    "NotFound",
    "NotVisible",
    "ObjectSpec",
    "Timeline",
    "TraceRepository",
    "VerifyReport",
    "Viewer",
    "capture",
    "event_hash_ids",
    "export",
    "import_document",
    "query",
    "register_objects",
    "show",
    "verify",
]
