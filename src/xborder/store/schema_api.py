"""API tables: per-party keys (hashes only), per-key rate windows and idempotency records.

``api_keys.party_id`` has no foreign key on purpose: operator keys belong to the party id
``operator``, which is not a party of the stored world. The use case checks world parties when a
key is created.
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
)

from xborder.store.metadata import metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(12), primary_key=True),
    Column("party_id", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("scopes", String(400), nullable=False),  # space-separated, sorted
    Column("secret_hash", String(200), nullable=False),  # argon2id PHC string, never the token
    Column("label", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)
Index("ix_api_keys_party_id", api_keys.c.party_id)

api_rate_windows = Table(
    "api_rate_windows",
    metadata,
    Column("key_id", String(12), ForeignKey("api_keys.key_id"), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),  # Unix seconds, a multiple of 60
    Column("count", Integer, nullable=False),
)

idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("key_id", String(12), ForeignKey("api_keys.key_id"), primary_key=True),
    Column("idem_key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
