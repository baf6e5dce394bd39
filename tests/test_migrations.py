"""The migrations build exactly the schema the models describe, and run down and up again."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from notifier.config import Settings
from notifier.store.engine import create_engine
from notifier.store.migrate import alembic_config, upgrade
from notifier.store.models import Base, dialect_only


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "include_object": dialect_only(connection.dialect.name)},
    )
    return list(compare_metadata(context, Base.metadata))


def _down_to_base(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "base")


@pytest.mark.empty_database
async def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        before, after = await upgrade(engine)
        assert before is None
        assert after is not None
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
        assert await upgrade(engine) == (after, after)  # a second upgrade does nothing
        async with engine.begin() as conn:
            await conn.run_sync(_down_to_base)
        assert await upgrade(engine) == (None, after)
    finally:
        await engine.dispose()
