"""mailing_lists.origin: whether a list's settings are kept in its file or in the console;
list_digests: each list digest as built (the console's archive), filled from the outbox

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
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
    op.create_table(
        "list_digests",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "email",
                "telegram",
                name="channel",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_lists.id"],
            name=op.f("fk_list_digests_list_id_mailing_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "period", "channel", name=op.f("pk_list_digests")),
    )
    # The digests the outbox still holds (a list digest's rows carry its list; the key ends
    # with the period, 17 characters: '2026-11-30T02:00Z'). Rows of a list since deleted are
    # left out.
    op.execute(
        "INSERT INTO list_digests (list_id, period, channel, body_id, recipients, queued_at) "
        "SELECT o.list_id, substr(o.key, length(o.key) - 16), o.channel, min(o.body_id), "
        "count(*), min(o.created_at) FROM outbox o "
        "JOIN mailing_lists m ON m.id = o.list_id "
        "WHERE o.kind = 'digest' AND o.body_id IS NOT NULL AND o.key LIKE 'digest:list:%' "
        "GROUP BY o.list_id, o.key, o.channel"
    )


def downgrade() -> None:
    op.drop_table("list_digests")
    with op.batch_alter_table("mailing_lists", schema=None) as batch_op:
        # The CHECK goes first: SQLite's copy of the table would keep it, naming a column
        # that is gone.
        batch_op.drop_constraint("list_origin", type_="check")
        batch_op.drop_column("origin")
