"""subscribers: trigram indexes (pg_trgm) on email and name for the console's text search,
PostgreSQL only

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 12:00:00.000000
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("notifier.store.migrations")

COLUMNS = ("email", "name")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite scans its subscribers for a search (under budget at 100,000)
    try:
        with bind.begin_nested():  # a savepoint: a refusal leaves the migration going
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning(
            "subscriber search: no trigram indexes, the pg_trgm extension could not be "
            "created (%s); a text search reads every subscriber (still correct). To add "
            "them, a superuser runs CREATE EXTENSION pg_trgm in this database and then the "
            "two CREATE INDEX ... USING gin (email|name gin_trgm_ops) of migration 0024.",
            str(exc.orig).splitlines()[0] if exc.orig else exc,
        )
        return
    for column in COLUMNS:
        op.create_index(
            f"ix_subscribers_{column}_trgm",
            "subscribers",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    # The extension stays: something else in the database may use it.
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_subscribers_{column}_trgm")
