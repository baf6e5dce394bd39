"""Open the store: an async engine tuned for SQLite or PostgreSQL, migrated to the latest schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from notifier.config import Settings
from notifier.store import cadence_changes  # noqa: F401  (registers its flush event)

#: Execution option marking a connection that only reads (SQLite then begins DEFERRED).
READ_ONLY = "notifier_read_only"

#: How long a writer waits for another process's write to finish before giving up (ms).
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL and a busy timeout so run, CLI and web can share one file; BEGIN IMMEDIATE so a
    transaction that will write takes the write lock up front instead of failing midway."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers (Store.read) must not take the write lock, or every poll would block writers.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(database_url: str) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


@dataclass
class Store:
    """The engine and a session factory; every repository function takes a session from here."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    readers: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only: on SQLite it takes no write lock (polls, listings)."""
        async with self.readers() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def open_store(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Store]:
    """Open the store named by the settings, bringing its schema up to date first."""
    engine = create_engine(settings.database_url)
    store = Store(
        engine,
        async_sessionmaker(engine, expire_on_commit=False),
        async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False),
    )
    try:
        if migrate:
            from notifier.store.migrate import upgrade

            await upgrade(engine)
        yield store
    finally:
        await store.close()
