"""Traceability ledger tables: objects (parcels, bags), the append-only events, signed batches,
party public keys, container memberships and declared participants.

Hashes are raw 32-byte SHA-256 digests; event times are epoch milliseconds (UTC) so both stores
compare them as integers. Private keys are never stored (see ``xborder.trace.signing``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from xborder.store.metadata import metadata

_ID = BigInteger().with_variant(Integer(), "sqlite")

trace_objects = Table(
    "trace_objects", metadata,
    Column("id", _ID, primary_key=True, autoincrement=False),
    Column("key", Text, nullable=False, unique=True),  # canonical Digital Link / URI
    Column("kind", String(16), nullable=False),  # parcel | bag | imported
    Column("tracking_no", String(40), nullable=True, unique=True),
    Column("sscc", String(18), nullable=True),
    Column("destination_postcode", String(20), nullable=True),
    Column("order_id", BigInteger, nullable=True),
    Column("lane", String(64), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
)  # fmt: skip

trace_participants = Table(
    "trace_participants", metadata,
    Column("object_id", _ID, ForeignKey("trace_objects.id"), nullable=False),
    Column("party_id", String(64), nullable=False),
    PrimaryKeyConstraint("object_id", "party_id"),
    Index("ix_trace_participants_party", "party_id"),
)  # fmt: skip

trace_party_keys = Table(
    "trace_party_keys", metadata,
    Column("party_id", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("party_id", "key_id"),
)  # fmt: skip

trace_batches = Table(
    "trace_batches", metadata,
    Column("id", _ID, primary_key=True, autoincrement=False),
    Column("party_id", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("first_event_id", BigInteger, nullable=False),
    Column("last_event_id", BigInteger, nullable=False),
    Column("prev_root", LargeBinary(32), nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("source", String(200), nullable=True),  # capture | import:<file name>
)  # fmt: skip

trace_events = Table(
    "trace_events", metadata,
    Column("id", _ID, primary_key=True, autoincrement=False),
    Column("object_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("batch_id", BigInteger, nullable=False),
    Column("party_id", String(64), nullable=False),
    Column("event_type", String(24), nullable=False),
    Column("action", String(8), nullable=True),
    Column("biz_step", Text, nullable=True),
    Column("disposition", Text, nullable=True),
    Column("read_point", Text, nullable=True),
    Column("biz_location", Text, nullable=True),
    Column("event_time_ms", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),  # CBV 2.0 Event Hash ID digest
    Column("prev", LargeBinary(32), nullable=False),  # the object's previous chain value
    Column("chain", LargeBinary(32), nullable=False),  # SHA-256(prev || document)
    Column("document", Text, nullable=False),  # the event's EPCIS 2.0 JSON, as hashed
    Index("ix_trace_events_object_seq", "object_id", "seq", unique=True),
)  # fmt: skip

trace_memberships = Table(
    "trace_memberships", metadata,
    Column("container_id", BigInteger, nullable=False),
    Column("member_id", BigInteger, nullable=False),
    Column("added_event_id", BigInteger, nullable=False),
    Column("removed_event_id", BigInteger, nullable=True),
    PrimaryKeyConstraint("container_id", "member_id", "added_event_id"),
    Index("ix_trace_memberships_member", "member_id"),
)  # fmt: skip
