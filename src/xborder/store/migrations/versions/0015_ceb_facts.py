"""CEB facts: the China customs office of a hub

``hubs.customs_office``: the customs office (JGS/T 18 customs area code, 4 characters) that
accepts the CBEC import lists of goods entering China at the hub or leaving a bonded zone at it.
A CEB621 list's customsCode and portCode are that office of the order's entry hub (the bonded
warehouse's hub, or the import lane's destination hub); without it the list is refused naming
customsCode, never written with a guessed office.

Revision ID: 0015_ceb_facts
Revises: 0013_partitions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_ceb_facts"
down_revision: str | Sequence[str] | None = "0013_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("hubs", sa.Column("customs_office", sa.String(4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hubs") as batch:
        batch.drop_column("customs_office")
