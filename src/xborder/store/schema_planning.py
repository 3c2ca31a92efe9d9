"""Planning tables: plan runs, assignments, inventory reservations, parcels and consolidations.

Reservations are the ledger behind ``inventory.reserved`` (the foundation's column with its
CHECK reserved <= on_hand): re-planning an order deletes its rows and gives the units back.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)

from xborder.store.metadata import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

plan_runs = Table(
    "plan_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("method", String(20), nullable=False),
    Column("orders", Integer, nullable=False),
    Column("assigned", Integer, nullable=False),
    Column("cost_minor", BigInteger, nullable=False),
    Column("lower_bound_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("gap", Float, nullable=False),
    Column("seconds", Float, nullable=False),
)

plan_assignments = Table(
    "plan_assignments",
    metadata,
    Column("order_id", _ID, ForeignKey("orders.id"), primary_key=True),
    Column("plan_id", Integer, ForeignKey("plan_runs.id"), nullable=False),
    Column("warehouse_id", String(64), ForeignKey("warehouses.id")),  # null: unassigned
    Column("lane_id", String(64), ForeignKey("lanes.id")),  # null: in-country or unassigned
    Column("last_mile_id", String(64), ForeignKey("last_mile.id")),
    Column("customs_mode", String(4)),
    Column("departure_date", Date),
    Column("cost_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", Text),
    Column("prior_status", String(20), nullable=False),  # restored when re-planning releases it
)
Index("ix_plan_assignments_plan", plan_assignments.c.plan_id)

inventory_reservations = Table(
    "inventory_reservations",
    metadata,
    Column("order_id", _ID, ForeignKey("orders.id"), primary_key=True),
    Column("warehouse_id", String(64), ForeignKey("warehouses.id"), primary_key=True),
    Column("sku", String(64), ForeignKey("products.sku"), primary_key=True),
    Column("qty", BigInteger, nullable=False),
)

consolidations = Table(
    "consolidations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(12), nullable=False),
    Column("lane_id", String(64), ForeignKey("lanes.id"), nullable=False),
    Column("departure_date", Date, nullable=False),
    Column("master_waybill", String(20), nullable=False, unique=True),
    Column("sscc", String(18), nullable=False, unique=True),
    Column("max_kg", Numeric(12, 3), nullable=False),
    Column("max_cm3", Numeric(16, 1), nullable=False),
    Column("gross_kg", Numeric(12, 3), nullable=False),
    Column("volume_cm3", Numeric(16, 1), nullable=False),
    Column("parcels", Integer, nullable=False),
    Column("fill_rate", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # added by 0006_lifecycle: the bag's last step, and when it was opened at destination
    Column("status", String(20)),
    Column("status_at", DateTime(timezone=True)),
    Column("opened_at", DateTime(timezone=True)),
)

parcels = Table(
    "parcels",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", _ID, ForeignKey("orders.id"), nullable=False, unique=True),
    Column("sscc", String(18), nullable=False, unique=True),
    Column("tracking_no", String(40), nullable=False, unique=True),
    Column("gross_kg", Numeric(12, 3), nullable=False),
    Column("volume_cm3", Numeric(16, 1), nullable=False),
    Column("warehouse_id", String(64), ForeignKey("warehouses.id"), nullable=False),
    Column("lane_id", String(64), ForeignKey("lanes.id")),
    Column("departure_date", Date),
    Column("status", String(20), nullable=False),  # a domain.lifecycle.ParcelStatus
    Column("consolidation_id", String(40), ForeignKey("consolidations.id")),
    # added by 0006_lifecycle: the milestones settlement pays on, and where the parcel goes
    Column("last_mile_id", String(64)),
    Column("destination_country", String(2)),
    Column("destination_postcode", String(20)),
    Column("promised_by", Date),
    Column("packed_at", DateTime(timezone=True)),
    Column("departed_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("status_at", DateTime(timezone=True)),
    Column("declared", Boolean),  # its order has a customs declaration: it clears import
)
Index("ix_parcels_lane_departure", parcels.c.lane_id, parcels.c.departure_date)
Index("ix_parcels_status", parcels.c.status)
Index("ix_parcels_consolidation_id", parcels.c.consolidation_id)

# Stock on its way to a warehouse (an advance shipping notice): announced when the seller orders
# it, received into ``inventory.on_hand`` when it arrives. ``ref`` makes both steps idempotent.
inbound_shipments = Table(
    "inbound_shipments",
    metadata,
    Column("ref", String(64), primary_key=True),
    Column("warehouse_id", String(64), ForeignKey("warehouses.id"), nullable=False),
    Column("sku", String(64), ForeignKey("products.sku"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("announced_at", DateTime(timezone=True), nullable=False),
    Column("expected_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=True),
    Index("ix_inbound_shipments_open", "received_at", "expected_at"),
)
