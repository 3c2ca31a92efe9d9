"""Outgoing webhook tables: subscriptions, the outbox of notifications, the delivery log.

``webhook_subscriptions.secret`` is the HMAC-SHA256 key the platform signs every delivery with.
It is a *shared* secret: the receiver needs the same bytes to verify, so it is kept as it was
issued (a hash could not sign) and shown to the subscriber once, at creation; listings never show
it. Protect the store accordingly; rotate by subscribing anew and disabling the old one.

The outbox is derived set-wise from the trace ledger (``services/webhooks.py``): its id is a
digest of (subscription, ``dedup_key``), so enqueueing the same fact twice inserts nothing.
``start_event_id`` and ``cursor_event_id`` are trace event ids: a subscription hears of facts
recorded after it was created, and the enqueuer resumes after the last event it scanned.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from xborder.store.metadata import metadata

_ID = BigInteger().with_variant(Integer(), "sqlite")

webhook_subscriptions = Table(
    "webhook_subscriptions", metadata,
    Column("id", String(32), primary_key=True),  # whs_<12 hex>
    Column("party_id", String(64), nullable=False),  # a world party, or "operator"
    Column("role", String(20), nullable=False),  # the ApiRole whose tenant filter applies
    Column("url", Text, nullable=False),
    Column("secret", String(100), nullable=False),  # the shared HMAC key (see module doc)
    Column("event_types", String(200), nullable=False),  # comma-separated, sorted
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    Column("start_event_id", BigInteger, nullable=False),  # last trace event at creation
    Column("cursor_event_id", BigInteger, nullable=False),  # last trace event scanned
    Index("ix_webhook_subscriptions_party_id", "party_id"),
)  # fmt: skip

webhook_outbox = Table(
    "webhook_outbox", metadata,
    Column("id", String(40), primary_key=True),  # whe_<32 hex>: digest of (subscription, key)
    Column("subscription_id", String(32), ForeignKey("webhook_subscriptions.id"),
           nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("dedup_key", String(200), nullable=False),  # what the notification is about
    Column("payload_json", Text, nullable=False),  # the body, byte for byte on every attempt
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),  # null once settled
    Column("attempts", Integer, nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("dead_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("subscription_id", "dedup_key", name="uq_webhook_outbox_subscription_key"),
    Index("ix_webhook_outbox_due", "next_attempt_at"),
)  # fmt: skip

webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("outbox_id", String(40), ForeignKey("webhook_outbox.id"), nullable=False),
    Column("attempt", Integer, nullable=False),  # 1 for the first try
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),  # null: no HTTP answer
    Column("error", Text, nullable=True),  # null: a 2xx answer
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_outbox_id", "outbox_id"),
    Index("ix_webhook_attempts_attempted_at", "attempted_at"),
)  # fmt: skip
