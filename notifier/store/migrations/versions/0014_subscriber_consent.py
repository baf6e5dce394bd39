"""subscribers: when and how each one said yes (the consent record)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Subscribers from before have no record: none is made up for them.
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "consent",
                sa.Enum(
                    "signup",
                    "telegram",
                    "preferences",
                    "cli",
                    "api",
                    "import",
                    "list_file",
                    name="consent",
                    native_enum=False,
                    create_constraint=True,
                    length=40,
                ),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        # The CHECK (ck_subscribers_consent) goes first: SQLite's copy of the table would keep
        # it, naming a column that is gone.
        batch_op.drop_constraint("consent", type_="check")
        batch_op.drop_column("consent")
        batch_op.drop_column("confirmed_at")
