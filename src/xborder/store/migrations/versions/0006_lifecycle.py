"""lifecycle: one parcel from packing to its end; order states for every parcel outcome

Merges the area branches. Parcels gain the milestones that settlement pays on (packed,
departed, delivered), the time of their latest transition, their last-mile service and their
destination. Order statuses grow to ``partly_delivered`` (16 characters): the status columns
widen on PostgreSQL (SQLite does not enforce VARCHAR lengths, and widening there would copy the
orders table).

Revision ID: 0006_lifecycle
Revises: 0002_customs, 0003_trace, 0004_planning, 0005_settlement
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_lifecycle"
down_revision: str | Sequence[str] | None = (
    "0002_customs",
    "0003_trace",
    "0004_planning",
    "0005_settlement",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_PARCEL_COLUMNS = (
    ("last_mile_id", sa.String(64)),
    ("destination_country", sa.String(2)),
    ("destination_postcode", sa.String(20)),
    ("promised_by", sa.Date()),
    ("packed_at", sa.DateTime(timezone=True)),
    ("departed_at", sa.DateTime(timezone=True)),
    ("delivered_at", sa.DateTime(timezone=True)),
    ("status_at", sa.DateTime(timezone=True)),
    ("declared", sa.Boolean()),
)

# a bag moves as one until it is opened at destination: the steps it takes, and when it was opened
_NEW_BAG_COLUMNS = (
    ("status", sa.String(20)),
    ("status_at", sa.DateTime(timezone=True)),
    ("opened_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("orders", "status", type_=sa.String(20))
        op.alter_column("plan_assignments", "prior_status", type_=sa.String(20))
    for name, kind in _NEW_PARCEL_COLUMNS:
        op.add_column("parcels", sa.Column(name, kind, nullable=True))
    for name, kind in _NEW_BAG_COLUMNS:
        op.add_column("consolidations", sa.Column(name, kind, nullable=True))
    op.create_index("ix_parcels_status", "parcels", ["status"])
    op.create_index("ix_parcels_consolidation_id", "parcels", ["consolidation_id"])


def downgrade() -> None:
    op.drop_index("ix_parcels_consolidation_id", "parcels")
    op.drop_index("ix_parcels_status", "parcels")
    with op.batch_alter_table("parcels") as batch:
        for name, _kind in reversed(_NEW_PARCEL_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("consolidations") as batch:
        for name, _kind in reversed(_NEW_BAG_COLUMNS):
            batch.drop_column(name)
