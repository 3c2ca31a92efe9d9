"""Importing EPCIS 2.0 documents into the ledger, and hashing them without a store.

A document from outside is validated whole (official schema, format checking on) before anything
is stored, and an event dated after the clock's now is refused like any other bad field: a
rejected document stores nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xborder.domain.errors import InvalidValue
from xborder.services.trace_capture import (
    ObjectSpec,
    Pending,
    append,
    check_party,
    epoch_ms,
    hash_id_of,
    memberships,
    register_objects,
)
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import EventColumns, event_columns, parse_json
from xborder.trace.event_hash import (
    CbvVersion,
    canonical_value,
    document_events,
    event_hash_id,
    namespaces_of,
    prehash,
)
from xborder.trace.lifecycle import XB_VOC, EventType
from xborder.trace.schema import validate

_sha256 = hashlib.sha256
_HASH_ID = re.compile(r"^ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.[01]$")


@dataclass(frozen=True, slots=True)
class ImportDocument:
    """Store an EPCIS 2.0 document (JSON text, bytes or parsed) signed by ``party_id``;
    ``source`` (e.g. the file name) is kept on the signed batch."""

    raw: str | bytes | Mapping[str, Any]
    party_id: str
    source: str = "import"


@dataclass(frozen=True, slots=True)
class ImportReport:
    events: int
    stored: int
    duplicates: int
    hash_ids: list[str]


def _custom_context(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    ctx = doc.get("@context")
    return [dict(c) for c in (ctx if isinstance(ctx, list) else [ctx]) if isinstance(c, dict) and c]


def _event_path(doc: Mapping[str, Any], index: int) -> str:
    """The JSON path of the ``index``-th event (as ``document_events`` lists them)."""
    body = doc.get("epcisBody", {})
    if "eventList" in body:
        return f"$.epcisBody.eventList[{index}]"
    if "queryResults" in body:
        return f"$.epcisBody.queryResults.resultsBody.eventList[{index}]"
    return "$.epcisBody.event"


def redacted_from(event: Mapping[str, Any], ns: Mapping[str, str]) -> bytes | None:
    """The Event Hash digest of the stored event a redacted export cut down
    (``xb:redactedFrom``, written by ``trace export --as-party``), or None."""
    for name, value in event.items():
        prefix, sep, local = name.partition(":")
        if sep and local == "redactedFrom" and ns.get(prefix) == XB_VOC:
            m = _HASH_ID.match(value) if isinstance(value, str) else None
            return bytes.fromhex(m.group(1)) if m else None
    return None


def import_document(uow: UnitOfWork, command: ImportDocument) -> ImportReport:
    """Validate and store an EPCIS 2.0 document; a rejected document stores nothing.

    Each event keeps the document's prefix declarations in its own ``@context`` so that it stays
    self-describing (and re-hashable) on its own, and joins the chain of its subject (parentID,
    else its first EPC). Events already in the ledger (same Event Hash ID) are skipped, and so
    is a redacted copy of a stored event (its ``xb:redactedFrom`` names a stored Event Hash ID).
    """
    party_id = command.party_id
    check_party("party", party_id)
    raw = command.raw
    doc: Any = parse_json(raw) if isinstance(raw, str | bytes) else dict(raw)
    validate(doc)
    with uow:
        now = uow.clock.now()
        now_ms = epoch_ms(now)
        ns = namespaces_of(doc)
        extra = _custom_context(doc)
        prepared: list[tuple[dict[str, Any], bytes, EventColumns]] = []
        for index, event in enumerate(document_events(doc)):
            stored = dict(event)
            if extra:
                own = event.get("@context")
                own_list = own if isinstance(own, list) else ([own] if own else [])
                stored["@context"] = [*extra, *own_list]
            ev_ns = namespaces_of(stored, ns)
            digest = _sha256(prehash(stored, ev_ns).encode("utf-8")).digest()
            columns = event_columns(stored, ev_ns, hash_id_of(digest))
            if columns.time_ms > now_ms:
                raise InvalidValue(
                    f"{_event_path(doc, index)}.eventTime",
                    f"after the clock's now ({now.isoformat(timespec='seconds')})",
                    event.get("eventTime"),
                )
            prepared.append((stored, digest, columns))
        repo = uow.trace
        repo.lock()
        subjects = list(dict.fromkeys(c.subject for _, _, c in prepared))
        # participation comes only with events actually appended (``append``), not from naming
        ids = register_objects(uow, [ObjectSpec(key=s, kind="imported") for s in subjects])
        seen = {bytes(h) for (h,) in repo.events_of(list(ids.values()), ["hash"])} if ids else set()
        pending = Pending()
        agg_rows = []
        child_keys: set[str] = set()
        duplicates = 0
        for stored, digest, c in prepared:
            if digest in seen or redacted_from(stored, namespaces_of(stored, ns)) in seen:
                duplicates += 1
                continue
            seen.add(digest)
            if c.event_type == EventType.AGGREGATION.value and c.action in ("ADD", "DELETE"):
                ev_ns = namespaces_of(stored, ns)
                kids = [canonical_value(k, ev_ns) for k in stored.get("childEPCs") or []]
                child_keys.update(kids)
                agg_rows.append((len(pending.object_ids), c.action, kids))
            pending.object_ids.append(ids[c.subject])
            pending.object_keys.append(c.subject)
            pending.party_ids.append(party_id)
            pending.columns.append(
                (c.event_type, c.action, c.biz_step, c.disposition, c.read_point, c.biz_location,
                 c.time_ms)
            )  # fmt: skip
            pending.digests.append(digest)
            pending.documents.append(json.dumps(stored, separators=(",", ":"), ensure_ascii=False))
        child_ids = (
            register_objects(uow, [ObjectSpec(key=k, kind="imported") for k in sorted(child_keys)])
            if child_keys
            else {}
        )
        report = append(repo, uow.keys, now_ms, pending, f"import:{command.source}")
        memberships(repo, agg_rows, pending.object_ids, report.event_ids, child_ids)
        uow.commit()
    return ImportReport(
        len(prepared), len(pending.object_ids), duplicates, [hash_id_of(d) for _, d, _ in prepared]
    )


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
