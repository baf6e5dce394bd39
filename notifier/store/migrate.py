"""Run the Alembic migrations shipped in the package over an async engine."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.errors import StoreNotFound
from notifier.store.engine import store_location

SCRIPT_LOCATION = "notifier.store:migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # env.py uses this connection instead of opening its own.
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _current(connection: Connection) -> tuple[str | None, str | None]:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return MigrationContext.configure(connection).get_current_revision(), head


#: Advisory lock id held while migrating on PostgreSQL, so processes started together (run,
#: workers, the CLI) migrate one after another instead of racing to create the same tables.
MIGRATION_LOCK = 0x6E6F746D6967


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, create: bool = True
) -> tuple[str | None, str | None]:
    """Upgrade the schema; returns (revision before, revision after). Without `create`, a
    database without notifier's schema is StoreNotFound instead of being given one."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})
        before, _ = await conn.run_sync(_current)
        if before is None and not create:
            raise StoreNotFound(store_location(engine.url), "it holds no notifier schema")
        if before != revision:
            await conn.run_sync(_upgrade, revision)
        after, _ = await conn.run_sync(_current)
    return before, after
