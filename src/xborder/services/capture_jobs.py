"""Capture jobs of the EPCIS 2.0 REST bindings: a party posts a document, the ledger signs it.

The bindings make capture asynchronous (``202 Accepted`` plus a job to poll). Here the job runs
synchronously, inside the request's own transaction: when ``submit_capture`` returns, the job has
finished (``running`` is false) and its events are in the ledger or, if it failed, none of them
are ("rollback", the bindings' default and the only error behaviour offered). The job row is
written in the same transaction, after a savepoint around the import, so a failed job is still
recorded with its errors.

Who captured is the authenticated principal, never anything a document says: the events are
signed by the principal's party key (``uow.keys``) and stored under its party id. A party may
append only to objects it already takes part in, or to new ones: appending to someone else's
parcel would make it a participant and so show it that parcel's whole history (see
``docs/epcis-rest.md``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xborder.domain.errors import DomainError, InvalidValue, NotFound
from xborder.services.access import ApiRole, Principal
from xborder.services.trace_import import ImportDocument, import_document
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import epcs_of, parse_json, subject_of
from xborder.trace.event_hash import canonical_value, document_events, namespaces_of
from xborder.trace.schema import validate
from xborder.trace.visibility import Viewer

CAPTURE_LIMIT = 10_000  # events per document (GS1-EPCIS-Capture-Limit)
ERROR_BEHAVIOURS = ("rollback",)
EPCIS_EXCEPTION = "epcisException:"  # the bindings' problem types: epcisException:<Name>


class EpcisProblem(DomainError):
    """A domain error the bindings name: ``epcis_exception`` is its EPCIS exception type."""

    epcis_exception = "ImplementationException"


class DocumentInvalid(InvalidValue, EpcisProblem):
    """The posted document is not a valid EPCIS 2.0 document: nothing is captured, no job."""

    epcis_exception = "ValidationException"


class QueryParameterInvalid(InvalidValue, EpcisProblem):
    """A query parameter is unknown, malformed or rejected by the EPCIS query schema."""

    epcis_exception = "QueryParameterException"


class CaptureLimitExceeded(EpcisProblem):
    """The document holds more events than one capture may (HTTP 413)."""

    epcis_exception = "CaptureLimitExceededException"

    def __init__(self, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(f"{count} events; one capture takes at most {limit}")


class CaptureRefused(EpcisProblem):
    """A capture would append to an object its party does not take part in."""

    epcis_exception = "SecurityException"


def viewer_of(principal: Principal) -> Viewer:
    """The ledger viewer a principal reads as: the operator sees everything, a party its own."""
    return (
        Viewer.operator()
        if principal.role == ApiRole.OPERATOR
        else Viewer.party(principal.party_id)
    )


def problem(exception: str, title: str, status: int, detail: str) -> dict[str, Any]:
    """An RFC 9457 problem object typed with an EPCIS exception name."""
    return {"type": EPCIS_EXCEPTION + exception, "title": title, "status": status, "detail": detail}


# ---- the job -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaptureJob:
    """A capture job as the bindings describe it (``CaptureJob``), plus its counts."""

    capture_id: str
    party_id: str
    created_at: datetime
    finished_at: datetime | None
    running: bool
    success: bool
    error_behaviour: str
    event_count: int
    stored: int
    duplicates: int
    errors: tuple[dict[str, Any], ...]

    def as_json(self) -> dict[str, Any]:
        """The bindings' CaptureJob JSON (with the event counts as extra members)."""
        out: dict[str, Any] = {
            "captureID": self.capture_id,
            "createdAt": _iso(self.created_at),
            "running": self.running,
            "success": self.success,
            "captureErrorBehaviour": self.error_behaviour,
            "errors": list(self.errors),
            "eventCount": self.event_count,
            "storedCount": self.stored,
            "duplicateCount": self.duplicates,
        }
        if self.finished_at is not None:
            out["finishedAt"] = _iso(self.finished_at)
        return out


