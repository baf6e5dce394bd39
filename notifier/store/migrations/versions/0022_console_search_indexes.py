"""outbox: indexes for the console's pages (a subscriber's messages, by date, the failed ones)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in models.py at this revision (a migration keeps its own copy).
FAILED_SQL = "status = 'failed'"


def upgrade() -> None:
    op.create_index("ix_outbox_subscriber", "outbox", ["subscriber_id", "id"])
    op.create_index("ix_outbox_created", "outbox", ["created_at", "id"])
    op.create_index(
        "ix_outbox_failed",
        "outbox",
        ["created_at", "id"],
        sqlite_where=sa.text(FAILED_SQL),
        postgresql_where=sa.text(FAILED_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_failed", table_name="outbox")
    op.drop_index("ix_outbox_created", table_name="outbox")
    op.drop_index("ix_outbox_subscriber", table_name="outbox")
