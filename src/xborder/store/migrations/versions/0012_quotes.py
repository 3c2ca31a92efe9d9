"""quotes kept and reconciled: the quote each declaration used, and what was assessed

``customs_quotes``: one row per declaration, the quote as it was used (components in the tax
currency, the rules with their versions, measure and fee ids, the tariff data's SHA-256, the FX
rate and its date, whether it was an estimate). ``customs_assessments``: the duties, taxes and
fees customs (a CEB816 tax receipt) or the carrier's invoice reported for a declaration, once per
(declaration, source, reference). ``customs_declarations.invt_no``: customs' list number from the
CEB622 receipt, which is how a CEB816 tax receipt names the declaration.

Revision ID: 0012_quotes
Revises: 0011_ledger_guard
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_quotes"
down_revision: str | Sequence[str] | None = "0011_ledger_guard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COMPONENTS = ("duty_minor", "additional_duty_minor", "vat_minor", "consumption_tax_minor",
               "fees_minor")  # fmt: skip


def upgrade() -> None:
    op.add_column("customs_declarations", sa.Column("invt_no", sa.String(18), nullable=True))
    op.create_index("ix_customs_declarations_invt_no", "customs_declarations", ["invt_no"])
    op.create_table(
        "customs_quotes",
        sa.Column("declaration_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("quoted_on", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COMPONENTS),
        sa.Column("total_tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("landed_minor", sa.BigInteger(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("measure_ids", sa.Text(), nullable=False),
        sa.Column("fee_ids", sa.Text(), nullable=False),
        sa.Column("tariff_version", sa.String(64), nullable=False),
        sa.Column("fx_rate", sa.Numeric(24, 12), nullable=True),
        sa.Column("fx_date", sa.Date(), nullable=True),
        sa.Column("estimate", sa.Boolean(), nullable=False),
        sa.Column("quoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["customs_declarations.id"],
            name=op.f("fk_customs_quotes_declaration_id_customs_declarations"),
        ),
        sa.PrimaryKeyConstraint("declaration_id", name=op.f("pk_customs_quotes")),
    )
    op.create_index("ix_customs_quotes_order_id", "customs_quotes", ["order_id"])
    op.create_table(
        "customs_assessments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("declaration_id", _ID, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COMPONENTS),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('customs', 'carrier')", name=op.f("ck_customs_assessments_source_known")
        ),
        sa.CheckConstraint("total_minor >= 0", name=op.f("ck_customs_assessments_total_nonneg")),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["customs_declarations.id"],
            name=op.f("fk_customs_assessments_declaration_id_customs_declarations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_assessments")),
        sa.UniqueConstraint(
            "declaration_id",
            "source",
            "reference",
            name=op.f("uq_customs_assessments_declaration_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("customs_assessments")
    op.drop_index("ix_customs_quotes_order_id", "customs_quotes")
    op.drop_table("customs_quotes")
    op.drop_index("ix_customs_declarations_invt_no", "customs_declarations")
    with op.batch_alter_table("customs_declarations") as batch:
        batch.drop_column("invt_no")
