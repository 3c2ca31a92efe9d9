"""inbound stock: advance shipping notices that replenish bonded and overseas warehouses

Revision ID: 0007_inbound
Revises: 0006_lifecycle
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_inbound"
down_revision: str | Sequence[str] | None = "0006_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_shipments",
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("warehouse_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_inbound_shipments_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["sku"], ["products.sku"], name=op.f("fk_inbound_shipments_sku_products")
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_inbound_shipments")),
    )
    op.create_index(
        "ix_inbound_shipments_open", "inbound_shipments", ["received_at", "expected_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_shipments_open", "inbound_shipments")
    op.drop_table("inbound_shipments")
