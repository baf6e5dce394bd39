"""bodies: which updates each digest body holds

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 04:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "body_updates",
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("body_id", "update_id", name=op.f("pk_body_updates")),
    )
    op.create_index("ix_body_updates_update", "body_updates", ["update_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_body_updates_update", table_name="body_updates")
    op.drop_table("body_updates")
