"""foundation: world, orders, payments

Revision ID: 0001_foundation
Revises: (none)
Create Date: 2026-11-24 18:54:02.449839
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_foundation"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Order ids are allocated in blocks from a sequence (SQLite: max(id) under BEGIN IMMEDIATE).
        op.execute("CREATE SEQUENCE orders_id_seq")
    op.create_table(
        "fx_rates",
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=24, scale=10), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("valid_from", "base", "quote", name=op.f("pk_fx_rates")),
    )
    op.create_table(
        "hubs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("locode", sa.String(length=5), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hubs")),
    )
    op.create_table(
        "orders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=60), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=True),
        sa.Column("trade_mode", sa.String(length=3), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("incoterm", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("origin_country", sa.String(length=2), nullable=False),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("buyer_telephone", sa.String(length=50), nullable=False),
        sa.Column("buyer_id_type", sa.String(length=2), nullable=True),
        sa.Column("buyer_id_number", sa.String(length=60), nullable=True),
        sa.Column("buyer_email", sa.String(length=200), nullable=True),
        sa.Column("consignee_name", sa.String(length=200), nullable=False),
        sa.Column("consignee_telephone", sa.String(length=50), nullable=False),
        sa.Column("consignee_line1", sa.String(length=300), nullable=False),
        sa.Column("consignee_line2", sa.String(length=300), nullable=True),
        sa.Column("consignee_city", sa.String(length=100), nullable=False),
        sa.Column("consignee_region", sa.String(length=100), nullable=True),
        sa.Column("consignee_postcode", sa.String(length=20), nullable=False),
        sa.Column("consignee_country", sa.String(length=2), nullable=False),
        sa.Column("freight_minor", sa.BigInteger(), nullable=False),
        sa.Column("insurance_minor", sa.BigInteger(), nullable=False),
        sa.Column("discount_minor", sa.BigInteger(), nullable=False),
        sa.Column("goods_minor", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promised_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("channel", "external_id", name="uq_orders_channel_external_id"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_status", ["status"], unique=False)

    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("customs_code", sa.String(length=18), nullable=True),
        sa.Column("gln", sa.String(length=13), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
    )
    op.create_table(
        "worlds",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("valid_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worlds")),
    )
    op.create_table(
        "lanes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("carrier_id", sa.String(length=64), nullable=False),
        sa.Column("origin_hub", sa.String(length=64), nullable=False),
        sa.Column("dest_country", sa.String(length=2), nullable=False),
        sa.Column("dest_hub", sa.String(length=64), nullable=True),
        sa.Column("per_kg_minor", sa.BigInteger(), nullable=False),
        sa.Column("per_parcel_minor", sa.BigInteger(), nullable=False),
        sa.Column("minimum_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("volumetric_divisor", sa.Integer(), nullable=False),
        sa.Column("transit_mean_days", sa.Float(), nullable=False),
        sa.Column("transit_p95_days", sa.Float(), nullable=False),
        sa.Column("daily_capacity_kg", sa.BigInteger(), nullable=False),
        sa.Column("departure_days", sa.String(length=40), nullable=False),
        sa.Column("cutoff", sa.String(length=5), nullable=False),
        sa.Column("loss_rate", sa.Float(), nullable=False),
        sa.Column("damage_rate", sa.Float(), nullable=False),
        sa.Column("max_parcel_kg", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["parties.id"], name=op.f("fk_lanes_carrier_id_parties")
        ),
        sa.ForeignKeyConstraint(["dest_hub"], ["hubs.id"], name=op.f("fk_lanes_dest_hub_hubs")),
        sa.ForeignKeyConstraint(["origin_hub"], ["hubs.id"], name=op.f("fk_lanes_origin_hub_hubs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lanes")),
    )
    op.create_table(
        "last_mile",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("carrier_id", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("per_parcel_minor", sa.BigInteger(), nullable=False),
        sa.Column("per_kg_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("transit_mean_days", sa.Float(), nullable=False),
        sa.Column("transit_p95_days", sa.Float(), nullable=False),
        sa.Column("on_time_rate", sa.Float(), nullable=False),
        sa.Column("first_attempt_rate", sa.Float(), nullable=False),
        sa.Column("damage_rate", sa.Float(), nullable=False),
        sa.Column("loss_rate", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["parties.id"], name=op.f("fk_last_mile_carrier_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_last_mile")),
    )
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("hs_code", sa.String(length=10), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("origin_country", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_lines")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=100), nullable=False),
        sa.Column("payer_name", sa.String(length=200), nullable=False),
        sa.Column("payer_id_number", sa.String(length=60), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payments_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "provider", "transaction_id", name="uq_payments_provider_transaction_id"
        ),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_order_id", ["order_id"], unique=False)

    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("hs_code", sa.String(length=10), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("unit_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net_weight_kg", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("gross_weight_kg", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("length_cm", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("width_cm", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("height_cm", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("consumption_tax", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["parties.id"], name=op.f("fk_products_seller_id_parties")
        ),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_products")),
    )
    op.create_table(
        "warehouses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("locode", sa.String(length=5), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("hub_id", sa.String(length=64), nullable=True),
        sa.Column("capacity_units", sa.BigInteger(), nullable=False),
        sa.Column("handling_minor", sa.BigInteger(), nullable=False),
        sa.Column("handling_currency", sa.String(length=3), nullable=False),
        sa.Column("customs_mode", sa.String(length=4), nullable=True),
        sa.ForeignKeyConstraint(["hub_id"], ["hubs.id"], name=op.f("fk_warehouses_hub_id_hubs")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["parties.id"], name=op.f("fk_warehouses_operator_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses")),
    )
    op.create_table(
        "inventory",
        sa.Column("warehouse_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_inventory_on_hand_nonneg")),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= on_hand", name=op.f("ck_inventory_reserved_within")
        ),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"], name=op.f("fk_inventory_sku_products")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_inventory_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("warehouse_id", "sku", name=op.f("pk_inventory")),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE orders_id_seq")
    op.drop_table("inventory")
    op.drop_table("warehouses")
    op.drop_table("products")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_order_id")

    op.drop_table("payments")
    op.drop_table("order_lines")
    op.drop_table("last_mile")
    op.drop_table("lanes")
    op.drop_table("worlds")
    op.drop_table("parties")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status")

    op.drop_table("orders")
    op.drop_table("hubs")
    op.drop_table("fx_rates")
