"""outbox: the due index by channel, for per-channel delivery lanes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 03:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain DDL (SQLite has DROP and CREATE INDEX): no batch copy of a large outbox table.
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index(
        "ix_outbox_due_by_channel", "outbox", ["status", "channel", "next_attempt_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_due_by_channel", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"], unique=False)
