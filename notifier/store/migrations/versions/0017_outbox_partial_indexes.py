"""outbox: partial indexes of the rows that can be due (waiting, claimed) instead of one
index of every row by status

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in models.py at this revision (a migration keeps its own copy).
WAITING_SQL = "status IN ('pending', 'retry')"
IN_FLIGHT_SQL = "status = 'sending'"


def upgrade() -> None:
    op.drop_index("ix_outbox_due_by_channel", table_name="outbox")
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["channel", "next_attempt_at"],
        sqlite_where=sa.text(WAITING_SQL),
        postgresql_where=sa.text(WAITING_SQL),
    )
    op.create_index(
        "ix_outbox_in_flight",
        "outbox",
        ["lease_until"],
        sqlite_where=sa.text(IN_FLIGHT_SQL),
        postgresql_where=sa.text(IN_FLIGHT_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_in_flight", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due_by_channel", "outbox", ["status", "channel", "next_attempt_at"])
