"""Reading the ledger through the EPCIS 2.0 REST bindings: ``GET /events`` and ``/events/{id}``.

The same visibility as every other ledger read (``trace_read``): a party sees the events of the
objects it takes part in and of the containers that carried them, a bag's ``childEPCs`` cut down
to what it may see; the operator sees everything. An event outside that is "not found".

Pages are keyset pages over the ledger's append-only order (event id): a page's token carries the
last id it returned, so pages never repeat or skip an event however many are appended meanwhile.
A token is bound to its query (a fingerprint of the parameters and the reader), so it cannot be
replayed with other filters. ``recordTime`` is the moment the ledger recorded the event (its
signed batch's time), whatever the captured document said.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from xborder.domain.errors import InvalidValue, NotFound
from xborder.services.access import Principal
from xborder.services.capture_jobs import QueryParameterInvalid, viewer_of
from xborder.services.trace_read import READ_COLUMNS, events_for, time_ms
from xborder.store.uow import UnitOfWork
from xborder.trace import vocabulary
from xborder.trace.epcis import EPCIS_CONTEXT, epcs_of
from xborder.trace.event_hash import canonical_value, namespaces_of
from xborder.trace.schema import validate_query

PER_PAGE = 30  # the bindings' default perPage
MAX_PER_PAGE = 1_000  # the upper limit a client cannot override (larger values are cut to it)
TIME_PARAMETERS = ("GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime")
# list parameters -> (stored column or None, CBV vocabulary to expand bare words with)
LIST_PARAMETERS: dict[str, tuple[str | None, str | None]] = {
    "eventType": ("event_type", None),
    "EQ_action": ("action", None),
    "EQ_bizStep": ("biz_step", "bizStep"),
    "EQ_disposition": ("disposition", "disposition"),
    "EQ_readPoint": ("read_point", None),
    "EQ_bizLocation": ("biz_location", None),
    "MATCH_epc": (None, None),
    "MATCH_parentID": (None, None),
    "MATCH_anyEPC": (None, None),
}
QUERY_PARAMETERS = (*TIME_PARAMETERS, *LIST_PARAMETERS)
_HASH_ID = re.compile(r"^ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.[01]$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso_ms(ms: int) -> str:
    when = _EPOCH + timedelta(milliseconds=ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def query_document(events: Sequence[Mapping[str, Any]], created: datetime) -> dict[str, Any]:
    """An EPCISQueryDocument (SimpleEventQuery results) around ``events``."""
    when = created.astimezone(UTC)
    return {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": [dict(e) for e in events]},
            }
        },
    }


# ---- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    equals: dict[str, list[str]]
    times: dict[str, int]
    match: dict[str, set[str]]  # MATCH_* -> canonical identifiers


def _values(name: str, raw: Sequence[str]) -> list[str]:
    """A list parameter's values: repeated, or pipe-delimited as the bindings write them."""
    out = [part.strip() for value in raw for part in value.split("|") if part.strip()]
    if not out:
        raise QueryParameterInvalid(name, "needs at least one value")
    return out


def parse_filters(params: Mapping[str, Sequence[str]]) -> Filters:
    """Check the parameters (names, the EPCIS query schema, times) and make them canonical."""
    unknown = sorted(k for k in params if k not in QUERY_PARAMETERS)
    if unknown:
        raise QueryParameterInvalid(
            unknown[0], "not supported here; supported: " + ", ".join(QUERY_PARAMETERS)
        )
    lists = {k: _values(k, v) for k, v in params.items() if k in LIST_PARAMETERS}
    times: dict[str, int] = {}
    for name in TIME_PARAMETERS:
        if name not in params:
            continue
        raw = [v for v in params[name] if v.strip()]
        if len(raw) != 1:
            raise QueryParameterInvalid(name, "needs exactly one date-time")
        text = raw[0].strip().replace(" ", "+")  # an unencoded '+' of an offset arrives as ' '
        try:
            validate_query({name: text})
            times[name] = time_ms(name, text)
        except InvalidValue as exc:
            raise QueryParameterInvalid(exc.field, exc.reason, text) from None
        except OverflowError:  # e.g. 9999-12-31T23:59:59.9999Z rounds past the last date
            raise QueryParameterInvalid(name, "out of range", text) from None
    try:
        validate_query(dict(lists))
    except InvalidValue as exc:
        raise QueryParameterInvalid(exc.field, exc.reason) from None
    ns: dict[str, str] = namespaces_of({})
    equals: dict[str, list[str]] = {}
    match: dict[str, set[str]] = {}
    for name, values in lists.items():
        column, vocab = LIST_PARAMETERS[name]
        if column is None:
            match[name] = {canonical_value(v, ns) for v in values}
        elif column in ("event_type", "action"):
            equals[column] = values
        else:
            equals[column] = [
                canonical_value(vocabulary.expand(vocab, v) if vocab and ":" not in v else v, ns)
                for v in values
            ]
    return Filters(equals, times, match)


def _matcher(match: Mapping[str, set[str]]) -> Callable[[Mapping[str, Any]], bool] | None:
    """The MATCH_* test on one (already redacted) event: the parameters AND-ed, values OR-ed."""
    if not match:
        return None
    base = namespaces_of({})

    def ok(event: Mapping[str, Any]) -> bool:
        ns = namespaces_of(event, base) if "@context" in event else base
        parent = canonical_value(event["parentID"], ns) if event.get("parentID") else None
        listed = set(epcs_of(event, ns))
        plain = {
            canonical_value(e, ns) for f in ("epcList", "childEPCs") for e in event.get(f) or []
        }
        found = {
            "MATCH_epc": plain,
            "MATCH_parentID": {parent} if parent else set(),
            "MATCH_anyEPC": listed | ({parent} if parent else set()),
        }
        return all(found[name] & wanted for name, wanted in match.items())

    return ok


