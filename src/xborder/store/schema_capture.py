"""Capture-job tables of the EPCIS 2.0 REST bindings (``POST /epcis/capture``).

A capture job records one document a party posted: who posted it, when, how it ended and its
errors as RFC 9457 problems. ``capture_job_events`` lists the ledger events a job appended with
the ``eventID`` a client uses to fetch them (``GET /epcis/events/{eventID}``): the event's own
declared ``eventID``, else its Event Hash ID. ``capture_job_epcs`` lists every identifier such an
event names (parentID, epcList, childEPCs, input and output EPCs; canonical), so that
``MATCH_epc`` / ``MATCH_anyEPC`` find it by any of them, not only by the object whose chain it
joined. Both are indexed; the ledger itself (``trace_events``) deliberately indexes only object
and seq, to keep capture fast.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from xborder.store.metadata import metadata

_ID = BigInteger().with_variant(Integer(), "sqlite")

capture_jobs = Table(
    "capture_jobs", metadata,
    # seq orders the jobs (keyset pages); the store assigns it, so several workers never race
    Column("seq", _ID, primary_key=True, autoincrement=True),
    Column("capture_id", String(40), nullable=False, unique=True),
    Column("party_id", String(64), nullable=False),
    Column("key_id", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("running", Boolean, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("error_behaviour", String(16), nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("stored", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("errors", Text, nullable=False),  # JSON list of RFC 9457 problem objects
    Index("ix_capture_jobs_party_seq", "party_id", "seq"),
)  # fmt: skip

capture_job_events = Table(
    "capture_job_events", metadata,
    Column("capture_id", String(40), ForeignKey("capture_jobs.capture_id"), nullable=False),
    Column("event_id", BigInteger, nullable=False),  # trace_events.id
    Column("epcis_event_id", Text, nullable=False),  # declared eventID, else Event Hash ID
    PrimaryKeyConstraint("capture_id", "event_id"),
    Index("ix_capture_job_events_epcis_id", "epcis_event_id"),
)  # fmt: skip

capture_job_epcs = Table(
    "capture_job_epcs", metadata,
    Column("epc", Text, nullable=False),  # canonical (GS1 Digital Link where it is a GS1 key)
    Column("event_id", BigInteger, nullable=False),  # trace_events.id
    PrimaryKeyConstraint("epc", "event_id"),
)  # fmt: skip
