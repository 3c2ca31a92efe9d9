"""api: per-party API keys (argon2id hashes), rate windows and idempotency records

Revision ID: 0008_api
Revises: 0007_inbound
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_api"
down_revision: str | Sequence[str] | None = "0007_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(12), nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("scopes", sa.String(400), nullable=False),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
    )
    op.create_index("ix_api_keys_party_id", "api_keys", ["party_id"])
    op.create_table(
        "api_rate_windows",
        sa.Column("key_id", sa.String(12), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.key_id"], name=op.f("fk_api_rate_windows_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("key_id", "window_start", name=op.f("pk_api_rate_windows")),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("key_id", sa.String(12), nullable=False),
        sa.Column("idem_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.key_id"],
            name=op.f("fk_idempotency_records_key_id_api_keys"),
        ),
        sa.PrimaryKeyConstraint("key_id", "idem_key", name=op.f("pk_idempotency_records")),
    )


def downgrade() -> None:
    op.drop_table("idempotency_records")
    op.drop_table("api_rate_windows")
    op.drop_index("ix_api_keys_party_id", "api_keys")
    op.drop_table("api_keys")
