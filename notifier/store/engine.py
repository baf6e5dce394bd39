"""Open the store: an async engine tuned for SQLite or PostgreSQL, migrated to the latest schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import SingletonThreadPool

from notifier.config import Settings
from notifier.store import cadence_changes  # noqa: F401  (registers its flush event)

#: Execution option marking a connection that only reads (SQLite then begins DEFERRED).
READ_ONLY = "notifier_read_only"

#: How long a writer waits for another process's write to finish before giving up (ms).
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _tune_sqlite(engine: AsyncEngine | Engine) -> None:
    """WAL and a busy timeout so run, CLI and web can share one file; BEGIN IMMEDIATE so a
    transaction that will write takes the write lock up front instead of failing midway."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
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


class QuickWriter:
    """One statement in a transaction of its own, as cheaply as the database allows: for the
    delivery results recorded many times a second. On SQLite a plain sqlite3 connection in a
    thread of its own (a tenth of aiosqlite's cost per transaction, measured); on PostgreSQL
    the async engine's connection without an ORM session."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if engine.dialect.name == "sqlite":
            url = engine.url.set(drivername="sqlite")
            self._sync = create_sync_engine(url, poolclass=SingletonThreadPool, pool_size=1)
            _tune_sqlite(self._sync)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quick-writer")

    def _run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        assert self._sync is not None
        with self._sync.begin() as conn:
            return int(getattr(conn.execute(statement, params), "rowcount", 0) or 0)

    async def execute(self, statement: Executable, params: Mapping[str, Any]) -> int:
        """Run it with these parameters and commit; returns the rows it touched."""
        if self._sync is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, self._run, statement, params)
        async with self.engine.begin() as conn:
            return int(getattr(await conn.execute(statement, params), "rowcount", 0) or 0)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.submit(self._dispose).result()
            self._thread.shutdown()

    def _dispose(self) -> None:
        if self._sync is not None:
            self._sync.dispose()


@dataclass
class Store:
    """The engine and a session factory; every repository function takes a session from here."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    readers: async_sessionmaker[AsyncSession]
    quick: QuickWriter

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
        self.quick.close()
        await self.engine.dispose()


@asynccontextmanager
async def open_store(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Store]:
    """Open the store named by the settings, bringing its schema up to date first."""
    engine = create_engine(settings.database_url)
    store = Store(
        engine,
        async_sessionmaker(engine, expire_on_commit=False),
        async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False),
        QuickWriter(engine),
    )
    try:
        if migrate:
            from notifier.store.migrate import upgrade

            await upgrade(engine)
        yield store
    finally:
        await store.close()
