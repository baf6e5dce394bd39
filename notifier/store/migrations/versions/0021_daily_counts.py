"""daily counts: what happened each day (messages sent / failed per channel, subscribers joined /
left / bounced), kept by triggers in the transaction of each change, for the console's dashboard

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 10:30:00.000000

Triggers, not application code: a status changes in a dozen places (delivery's fast path, the
bounce processor, the bot, the preference page, the CLI…), and a counter that one of them
forgot would be wrong for good. The database counts every change wherever it comes from, in
the same transaction. On SQLite a row trigger (filtered by its WHEN, so a claim or a retry
costs nothing); on PostgreSQL one statement trigger over the statement's changed rows, so a
batch of messages recorded as sent adds to its counter once, not once per message.

Existing history is counted as well as it can be: sent messages by their `sent_at`; failures
and subscribers' changes before this revision have no date, so they start at zero.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UPSERT = (
    "ON CONFLICT (day, metric, channel) DO UPDATE SET count = daily_counts.count + excluded.count"
)

SQLITE = [
    f"""
    CREATE TRIGGER tr_outbox_daily_counts AFTER UPDATE OF status ON outbox
    WHEN NEW.status IN ('sent', 'failed') AND OLD.status <> NEW.status
    BEGIN
        INSERT INTO daily_counts (day, metric, channel, count)
        VALUES (
            CASE WHEN NEW.status = 'sent' AND NEW.sent_at IS NOT NULL
                 THEN date(NEW.sent_at) ELSE date('now') END,
            NEW.status, NEW.channel, 1
        )
        {_SQLITE_UPSERT};
    END
    """,
    f"""
    CREATE TRIGGER tr_subscribers_added_daily_counts AFTER INSERT ON subscribers
    WHEN NEW.status = 'active'
    BEGIN
        INSERT INTO daily_counts (day, metric, channel, count)
        VALUES (date('now'), 'joined', '', 1)
        {_SQLITE_UPSERT};
    END
    """,
    f"""
    CREATE TRIGGER tr_subscribers_status_daily_counts AFTER UPDATE OF status ON subscribers
    WHEN NEW.status IN ('active', 'unsubscribed', 'bounced') AND OLD.status <> NEW.status
    BEGIN
        INSERT INTO daily_counts (day, metric, channel, count)
        VALUES (
            date('now'),
            CASE NEW.status WHEN 'active' THEN 'joined' WHEN 'unsubscribed' THEN 'left'
                 ELSE 'bounced' END,
            '', 1
        )
        {_SQLITE_UPSERT};
    END
    """,
]

_PG_UPSERT = (
    "ON CONFLICT (day, metric, channel) DO UPDATE SET count = daily_counts.count + EXCLUDED.count"
)
_PG_TODAY = "(now() AT TIME ZONE 'UTC')::date"

POSTGRESQL = [
    f"""
    CREATE FUNCTION outbox_daily_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO daily_counts (day, metric, channel, count)
        SELECT CASE WHEN n.status = 'sent' AND n.sent_at IS NOT NULL
                    THEN (n.sent_at AT TIME ZONE 'UTC')::date ELSE {_PG_TODAY} END,
               n.status, n.channel, count(*)
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status IN ('sent', 'failed') AND o.status <> n.status
        GROUP BY 1, 2, 3
        {_PG_UPSERT};
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tr_outbox_daily_counts AFTER UPDATE ON outbox
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_daily_counts()
    """,
    # Statement triggers here too: a per-row one would update the one counter row once per
    # subscriber of a bulk import, each update a new row version to walk past (measured: an
    # import of 50,000 went from seconds to minutes).
    f"""
    CREATE FUNCTION subscribers_added_daily_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO daily_counts (day, metric, channel, count)
        SELECT {_PG_TODAY}, 'joined', '', count(*) FROM new_rows WHERE status = 'active'
        HAVING count(*) > 0
        {_PG_UPSERT};
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tr_subscribers_added_daily_counts AFTER INSERT ON subscribers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION subscribers_added_daily_counts()
    """,
    f"""
    CREATE FUNCTION subscribers_status_daily_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO daily_counts (day, metric, channel, count)
        SELECT {_PG_TODAY},
               CASE n.status WHEN 'active' THEN 'joined' WHEN 'unsubscribed' THEN 'left'
                    ELSE 'bounced' END,
               '', count(*)
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status IN ('active', 'unsubscribed', 'bounced') AND o.status <> n.status
        GROUP BY 2
        {_PG_UPSERT};
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tr_subscribers_status_daily_counts AFTER UPDATE ON subscribers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION subscribers_status_daily_counts()
    """,
]


def upgrade() -> None:
    op.create_table(
        "daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "metric", "channel", name=op.f("pk_daily_counts")),
    )
    op.create_index("ix_list_members_joined", "list_members", ["list_id", "joined_at"])
    op.create_index("ix_list_departures_left", "list_departures", ["list_id", "left_at"])
    blocked = sa.text("telegram_blocked_at IS NOT NULL")
    op.create_index(
        "ix_subscribers_telegram_blocked",
        "subscribers",
        ["telegram_blocked_at"],
        sqlite_where=blocked,
        postgresql_where=blocked,
    )
    dialect = op.get_bind().dialect.name
    for statement in SQLITE if dialect == "sqlite" else POSTGRESQL:
        op.execute(statement)
    # The sent messages still in the outbox, by the day they went.
    day = "date(sent_at)" if dialect == "sqlite" else "(sent_at AT TIME ZONE 'UTC')::date"
    op.execute(
        f"INSERT INTO daily_counts (day, metric, channel, count) "
        f"SELECT {day}, 'sent', channel, count(*) FROM outbox "
        f"WHERE status = 'sent' AND sent_at IS NOT NULL GROUP BY 1, 3"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(
        "DROP TRIGGER IF EXISTS tr_subscribers_status_daily_counts" + _on(dialect, "subscribers")
    )
    op.execute(
        "DROP TRIGGER IF EXISTS tr_subscribers_added_daily_counts" + _on(dialect, "subscribers")
    )
    op.execute("DROP TRIGGER IF EXISTS tr_outbox_daily_counts" + _on(dialect, "outbox"))
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS subscribers_status_daily_counts()")
        op.execute("DROP FUNCTION IF EXISTS subscribers_added_daily_counts()")
        op.execute("DROP FUNCTION IF EXISTS outbox_daily_counts()")
    op.drop_index("ix_subscribers_telegram_blocked", table_name="subscribers")
    op.drop_index("ix_list_departures_left", table_name="list_departures")
    op.drop_index("ix_list_members_joined", table_name="list_members")
    op.drop_table("daily_counts")


def _on(dialect: str, table: str) -> str:
    return f" ON {table}" if dialect == "postgresql" else ""
