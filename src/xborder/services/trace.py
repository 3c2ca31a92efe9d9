"""Traceability use cases: the one place entry points reach the EPCIS ledger through.

A thin facade over modules of one purpose each:
- ``trace_capture``: ``register_objects(uow, specs)`` and ``capture(uow, frame, keys=None)``, the
  building blocks other use cases call inside their own transaction;
- ``trace_import``: ``import_document(uow, ImportDocument)`` and ``event_hash_ids`` (no store);
- ``trace_read``: ``export(uow, ExportEvents)`` and ``query(uow, QueryEvents)``;
- ``trace_show``: ``show(uow, ShowParcel)``, a parcel's timeline for its parties and its buyer;
- ``trace_verify``: ``verify(uow, Verify)`` (with ``trace_verify_rows``: columns, memberships,
  registry; ``trace_verify_scan``: the event scan, over id ranges in parallel processes);
- ``trace_checkpoint``: ``checkpoint(uow, MakeCheckpoint)``, a signed tree head to keep outside
  the store, and ``parse_checkpoint`` to read one back for ``Verify(checkpoint=...)``.

Every read takes a ``Viewer`` and is confined to what it may see. ``Viewer`` and ``NotVisible``
are re-exported so that the CLI and the API need nothing from the engine.
"""

from __future__ import annotations

from xborder.domain.errors import NotFound
from xborder.services.trace_capture import (
    CaptureReport,
    ObjectSpec,
    capture,
    hash_id_of,
    register_objects,
)
from xborder.services.trace_checkpoint import (
    MakeCheckpoint,
    SignedTreeHead,
    checkpoint,
    parse_checkpoint,
)
from xborder.services.trace_import import (
    ImportDocument,
    ImportReport,
    event_hash_ids,
    import_document,
)
from xborder.services.trace_read import (
    QUERY_PARAMETERS,
    REDACTED,
    REDACTED_FROM,
    ExportEvents,
    QueryEvents,
    export,
    query,
)
from xborder.services.trace_show import (
    ShowParcel,
    Timeline,
    TimelinePoint,
    history_rows,
    short_place,
    show,
)
from xborder.services.trace_verify import Break, Verify, VerifyReport, verify
from xborder.store.trace_repo import TraceRepository
from xborder.trace.exceptions import ExceptionKind, Finding
from xborder.trace.json_guard import MAX_DOCUMENT_BYTES
from xborder.trace.visibility import NotVisible, Viewer

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "QUERY_PARAMETERS",
    "REDACTED",
    "REDACTED_FROM",
    "Break",
    "CaptureReport",
    "ExceptionKind",
    "ExportEvents",
    "Finding",
    "ImportDocument",
    "ImportReport",
    "MakeCheckpoint",
    "NotFound",
    "NotVisible",
    "ObjectSpec",
    "QueryEvents",
    "ShowParcel",
    "SignedTreeHead",
    "Timeline",
    "TimelinePoint",
    "TraceRepository",
    "Verify",
    "VerifyReport",
    "Viewer",
    "capture",
    "checkpoint",
    "event_hash_ids",
    "export",
    "hash_id_of",
    "history_rows",
    "import_document",
    "parse_checkpoint",
    "query",
    "register_objects",
    "short_place",
    "show",
    "verify",
]
