"""list_chats.locale: the language a Telegram group reads its prayer chain's digest and the
bot's replies in (set from the admin who subscribes it, changed with /language)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every group subscribed before languages read English: 'en'.
    with op.batch_alter_table("list_chats") as batch:
        batch.add_column(
            sa.Column("locale", sa.String(length=20), server_default="en", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("list_chats") as batch:
        batch.drop_column("locale")
