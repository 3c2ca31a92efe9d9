"""Customs tables: declarations with status history, buyers' annual CBEC totals, match results.

Money is integer minor units next to its currency; the annual CBEC total is in CNY fen.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from xborder.store.metadata import metadata

_ID = BigInteger().with_variant(Integer(), "sqlite")

customs_declarations = Table(
    "customs_declarations",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("order_no", String(60), nullable=False, unique=True),
    Column("order_id", _ID, nullable=True),
    Column("regime", String(2), nullable=False),
    Column("destination", String(2), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("customs_mode", String(8), nullable=True),
    Column("buyer_id", String(60), nullable=True),
    Column("declared_on", Date, nullable=False),
    Column("tax_currency", String(3), nullable=False),
    Column("customs_value_minor", BigInteger, nullable=False),
    Column("duty_minor", BigInteger, nullable=False),
    Column("vat_minor", BigInteger, nullable=False),
    Column("consumption_tax_minor", BigInteger, nullable=False),
    Column("fees_minor", BigInteger, nullable=False),
    Column("total_tax_minor", BigInteger, nullable=False),
    Column("landed_minor", BigInteger, nullable=False),
    Column("counted_minor", BigInteger, nullable=False),
    Column("incoterm", String(3), nullable=False),
    Column("tax_payer", String(6), nullable=False),
    Column("collected_at", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("released_on", Date, nullable=True),
    Column("rules", Text, nullable=False),
    CheckConstraint("total_tax_minor >= 0", name="total_tax_nonneg"),
    CheckConstraint("counted_minor >= 0", name="counted_nonneg"),
)
Index("ix_customs_declarations_buyer_id", customs_declarations.c.buyer_id)
Index("ix_customs_declarations_order_id", customs_declarations.c.order_id)

customs_declaration_events = Table(
    "customs_declaration_events",
    metadata,
    Column("declaration_id", _ID, ForeignKey("customs_declarations.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("code", String(4), nullable=True),
    Column("status", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False),
)

customs_buyer_annual = Table(
    "customs_buyer_annual",
    metadata,
    Column("buyer_id", String(60), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("total_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("orders", Integer, nullable=False),
    CheckConstraint("total_minor >= 0", name="total_nonneg"),
)

customs_match_results = Table(
    "customs_match_results",
    metadata,
    Column("order_no", String(60), primary_key=True),
    Column("status", String(12), nullable=False),
    Column("problems", Text, nullable=False),
    Column("checked_on", Date, nullable=False),
)
