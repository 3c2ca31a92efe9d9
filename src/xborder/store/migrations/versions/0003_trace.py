"""trace: the EPCIS event ledger (objects, events, batches, keys, memberships, participants)

Revision ID: 0003_trace
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_trace"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trace_objects",
        sa.Column("id", _ID, autoincrement=False, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tracking_no", sa.String(40), nullable=True),
        sa.Column("sscc", sa.String(18), nullable=True),
        sa.Column("destination_postcode", sa.String(20), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("lane", sa.String(64), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trace_objects"),
        sa.UniqueConstraint("key", name="uq_trace_objects_key"),
        sa.UniqueConstraint("tracking_no", name="uq_trace_objects_tracking_no"),
    )
    op.create_table(
        "trace_participants",
        sa.Column("object_id", _ID, nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["trace_objects.id"],
            name="fk_trace_participants_object_id_trace_objects",
        ),
        sa.PrimaryKeyConstraint("object_id", "party_id", name="pk_trace_participants"),
    )
    op.create_index("ix_trace_participants_party", "trace_participants", ["party_id"])
    op.create_table(
        "trace_party_keys",
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "key_id", name="pk_trace_party_keys"),
    )
    op.create_table(
        "trace_batches",
        sa.Column("id", _ID, autoincrement=False, nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("first_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("prev_root", sa.LargeBinary(32), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_trace_batches"),
    )
    op.create_table(
        "trace_events",
        sa.Column("id", _ID, autoincrement=False, nullable=False),
        sa.Column("object_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(24), nullable=False),
        sa.Column("action", sa.String(8), nullable=True),
        sa.Column("biz_step", sa.Text(), nullable=True),
        sa.Column("disposition", sa.Text(), nullable=True),
        sa.Column("read_point", sa.Text(), nullable=True),
        sa.Column("biz_location", sa.Text(), nullable=True),
        sa.Column("event_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("prev", sa.LargeBinary(32), nullable=False),
        sa.Column("chain", sa.LargeBinary(32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trace_events"),
    )
    op.create_index("ix_trace_events_object_seq", "trace_events", ["object_id", "seq"], unique=True)
    op.create_table(
        "trace_memberships",
        sa.Column("container_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("added_event_id", sa.BigInteger(), nullable=False),
        sa.Column("removed_event_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(
            "container_id", "member_id", "added_event_id", name="pk_trace_memberships"
        ),
    )
    op.create_index("ix_trace_memberships_member", "trace_memberships", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_trace_memberships_member", table_name="trace_memberships")
    op.drop_table("trace_memberships")
    op.drop_index("ix_trace_events_object_seq", table_name="trace_events")
    op.drop_table("trace_events")
    op.drop_table("trace_batches")
    op.drop_table("trace_party_keys")
    op.drop_index("ix_trace_participants_party", table_name="trace_participants")
    op.drop_table("trace_participants")
    op.drop_table("trace_objects")