# ---- page tokens ---------------------------------------------------------------------------------


def _fingerprint(params: Mapping[str, Sequence[str]], principal: Principal) -> str:
    canonical = json.dumps(
        [principal.party_id, sorted((k, sorted(v)) for k, v in params.items())],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def page_token(after_id: int, fingerprint: str) -> str:
    raw = f"{after_id}.{fingerprint}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_token(token: str, fingerprint: str) -> int:
    """The keyset of a token issued for this very query; ``QueryParameterInvalid`` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        after, mark = raw.split(".", 1)
        if mark != fingerprint:
            raise ValueError(mark)
        return int(after)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise QueryParameterInvalid(
            "nextPageToken", "not a token of this query (repeat the same parameters)"
        ) from None


# ---- the use cases -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventsQuery:
    """``GET /events``: the query parameters (name -> raw values), page size and token."""

    principal: Principal
    params: Mapping[str, Sequence[str]] = field(default_factory=dict)
    per_page: int = PER_PAGE
    next_page_token: str | None = None
    max_per_page: int = MAX_PER_PAGE


@dataclass(frozen=True, slots=True)
class EventsPage:
    document: dict[str, Any]  # the EPCISQueryDocument of this page
    next_page_token: str | None  # None on the last page
    per_page: int  # the page size used (perPage cut to the upper limit)

    @property
    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.document["epcisBody"]["queryResults"]["resultsBody"][
            "eventList"
        ]
        return events


def _with_record_time(event: dict[str, Any], row: Any) -> dict[str, Any]:
    event["recordTime"] = _iso_ms(int(row.record_ms))
    return event


def query_events(uow: UnitOfWork, command: EventsQuery) -> EventsPage:
    """One page of the events the principal may see that match the parameters, in ledger order."""
    if command.per_page < 1:
        raise QueryParameterInvalid("perPage", "must be at least 1", command.per_page)
    per_page = min(command.per_page, command.max_per_page)
    filters = parse_filters(command.params)
    mark = _fingerprint(command.params, command.principal)
    after = read_token(command.next_page_token, mark) if command.next_page_token else None
    viewer = viewer_of(command.principal)
    visible_to = None if viewer.is_operator else viewer.party_id
    matches = _matcher(filters.match)
    t = filters.times
    with uow:
        trace = uow.trace
        object_ids: list[int] | None = None
        named: list[int] = []
        if filters.match:  # candidates: the objects, the bags that carried them, and the
            # events captured over HTTP that name them (an EPC that is not the event's subject)
            wanted = sorted(set().union(*filters.match.values()))
            found = trace.object_ids(wanted)
            candidates = set(found.values())
            for oid in found.values():
                candidates.update(c for c, _, _ in trace.containers_of(oid))
            object_ids = sorted(candidates)
            named = uow.capture_jobs.ids_naming(wanted)
        page: list[tuple[int, dict[str, Any]]] = []
        more = False
        done = object_ids == [] and not named  # nothing can match: no query at all
        chunk = per_page + 1 if matches is None else max(4 * per_page, 200)
        while not done and not more:
            rows = uow.capture_jobs.events_page(
                (*READ_COLUMNS,),
                visible_to=visible_to,
                equals=filters.equals,
                since_ms=t.get("GE_eventTime"),
                before_ms=t.get("LT_eventTime"),
                recorded_since_ms=t.get("GE_recordTime"),
                recorded_before_ms=t.get("LT_recordTime"),
                object_ids=object_ids,
                or_event_ids=named,
                after_id=after,
                limit=chunk,
            )
            for row, event in zip(rows, events_for(trace, viewer, rows), strict=True):
                if matches is not None and not matches(event):
                    continue
                if len(page) == per_page:
                    more = True
                    break
                page.append((int(row.id), _with_record_time(event, row)))
            done = len(rows) < chunk
            after = int(rows[-1].id) if rows else after
        token = page_token(page[-1][0], mark) if more else None
        return EventsPage(query_document([e for _, e in page], uow.clock.now()), token, per_page)


@dataclass(frozen=True, slots=True)
class EventById:
    """``GET /events/{eventID}``: a declared eventID, or an Event Hash ID."""

    principal: Principal
    event_id: str


def event_by_id(uow: UnitOfWork, command: EventById) -> dict[str, Any]:
    """An EPCISQueryDocument with the event(s) of that ID the principal may see; NotFound when
    there is none (absent and not visible read the same)."""
    viewer = viewer_of(command.principal)
    hashed = _HASH_ID.match(command.event_id)
    with uow:
        jobs = uow.capture_jobs
        ids = set(jobs.ids_by_epcis_id(command.event_id))
        if hashed:
            ids.update(jobs.ids_by_hash(bytes.fromhex(hashed.group(1))))
        rows = (
            jobs.events_page(
                (*READ_COLUMNS,),
                visible_to=None if viewer.is_operator else viewer.party_id,
                event_ids=sorted(ids),
            )
            if ids
            else []
        )
        if not rows:
            raise NotFound(f"no event {command.event_id!r} visible to you")
        events = [
            _with_record_time(e, r)
            for r, e in zip(rows, events_for(uow.trace, viewer, rows), strict=True)
        ]
        return query_document(events, uow.clock.now())