def _iso(moment: datetime) -> str:
    when = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _job(row: Mapping[str, Any]) -> CaptureJob:
    return CaptureJob(
        capture_id=str(row["capture_id"]),
        party_id=str(row["party_id"]),
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        running=bool(row["running"]),
        success=bool(row["success"]),
        error_behaviour=str(row["error_behaviour"]),
        event_count=int(row["event_count"]),
        stored=int(row["stored"]),
        duplicates=int(row["duplicates"]),
        errors=tuple(json.loads(row["errors"])),
    )


# ---- capture -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitCapture:
    """A document (JSON text, bytes or parsed) posted by ``principal``."""

    principal: Principal
    document: str | bytes | Mapping[str, Any]
    error_behaviour: str = "rollback"
    capture_limit: int = CAPTURE_LIMIT


def _event_count(doc: Mapping[str, Any]) -> int:
    body = doc.get("epcisBody")
    if not isinstance(body, dict):
        return 0
    results = body.get("queryResults")
    if isinstance(results, dict):
        inner = results.get("resultsBody")
        body = inner if isinstance(inner, dict) else {}
    events = body.get("eventList")
    return len(events) if isinstance(events, list) else int("event" in body)


def parse_document(raw: str | bytes | Mapping[str, Any], limit: int) -> dict[str, Any]:
    """The document, checked: JSON, at most ``limit`` events, valid against the EPCIS 2.0 schema
    (format checking on) and the model rules; ``DocumentInvalid`` / ``CaptureLimitExceeded``."""
    try:
        doc: Any = parse_json(raw) if isinstance(raw, str | bytes) else dict(raw)
    except InvalidValue as exc:
        raise DocumentInvalid(exc.field, exc.reason) from None
    if not isinstance(doc, dict):
        raise DocumentInvalid("$", "an EPCIS document must be a JSON object")
    count = _event_count(doc)
    if count > limit:
        raise CaptureLimitExceeded(count, limit)
    try:
        validate(doc)
    except InvalidValue as exc:
        raise DocumentInvalid(exc.field, exc.reason) from None
    return doc


