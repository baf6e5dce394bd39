"""mailing_lists.origin: whether a list's settings are kept in its file or in the console

Revision ID: 0025
Revises: 0020
Create Date: 2026-12-02 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
# Merging: the numbers between (0021-0024) belong to other branches; point this at the last
# of them that lands before it.
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every list before the console came from a list file (`lists apply`): 'file'.
    with op.batch_alter_table("mailing_lists", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "origin",
                sa.Enum(
                    "file",
                    "console",
                    name="list_origin",
                    native_enum=False,
                    create_constraint=True,
                    length=40,
                ),
                server_default="file",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("mailing_lists", schema=None) as batch_op:
        # The CHECK goes first: SQLite's copy of the table would keep it, naming a column
        # that is gone.
        batch_op.drop_constraint("list_origin", type_="check")
        batch_op.drop_column("origin")
