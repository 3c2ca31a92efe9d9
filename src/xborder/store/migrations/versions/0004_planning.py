"""planning: plan runs, assignments, inventory reservations, parcels, consolidations

Revision ID: 0004_planning
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_planning"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "plan_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("lower_bound_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("gap", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_runs")),
    )
    op.create_table(
        "plan_assignments",
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.String(64), nullable=True),
        sa.Column("lane_id", sa.String(64), nullable=True),
        sa.Column("last_mile_id", sa.String(64), nullable=True),
        sa.Column("customs_mode", sa.String(4), nullable=True),
        sa.Column("departure_date", sa.Date(), nullable=True),
        sa.Column("cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("prior_status", sa.String(12), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_plan_assignments_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan_runs.id"], name=op.f("fk_plan_assignments_plan_id_plan_runs")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_plan_assignments_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["lane_id"], ["lanes.id"], name=op.f("fk_plan_assignments_lane_id_lanes")
        ),
        sa.ForeignKeyConstraint(
            ["last_mile_id"],
            ["last_mile.id"],
            name=op.f("fk_plan_assignments_last_mile_id_last_mile"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_plan_assignments")),
    )
    op.create_index("ix_plan_assignments_plan", "plan_assignments", ["plan_id"])
    op.create_table(
        "inventory_reservations",
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("warehouse_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_inventory_reservations_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_inventory_reservations_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["sku"], ["products.sku"], name=op.f("fk_inventory_reservations_sku_products")
        ),
        sa.PrimaryKeyConstraint(
            "order_id", "warehouse_id", "sku", name=op.f("pk_inventory_reservations")
        ),
    )
    op.create_table(
        "consolidations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("lane_id", sa.String(64), nullable=False),
        sa.Column("departure_date", sa.Date(), nullable=False),
        sa.Column("master_waybill", sa.String(20), nullable=False),
        sa.Column("sscc", sa.String(18), nullable=False),
        sa.Column("max_kg", sa.Numeric(12, 3), nullable=False),
        sa.Column("max_cm3", sa.Numeric(16, 1), nullable=False),
        sa.Column("gross_kg", sa.Numeric(12, 3), nullable=False),
        sa.Column("volume_cm3", sa.Numeric(16, 1), nullable=False),
        sa.Column("parcels", sa.Integer(), nullable=False),
        sa.Column("fill_rate", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lane_id"], ["lanes.id"], name=op.f("fk_consolidations_lane_id_lanes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consolidations")),
        sa.UniqueConstraint("master_waybill", name=op.f("uq_consolidations_master_waybill")),
        sa.UniqueConstraint("sscc", name=op.f("uq_consolidations_sscc")),
    )
    op.create_table(
        "parcels",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("sscc", sa.String(18), nullable=False),
        sa.Column("tracking_no", sa.String(40), nullable=False),
        sa.Column("gross_kg", sa.Numeric(12, 3), nullable=False),
        sa.Column("volume_cm3", sa.Numeric(16, 1), nullable=False),
        sa.Column("warehouse_id", sa.String(64), nullable=False),
        sa.Column("lane_id", sa.String(64), nullable=True),
        sa.Column("departure_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consolidation_id", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_parcels_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_parcels_warehouse_id_warehouses")
        ),
        sa.ForeignKeyConstraint(["lane_id"], ["lanes.id"], name=op.f("fk_parcels_lane_id_lanes")),
        sa.ForeignKeyConstraint(
            ["consolidation_id"],
            ["consolidations.id"],
            name=op.f("fk_parcels_consolidation_id_consolidations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcels")),
        sa.UniqueConstraint("order_id", name=op.f("uq_parcels_order_id")),
        sa.UniqueConstraint("sscc", name=op.f("uq_parcels_sscc")),
        sa.UniqueConstraint("tracking_no", name=op.f("uq_parcels_tracking_no")),
    )
    op.create_index("ix_parcels_lane_departure", "parcels", ["lane_id", "departure_date"])


def downgrade() -> None:
    op.drop_index("ix_parcels_lane_departure", table_name="parcels")
    op.drop_table("parcels")
    op.drop_table("consolidations")
    op.drop_table("inventory_reservations")
    op.drop_index("ix_plan_assignments_plan", table_name="plan_assignments")
    op.drop_table("plan_assignments")
    op.drop_table("plan_runs")
