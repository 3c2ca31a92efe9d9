"""Reading the trace ledger as a viewer: find a parcel, export a document, run an EPCIS query.

Visibility is enforced here, not in the CLI or UI: every read takes a ``Viewer`` (the operator, a
party, or a buyer holding tracking number and postcode), and an object the viewer may not see is
refused with the same words as one that does not exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from xborder.domain.errors import InvalidValue
from xborder.services.trace_capture import epoch_ms, hash_id_of
from xborder.store.trace_repo import TraceRepository
from xborder.store.uow import UnitOfWork
from xborder.trace import vocabulary
from xborder.trace.epcis import SSCC_DL, document, epcs_of, sscc_link
from xborder.trace.event_hash import canonical_time, canonical_value, hash_event, namespaces_of
from xborder.trace.identifiers import normalise
from xborder.trace.lifecycle import XB_VOC
from xborder.trace.schema import validate_query
from xborder.trace.visibility import NotVisible, Viewer, may_see

READ_COLUMNS = (
    "id", "object_id", "party_id", "event_type", "action", "biz_step", "disposition",
    "read_point", "biz_location", "event_time_ms", "hash", "document",
)  # fmt: skip
REDACTED = "xb:redactedChildEPCs"
REDACTED_FROM = "xb:redactedFrom"  # the Event Hash ID of the stored event a redaction cuts down
_OPERATOR = Viewer.operator()
_SSCC_LINK = re.compile(SSCC_DL)


def _sscc_of(obj: Mapping[str, Any]) -> str | None:
    key = str(obj["key"])
    return obj["sscc"] or (key[-18:] if _SSCC_LINK.match(key) else None)


def resolve(repo: TraceRepository, viewer: Viewer, parcel: str) -> dict[str, Any]:
    """An object by tracking number or key, if the viewer may see it (else 'not found').

    The packed parcel (``parcels``) completes what the trace registry lacks: a parcel registered
    by the step that bagged it, before anyone told the ledger its tracking number or
    destination postcode, is still found by tracking number and visible to its buyer.
    """
    obj = repo.object_by_tracking(parcel) or repo.object_by_key(normalise(parcel) or parcel)
    packed = None
    if obj is None:
        packed = repo.parcel(tracking_no=parcel)
        obj = repo.object_by_key(sscc_link(packed["sscc"])) if packed else None
    elif obj["tracking_no"] is None or obj["destination_postcode"] is None or obj["lane"] is None:
        sscc = _sscc_of(obj)
        packed = repo.parcel(sscc=sscc) if sscc else None
    if obj is not None and packed is not None:
        for mine, theirs in (
            ("tracking_no", "tracking_no"),
            ("destination_postcode", "destination_postcode"),
            ("lane", "lane_id"),
        ):
            if obj[mine] is None:
                obj[mine] = packed[theirs]
    if obj is not None and may_see(
        viewer, repo.participants(int(obj["id"])), obj["tracking_no"], obj["destination_postcode"]
    ):
        return obj
    raise NotVisible(f"no parcel {parcel!r} visible to you")


def _event_json(row: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(row.document)
    event.setdefault("eventID", hash_id_of(bytes(row.hash)))
    return event


def events_for(repo: TraceRepository, viewer: Viewer, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Stored events as JSON; for a party, a bag's childEPCs keep only parcels it may see.

    A redacted event is a new event: it says how many children it hides
    (``xb:redactedChildEPCs``) and which stored event it cuts down (``xb:redactedFrom``, that
    event's Event Hash ID), and its eventID is the Event Hash ID of what is exported, so anyone
    can re-derive it. Importing it into the store that holds the original adds nothing. The
    party that captured an event sees it whole: it named every child itself.
    """
    events = [_event_json(r) for r in rows]
    if viewer.is_operator or viewer.party_id is None:
        return events
    children = sorted({c for e in events for c in e.get("childEPCs") or []})
    if not children:
        return events
    visible = repo.visible_keys(viewer.party_id, children)
    for event, row in zip(events, rows, strict=True):
        kids = event.get("childEPCs")
        if not kids or row.party_id == viewer.party_id:  # its own event: it wrote every child
            continue
        keep = [k for k in kids if k in visible]
        if len(keep) < len(kids):
            event.pop("eventID", None)
            event["childEPCs"] = keep
            own = event.get("@context")
            event["@context"] = [
                *(own if isinstance(own, list) else [own] if own else []),
                {"xb": XB_VOC},
            ]
            event[REDACTED] = len(kids) - len(keep)
            event[REDACTED_FROM] = hash_id_of(bytes(row.hash))
            event["eventID"] = hash_event(event, namespaces_of(event))
    return events


def _visible_to(viewer: Viewer) -> str | None:
    """The party whose events a ledger-wide read is cut to (None: the operator, all of them)."""
    if viewer.is_operator:
        return None
    if viewer.is_buyer or viewer.party_id is None:
        raise NotVisible("buyers see a parcel's timeline only (trace show)")
    return viewer.party_id


