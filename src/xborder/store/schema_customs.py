"""Customs tables: declarations with status history, buyers' annual CBEC totals, match results,
the quote each declaration used (with the versions of the rules and data behind it) and the
duties and taxes customs or the carrier assessed afterwards (migration 0012_quotes).

Money is integer minor units next to its currency; the annual CBEC total is in CNY fen.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
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
    Column("invt_no", String(18), nullable=True),  # customs' list number (CEB622), for CEB816
    CheckConstraint("total_tax_minor >= 0", name="total_tax_nonneg"),
    CheckConstraint("counted_minor >= 0", name="counted_nonneg"),
)
Index("ix_customs_declarations_buyer_id", customs_declarations.c.buyer_id)
Index("ix_customs_declarations_order_id", customs_declarations.c.order_id)
Index("ix_customs_declarations_invt_no", customs_declarations.c.invt_no)

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

# The quote a declaration used, kept as it was: components in the tax currency, the rules with
# their versions (``rules``: JSON list of {"id", "kind", "valid_from"}), the measure and fee ids
# (comma-joined, "" for none), the tariff data's SHA-256, the FX rate and the date it is dated,
# and whether it was an estimate (not every line's duty from an exact national tariff line).
customs_quotes = Table(
    "customs_quotes",
    metadata,
    Column("declaration_id", _ID, ForeignKey("customs_declarations.id"), primary_key=True),
    Column("order_id", _ID, nullable=True),
    Column("quoted_on", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("duty_minor", BigInteger, nullable=False),
    Column("additional_duty_minor", BigInteger, nullable=False),
    Column("vat_minor", BigInteger, nullable=False),
    Column("consumption_tax_minor", BigInteger, nullable=False),
    Column("fees_minor", BigInteger, nullable=False),
    Column("total_tax_minor", BigInteger, nullable=False),
    Column("landed_minor", BigInteger, nullable=False),
    Column("rules", Text, nullable=False),
    Column("measure_ids", Text, nullable=False),
    Column("fee_ids", Text, nullable=False),
    Column("tariff_version", String(64), nullable=False),
    Column("fx_rate", Numeric(24, 12), nullable=True),
    Column("fx_date", Date, nullable=True),
    Column("estimate", Boolean, nullable=False),
    Column("quoted_at", DateTime(timezone=True), nullable=False),
)
Index("ix_customs_quotes_order_id", customs_quotes.c.order_id)

# What customs (a CEB816 tax receipt, a release) or the carrier's invoice says was assessed for a
# declaration; one row per (declaration, source, reference): recording it again changes nothing.
customs_assessments = Table(
    "customs_assessments",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("declaration_id", _ID, ForeignKey("customs_declarations.id"), nullable=False),
    Column("source", String(8), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("duty_minor", BigInteger, nullable=False),
    Column("additional_duty_minor", BigInteger, nullable=False),
    Column("vat_minor", BigInteger, nullable=False),
    Column("consumption_tax_minor", BigInteger, nullable=False),
    Column("fees_minor", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("source IN ('customs', 'carrier')", name="source_known"),
    CheckConstraint("total_minor >= 0", name="total_nonneg"),
    UniqueConstraint("declaration_id", "source", "reference"),
)