def _touched(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(JSON path, object key) of every object an import of ``doc`` registers or appends to:
    each event's subject (the chain it joins) and an aggregation's children."""
    ns = namespaces_of(doc)
    ctx = doc.get("@context")
    extra = [c for c in (ctx if isinstance(ctx, list) else [ctx]) if isinstance(c, dict) and c]
    out = []
    for index, event in enumerate(document_events(doc)):
        path = f"event {index}"
        own = event.get("@context")
        own_list = own if isinstance(own, list) else ([own] if own else [])
        ev_ns = namespaces_of({**event, "@context": [*extra, *own_list]}, ns)
        subject = subject_of(event, ev_ns)
        if subject is not None:
            out.append((path, subject))
        out.extend((path, canonical_value(k, ev_ns)) for k in event.get("childEPCs") or [])
    return out


def _refused(uow: UnitOfWork, party_id: str, touched: Sequence[tuple[str, str]]) -> dict[int, str]:
    """Object id -> key of the existing objects among ``touched`` the party does not take part
    in; raises ``CaptureRefused`` naming the first."""
    keys = sorted({k for _, k in touched})
    existing = uow.trace.object_ids(keys)
    mine = uow.trace.visible_keys(party_id, list(existing))
    for path, key in touched:
        if key in existing and key not in mine:
            raise CaptureRefused(
                f"{path}: {key} is an object you do not take part in; a party may capture "
                "events only on its own objects or new ones"
            )
    return {existing[k]: k for k in mine}


def submit_capture(uow: UnitOfWork, command: SubmitCapture) -> CaptureJob:
    """Run a capture job now: validate, import signed by the principal's party, record the job.

    A document that is not valid EPCIS raises ``DocumentInvalid`` (no job); a document over the
    limit ``CaptureLimitExceeded``. A valid document always yields a finished job: successful
    with its events appended, or failed with its errors and nothing appended.
    """
    principal = command.principal
    if command.error_behaviour not in ERROR_BEHAVIOURS:
        raise DocumentInvalid(
            "GS1-Capture-Error-Behaviour", "only 'rollback' is supported", command.error_behaviour
        )
    doc = parse_document(command.document, command.capture_limit)
    party = principal.party_id
    capture_id = "cj" + uuid.uuid4().hex
    with uow:
        uow.trace.lock()
        jobs = uow.capture_jobs
        now = uow.clock.now()
        before = jobs.last_event_id()
        last_object = uow.trace.next_id("objects") - 1
        errors: list[dict[str, Any]] = []
        stored, duplicates, appended = 0, 0, []
        try:
            with jobs.savepoint():
                allowed: dict[int, str] | None = None
                if principal.role != ApiRole.OPERATOR:
                    allowed = _refused(uow, party, _touched(doc))
                source = f"http:{capture_id}"
                report = import_document(uow, ImportDocument(doc, party, source=source))
                stored, duplicates = report.stored, report.duplicates
                appended = jobs.events_after(before)
                if allowed is not None:  # the exact check, whatever the import chained onto
                    touched = {int(r.object_id) for r in appended}
                    touched |= jobs.members_added_after(before)
                    foreign = sorted(t for t in touched if t <= last_object and t not in allowed)
                    if foreign:
                        raise CaptureRefused(
                            "the document appends to an object you do not take part in"
                        )
        except CaptureRefused as exc:
            errors.append(problem("SecurityException", "Capture refused", 403, str(exc)))
        except InvalidValue as exc:
            errors.append(problem("ValidationException", "Event rejected", 400, str(exc)))
        except OverflowError:  # a schema-valid time the calendar cannot hold (year 9999 + ms)
            detail = "a time of the document is out of range"
            errors.append(problem("ValidationException", "Event rejected", 400, detail))
        if errors:
            stored, duplicates, appended = 0, 0, []
        row = {
            "capture_id": capture_id,
            "party_id": party,
            "key_id": principal.key_id,
            "created_at": now,
            "finished_at": now,
            "running": False,
            "success": not errors,
            "error_behaviour": command.error_behaviour,
            "event_count": _event_count(doc),
            "stored": stored,
            "duplicates": duplicates,
            "errors": json.dumps(errors),
        }
        jobs.insert_job(row)
        jobs.add_job_events([(capture_id, int(r.id), _event_id(r)) for r in appended])
        jobs.add_event_epcs([(epc, int(r.id)) for r in appended for epc in _named(r.document)])
        uow.commit()
    return _job(row)


def _named(document: str) -> set[str]:
    """The identifiers a stored event names (parentID and every EPC list), canonical."""
    event = json.loads(document)
    ns = namespaces_of(event, namespaces_of({}))
    parent = event.get("parentID")
    return {*epcs_of(event, ns), *([canonical_value(parent, ns)] if parent else [])}


def _event_id(row: Any) -> str:
    """The eventID a client fetches an appended event by: its own, else its Event Hash ID."""
    declared = json.loads(row.document).get("eventID")
    return str(declared) if declared else f"ni:///sha-256;{bytes(row.hash).hex()}?ver=CBV2.0"


# ---- reading jobs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaptureJobFor:
    principal: Principal
    capture_id: str


def capture_job(uow: UnitOfWork, command: CaptureJobFor) -> CaptureJob:
    """One job of the principal's party (the operator: any); another party's job is NotFound."""
    principal = command.principal
    party = None if principal.role == ApiRole.OPERATOR else principal.party_id
    with uow:
        row = uow.capture_jobs.job(command.capture_id, party)
    if row is None:
        raise NotFound(f"no capture job {command.capture_id!r} visible to you")
    return _job(row)


@dataclass(frozen=True, slots=True)
class CaptureJobsFor:
    principal: Principal
    per_page: int = 30
    after_seq: int | None = None


@dataclass(frozen=True, slots=True)
class JobsPage:
    jobs: list[CaptureJob]
    next_after: int | None  # the keyset of the next page; None on the last page


def capture_jobs(uow: UnitOfWork, command: CaptureJobsFor) -> JobsPage:
    """The jobs of the principal's party (the operator: all), oldest first, one page."""
    principal = command.principal
    party = None if principal.role == ApiRole.OPERATOR else principal.party_id
    with uow:
        rows = uow.capture_jobs.jobs(party, command.after_seq, command.per_page + 1)
    more = len(rows) > command.per_page
    rows = rows[: command.per_page]
    return JobsPage([_job(r) for r in rows], int(rows[-1]["seq"]) if more else None)
