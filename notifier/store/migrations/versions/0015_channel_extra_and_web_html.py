"""channel_health.extra (what a channel learnt of its server); bodies.web_html (a digest's
whole text when its email shows only the headlines of the last updates)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_health", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extra", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("bodies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("web_html", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bodies", schema=None) as batch_op:
        batch_op.drop_column("web_html")
    with op.batch_alter_table("channel_health", schema=None) as batch_op:
        batch_op.drop_column("extra")
