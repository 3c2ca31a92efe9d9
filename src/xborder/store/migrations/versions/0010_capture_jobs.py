"""capture jobs: documents posted to the EPCIS 2.0 REST bindings (``POST /epcis/capture``)

One row per capture job (who posted, when, how it ended, its errors as RFC 9457 problems) and
one per ledger event a job appended, under the ``eventID`` a client fetches it by, and the
identifiers each such event names (for ``MATCH_epc`` / ``MATCH_anyEPC``).

Revision ID: 0010_capture_jobs
Revises: 0009_webhooks
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_capture_jobs"
down_revision: str | Sequence[str] | None = "0009_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "capture_jobs",
        sa.Column("seq", _ID, primary_key=True, autoincrement=True),
        sa.Column("capture_id", sa.String(40), nullable=False),
        sa.Column("party_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_behaviour", sa.String(16), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_capture_jobs")),
        sa.UniqueConstraint("capture_id", name=op.f("uq_capture_jobs_capture_id")),
    )
    op.create_index("ix_capture_jobs_party_seq", "capture_jobs", ["party_id", "seq"])
    op.create_table(
        "capture_job_events",
        sa.Column("capture_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("epcis_event_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["capture_jobs.capture_id"],
            name=op.f("fk_capture_job_events_capture_id_capture_jobs"),
        ),
        sa.PrimaryKeyConstraint("capture_id", "event_id", name=op.f("pk_capture_job_events")),
    )
    op.create_index("ix_capture_job_events_epcis_id", "capture_job_events", ["epcis_event_id"])
    op.create_table(
        "capture_job_epcs",
        sa.Column("epc", sa.Text(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("epc", "event_id", name=op.f("pk_capture_job_epcs")),
    )


def downgrade() -> None:
    op.drop_table("capture_job_epcs")
    op.drop_index("ix_capture_job_events_epcis_id", "capture_job_events")
    op.drop_table("capture_job_events")
    op.drop_index("ix_capture_jobs_party_seq", "capture_jobs")
    op.drop_table("capture_jobs")