def time_ms(field_name: str, value: str | datetime) -> int:
    """Epoch ms of an ISO 8601 date-time (text or datetime; naive means UTC)."""
    if isinstance(value, datetime):
        return epoch_ms(value if value.tzinfo else value.replace(tzinfo=UTC))
    text = canonical_time(value)
    try:
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidValue(field_name, "not an ISO 8601 date-time", value) from None
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return epoch_ms(parsed)


# ---- export --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportEvents:
    """One parcel's history (tracking number or key) or everything, as seen by ``viewer``."""

    parcel: str | None = None
    since: str | datetime | None = None
    viewer: Viewer = _OPERATOR


def export(uow: UnitOfWork, command: ExportEvents) -> dict[str, Any]:
    """An EPCIS 2.0 document (the wire format itself: a JSON object valid against the official
    schema) of the events the viewer may see."""
    viewer = command.viewer
    since_ms = time_ms("since", command.since) if command.since is not None else None
    with uow:
        repo = uow.trace
        if command.parcel is not None:
            if viewer.is_buyer:
                raise NotVisible("buyers see a parcel's timeline only (trace show)")
            obj = resolve(repo, viewer, command.parcel)
            rows = sorted(repo.history(int(obj["id"]), READ_COLUMNS), key=lambda r: r.id)
            if since_ms is not None:
                rows = [r for r in rows if r.event_time_ms >= since_ms]
        else:
            rows = repo.query(READ_COLUMNS, visible_to=_visible_to(viewer), since_ms=since_ms)
        return document(events_for(repo, viewer, rows), uow.clock.now())


# ---- query ---------------------------------------------------------------------------------------

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
_EQUALS = {
    "EQ_bizStep": ("biz_step", "bizStep"),
    "EQ_disposition": ("disposition", "disposition"),
    "EQ_bizLocation": ("biz_location", None),
    "EQ_readPoint": ("read_point", None),
}


@dataclass(frozen=True, slots=True)
class QueryEvents:
    """EPCIS SimpleEventQuery parameters (``QUERY_PARAMETERS``; values OR-ed within one)."""

    params: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = 10_000
    viewer: Viewer = _OPERATOR


def _values(name: str, value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    out = [str(v).strip() for v in items if str(v).strip()]
    if not out:
        raise InvalidValue(name, "needs at least one value")
    return out


def query(uow: UnitOfWork, command: QueryEvents) -> list[dict[str, Any]]:
    """EPCIS SimpleEventQuery subset (EPCIS 2.0 section 8.2.7.1) over what the viewer may see:
    the matching events as EPCIS JSON objects, in ledger order."""
    params, limit, viewer = command.params, command.limit, command.viewer
    unknown = [k for k in params if k not in QUERY_PARAMETERS]
    if unknown:
        raise InvalidValue(
            unknown[0], "unsupported query parameter; supported: " + ", ".join(QUERY_PARAMETERS)
        )
    validate_query({k: v if k.endswith("Time") else _values(k, v) for k, v in params.items()})
    visible_to = _visible_to(viewer)
    ns: dict[str, str] = namespaces_of({})
    equals = {
        column: [
            canonical_value(vocabulary.expand(vocab, v) if vocab and ":" not in v else v, ns)
            for v in _values(name, params[name])
        ]
        for name, (column, vocab) in _EQUALS.items()
        if name in params
    }
    since_ms, before_ms = (
        time_ms(name, _values(name, params[name])[0]) if name in params else None
        for name in ("GE_eventTime", "LT_eventTime")
    )
    with uow:
        repo = uow.trace
        epcs = parents = None
        candidates: set[int] | None = None
        if "MATCH_epc" in params or "MATCH_parentID" in params:
            candidates = set()
            if "MATCH_epc" in params:
                epcs = {canonical_value(v, ns) for v in _values("MATCH_epc", params["MATCH_epc"])}
                found = repo.object_ids(sorted(epcs))
                candidates.update(found.values())
                for oid in found.values():
                    candidates.update(c for c, _, _ in repo.containers_of(oid))
            if "MATCH_parentID" in params:
                parents = {
                    canonical_value(v, ns)
                    for v in _values("MATCH_parentID", params["MATCH_parentID"])
                }
                candidates.update(repo.object_ids(sorted(parents)).values())
            if not candidates:
                return []
        rows = repo.query(
            READ_COLUMNS,
            visible_to=visible_to,
            equals=equals,
            since_ms=since_ms,
            before_ms=before_ms,
            object_ids=None if candidates is None else sorted(candidates),
            limit=None if (epcs or parents) else limit,
        )
        out = []
        for event in events_for(repo, viewer, rows):
            ev_ns = namespaces_of(event, ns) if "@context" in event else ns
            if epcs is not None and not epcs & set(epcs_of(event, ev_ns)):
                continue
            if parents is not None and (
                not event.get("parentID")
                or canonical_value(event["parentID"], ev_ns) not in parents
            ):
                continue
            out.append(event)
            if limit is not None and len(out) >= limit:
                break
        return out
