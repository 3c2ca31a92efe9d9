"""Foundation tables: the world (parties, products, warehouses, lanes, carriers, FX) and orders.

Money is stored as integer minor units next to its currency code; HS codes and postcodes as text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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
    UniqueConstraint,
)

from xborder.domain.orders import LINE_TEXT_LIMITS as _L
from xborder.domain.orders import ORDER_TEXT_LIMITS as _O
from xborder.store.metadata import metadata

worlds = Table(
    "worlds", metadata,
    Column("name", String(100), primary_key=True),
    Column("version", String(20), nullable=False),
    Column("valid_on", Date, nullable=False),
    Column("description", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
)  # fmt: skip

parties = Table(
    "parties", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("roles", String(200), nullable=False),  # comma-separated Role values, sorted
    Column("country", String(2), nullable=False),
    Column("customs_code", String(18)),
    Column("gln", String(13)),
)  # fmt: skip

fx_rates = Table(
    "fx_rates", metadata,
    Column("valid_from", Date, primary_key=True),
    Column("base", String(3), primary_key=True),
    Column("quote", String(3), primary_key=True),
    Column("rate", Numeric(24, 10), nullable=False),
    Column("source", Text, nullable=False),
)  # fmt: skip

hubs = Table(
    "hubs", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("locode", String(5)),
    Column("lat", Float),
    Column("lon", Float),
    Column("customs_office", String(4)),  # China customs office code (0015_ceb_facts)
)  # fmt: skip

products = Table(
    "products", metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(40), nullable=False),
    Column("hs_code", String(10), nullable=False),
    Column("origin", String(2), nullable=False),
    Column("seller_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("unit_value_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("net_weight_kg", Numeric(12, 4), nullable=False),
    Column("gross_weight_kg", Numeric(12, 4), nullable=False),
    Column("length_cm", Numeric(10, 2), nullable=False),
    Column("width_cm", Numeric(10, 2), nullable=False),
    Column("height_cm", Numeric(10, 2), nullable=False),
    Column("consumption_tax", Boolean, nullable=False, default=False),
)  # fmt: skip

warehouses = Table(
    "warehouses", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("locode", String(5)),
    Column("lat", Float),
    Column("lon", Float),
    Column("operator_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("hub_id", String(64), ForeignKey("hubs.id")),
    Column("capacity_units", BigInteger, nullable=False),
    Column("handling_minor", BigInteger, nullable=False),
    Column("handling_currency", String(3), nullable=False),
    Column("customs_mode", String(4)),
)  # fmt: skip

inventory = Table(
    "inventory", metadata,
    Column("warehouse_id", String(64), ForeignKey("warehouses.id"), primary_key=True),
    Column("sku", String(64), ForeignKey("products.sku"), primary_key=True),
    Column("on_hand", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False, default=0),
    CheckConstraint("on_hand >= 0", name="on_hand_nonneg"),
    CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within"),
)  # fmt: skip

lanes = Table(
    "lanes", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("carrier_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("origin_hub", String(64), ForeignKey("hubs.id"), nullable=False),
    Column("dest_country", String(2), nullable=False),
    Column("dest_hub", String(64), ForeignKey("hubs.id")),
    Column("per_kg_minor", BigInteger, nullable=False),
    Column("per_parcel_minor", BigInteger, nullable=False),
    Column("minimum_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("volumetric_divisor", Integer, nullable=False),
    Column("transit_mean_days", Float, nullable=False),
    Column("transit_p95_days", Float, nullable=False),
    Column("daily_capacity_kg", BigInteger, nullable=False),
    Column("departure_days", String(40), nullable=False),  # e.g. "Mon,Wed,Fri"
    Column("cutoff", String(5), nullable=False),
    Column("loss_rate", Float, nullable=False),
    Column("damage_rate", Float, nullable=False),
    Column("max_parcel_kg", Numeric(10, 3)),
    Column("source", Text, nullable=False),
)  # fmt: skip

last_mile = Table(
    "last_mile", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("carrier_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("country", String(2), nullable=False),
    Column("per_parcel_minor", BigInteger, nullable=False),
    Column("per_kg_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("transit_mean_days", Float, nullable=False),
    Column("transit_p95_days", Float, nullable=False),
    Column("on_time_rate", Float, nullable=False),
    Column("first_attempt_rate", Float, nullable=False),
    Column("damage_rate", Float, nullable=False),
    Column("loss_rate", Float, nullable=False),
    Column("source", Text, nullable=False),
)  # fmt: skip

orders = Table(
    "orders", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    Column("channel", String(_O["channel"]), nullable=False),
    Column("external_id", String(_O["external_id"]), nullable=False),
    Column("seller_id", String(_O["seller_id"]), nullable=False),
    Column("platform_id", String(_O["platform_id"])),
    Column("trade_mode", String(_O["trade_mode"]), nullable=False),
    Column("direction", String(_O["direction"]), nullable=False),
    Column("incoterm", String(_O["incoterm"]), nullable=False),
    Column("currency", String(_O["currency"]), nullable=False),
    Column("origin_country", String(_O["origin_country"]), nullable=False),
    Column("buyer_name", String(_O["buyer_name"]), nullable=False),
    Column("buyer_telephone", String(_O["buyer_telephone"]), nullable=False),
    Column("buyer_id_type", String(_O["buyer_id_type"])),
    Column("buyer_id_number", String(_O["buyer_id_number"])),
    Column("buyer_email", String(_O["buyer_email"])),
    Column("consignee_name", String(_O["consignee_name"]), nullable=False),
    Column("consignee_telephone", String(_O["consignee_telephone"]), nullable=False),
    Column("consignee_line1", String(_O["consignee_line1"]), nullable=False),
    Column("consignee_line2", String(_O["consignee_line2"])),
    Column("consignee_city", String(_O["consignee_city"]), nullable=False),
    Column("consignee_region", String(_O["consignee_region"])),
    Column("consignee_postcode", String(_O["consignee_postcode"]), nullable=False),
    Column("consignee_country", String(_O["consignee_country"]), nullable=False),
    Column("freight_minor", BigInteger, nullable=False),
    Column("insurance_minor", BigInteger, nullable=False),
    Column("discount_minor", BigInteger, nullable=False),
    Column("goods_minor", BigInteger, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("promised_by", Date, nullable=False),
    Column("status", String(20), nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_orders_channel_external_id"),
)  # fmt: skip
Index("ix_orders_status", orders.c.status)

order_lines = Table(
    "order_lines", metadata,
    Column("order_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("orders.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(_L["sku"]), nullable=False),
    Column("description", String(_L["description"]), nullable=False),
    Column("hs_code", String(_L["hs_code"]), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("origin_country", String(_L["origin_country"]), nullable=False),
)  # fmt: skip

payments = Table(
    "payments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("orders.id"),
           nullable=False),
    Column("provider", String(64), nullable=False),
    Column("transaction_id", String(100), nullable=False),
    Column("payer_name", String(200), nullable=False),
    Column("payer_id_number", String(60)),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("provider", "transaction_id", name="uq_payments_provider_transaction_id"),
)  # fmt: skip
Index("ix_payments_order_id", payments.c.order_id)
