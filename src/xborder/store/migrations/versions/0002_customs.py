"""customs: declarations, status history, buyers' annual CBEC totals, match results

Revision ID: 0002_customs
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_customs"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customs_declarations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("order_no", sa.String(60), nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("regime", sa.String(2), nullable=False),
        sa.Column("destination", sa.String(2), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("customs_mode", sa.String(8), nullable=True),
        sa.Column("buyer_id", sa.String(60), nullable=True),
        sa.Column("declared_on", sa.Date(), nullable=False),
        sa.Column("tax_currency", sa.String(3), nullable=False),
        sa.Column("customs_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("duty_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_minor", sa.BigInteger(), nullable=False),
        sa.Column("consumption_tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("fees_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("landed_minor", sa.BigInteger(), nullable=False),
        sa.Column("counted_minor", sa.BigInteger(), nullable=False),
        sa.Column("incoterm", sa.String(3), nullable=False),
        sa.Column("tax_payer", sa.String(6), nullable=False),
        sa.Column("collected_at", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("released_on", sa.Date(), nullable=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "total_tax_minor >= 0", name=op.f("ck_customs_declarations_total_tax_nonneg")
        ),
        sa.CheckConstraint(
            "counted_minor >= 0", name=op.f("ck_customs_declarations_counted_nonneg")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_declarations")),
        sa.UniqueConstraint("order_no", name=op.f("uq_customs_declarations_order_no")),
    )
    op.create_index("ix_customs_declarations_buyer_id", "customs_declarations", ["buyer_id"])
    op.create_index("ix_customs_declarations_order_id", "customs_declarations", ["order_id"])
    op.create_table(
        "customs_declaration_events",
        sa.Column("declaration_id", _ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(4), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["customs_declarations.id"],
            name=op.f("fk_customs_declaration_events_declaration_id_customs_declarations"),
        ),
        sa.PrimaryKeyConstraint(
            "declaration_id", "seq", name=op.f("pk_customs_declaration_events")
        ),
    )
    op.create_table(
        "customs_buyer_annual",
        sa.Column("buyer_id", sa.String(60), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.CheckConstraint("total_minor >= 0", name=op.f("ck_customs_buyer_annual_total_nonneg")),
        sa.PrimaryKeyConstraint("buyer_id", "year", name=op.f("pk_customs_buyer_annual")),
    )
    op.create_table(
        "customs_match_results",
        sa.Column("order_no", sa.String(60), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("order_no", name=op.f("pk_customs_match_results")),
    )


def downgrade() -> None:
    op.drop_table("customs_match_results")
    op.drop_table("customs_buyer_annual")
    op.drop_table("customs_declaration_events")
    op.drop_index("ix_customs_declarations_order_id", table_name="customs_declarations")
    op.drop_index("ix_customs_declarations_buyer_id", table_name="customs_declarations")
    op.drop_table("customs_declarations")
