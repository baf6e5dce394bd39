"""Open the store: an async engine tuned for SQLite or PostgreSQL, migrated to the latest schema."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection, SingletonThreadPool
from sqlalchemy.sql.dml import UpdateBase

from notifier.config import Settings
from notifier.errors import StoreNotFound, StoreUnavailable
from notifier.store.cadence_changes import carry_cursors
from notifier.store.revisions import latest_revision

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


#: PostgreSQL's SQLSTATE for "database does not exist".
_NO_SUCH_DATABASE = "3D000"


def store_location(database_url: str | URL) -> str:
    """Where a store is, for people: the SQLite file, or the server's URL without the password."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def sqlite_file(database_url: str | URL) -> Path | None:
    """The file of a SQLite store; None for PostgreSQL or an in-memory database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def create_engine(database_url: str) -> AsyncEngine:
    """An engine for the URL. It creates nothing: a SQLite file appears only when connecting,
    which `open_store` does only for a file that exists or when asked to create the store."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


class StoreSession(Session):
    """The store's sessions. Before each flush, a follow that changed cadence (or a new one) has
    its digest cursor set where its news stopped (store/cadence_changes.py): whichever path
    changed it, the preference page, the bot or an import."""


event.listen(StoreSession, "before_flush", carry_cursors)


class QuickWriter:
    """One statement in a transaction of its own, as cheaply as the database allows: for the
    delivery results recorded many times a second.

    On SQLite, written from the event loop itself when the write lock is free that instant, on a
    plain sqlite3 connection (the statement compiled by SQLAlchemy once, run by the driver: a
    write of a few rows then costs a tenth of a transaction through an Engine). Handing it to a
    thread costs more than the write: on a busy loop the thread waits for the GIL (measured:
    1.5 ms on average, 20 ms at worst). When another connection holds the lock, a second
    connection in a thread of its own waits for it, so the loop never does. On PostgreSQL, the
    async engine's connection without an ORM session."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Engine | None = None
        self._now: Engine | None = None
        self._driver: PoolProxiedConnection | None = None
        self._compiled: dict[UpdateBase, _OnDriver] = {}
        self._thread: ThreadPoolExecutor | None = None
        #: Transactions it has committed (each one write of a group of results).
        self.writes = 0
        if engine.dialect.name == "sqlite":
            url = engine.url.set(drivername="sqlite")
            self._sync = create_sync_engine(url, poolclass=SingletonThreadPool, pool_size=1)
            _tune_sqlite(self._sync)
            self._now = create_sync_engine(url, poolclass=SingletonThreadPool, pool_size=1)
            _tune_sqlite(self._now)
            event.listen(self._now, "connect", _never_wait)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quick-writer")

    @staticmethod
    def _run(engine: Engine, statement: UpdateBase, params: Mapping[str, Any]) -> int:
        with engine.begin() as conn:
            return int(getattr(conn.execute(statement, params), "rowcount", 0) or 0)

    def _run_now(self, statement: UpdateBase, params: Mapping[str, Any]) -> int | None:
        """On the loop's own connection if the lock is free; None if another connection holds
        it."""
        assert self._now is not None
        if self._driver is None:
            self._driver = self._now.raw_connection()
        db = cast(sqlite3.Connection, self._driver.driver_connection)
        on_driver = self._compiled.get(statement)
        if on_driver is None:
            on_driver = self._compiled[statement] = _OnDriver(statement, self._now.dialect)
        sql, values = on_driver.bind(params)
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise
        try:
            touched = db.execute(sql, values).rowcount
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.rollback()
            raise
        return touched

    async def execute(self, statement: UpdateBase, params: Mapping[str, Any]) -> int:
        """Run it with these parameters and commit; returns the rows it touched."""
        if self._sync is not None:
            touched = self._run_now(statement, params)
            if touched is None:
                loop = asyncio.get_running_loop()
                touched = await loop.run_in_executor(
                    self._thread, self._run, self._sync, statement, params
                )
        else:
            async with self.engine.begin() as conn:
                result = await conn.execute(statement, params)
                touched = int(getattr(result, "rowcount", 0) or 0)
        self.writes += 1
        return touched

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None
        if self._now is not None:
            self._now.dispose()
        if self._thread is not None:
            self._thread.submit(self._dispose).result()
            self._thread.shutdown()

    def _dispose(self) -> None:
        if self._sync is not None:
            self._sync.dispose()


class _OnDriver:
    """A statement for a DBAPI driver: compiled by SQLAlchemy once; per call, its SQL for these
    parameters (an IN of n values has n placeholders) and the values as its column types store
    them."""

    def __init__(self, statement: UpdateBase, dialect: Dialect) -> None:
        self.compiled = statement.compile(dialect=dialect)
        self.dialect = dialect
        self._processors: dict[str, Callable[[Any], Any] | None] = {}

    def _processor(self, name: str) -> Callable[[Any], Any] | None:
        if name not in self._processors:
            bound = self.compiled.binds[name]
            self._processors[name] = bound.type.bind_processor(self.dialect)
        return self._processors[name]

    def bind(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        state = self.compiled.construct_expanded_state(dict(params))
        owner = {e: name for name, expanded in state.parameter_expansion.items() for e in expanded}
        values = []
        for name, value in zip(state.positiontup or (), state.positional_parameters, strict=True):
            process = self._processor(owner.get(name, name))
            values.append(value if process is None or value is None else process(value))
        return state.statement, values


def _never_wait(dbapi_connection: Any, _record: Any) -> None:
    """The event loop's own connection: a write finds the lock free or fails at once (and goes
    to the thread), and leaves checkpoints (which sync the file) to the other connections."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


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

    @property
    def location(self) -> str:
        """The SQLite file, or the server's URL without the password."""
        return store_location(self.engine.url)

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
async def open_store(
    settings: Settings, *, migrate: bool = True, create: bool = False
) -> AsyncIterator[Store]:
    """Open the store named by the settings, bringing its schema up to date first. A store that
    does not exist (no SQLite file, no database, or a database without notifier's schema) is
    StoreNotFound unless `create` (`notifier init`): a command run from the wrong folder must
    not quietly start an empty store there."""
    location = store_location(settings.database_url)
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        if not create:
            raise StoreNotFound(location, "the file does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    store = Store(
        engine,
        async_sessionmaker(engine, expire_on_commit=False, sync_session_class=StoreSession),
        async_sessionmaker(
            engine.execution_options(**{READ_ONLY: True}),
            expire_on_commit=False,
            sync_session_class=StoreSession,
        ),
        QuickWriter(engine),
    )
    try:
        if migrate:
            await migrate_schema(engine, create=create)
        yield store
    finally:
        await store.close()


async def stored_revisions(engine: AsyncEngine) -> list[str]:
    """The schema revisions the store records ([] for a database without notifier's schema)."""
    async with engine.connect() as conn:
        reader = await conn.execution_options(**{READ_ONLY: True})
        try:
            rows = await reader.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no such table: a new database, or not notifier's
            return []
        return sorted(row[0] for row in rows)


async def migrate_schema(engine: AsyncEngine, *, create: bool) -> tuple[str | None, str | None]:
    """Bring the schema to the latest revision: (revision before, after). A database the server
    does not have, or without notifier's schema (unless `create`), is StoreNotFound; a server
    that cannot be reached is StoreUnavailable, each naming the store."""
    location = store_location(engine.url)
    try:
        head = latest_revision()
        if head is not None and await stored_revisions(engine) == [head]:
            return head, head  # up to date: no need to load Alembic
        from notifier.store.migrate import upgrade  # Alembic loads only when there is work

        return await upgrade(engine, create=create)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == _NO_SUCH_DATABASE:
            raise StoreNotFound(location, "the server has no such database") from None
        raise
    except OSError as exc:  # refused, unknown host, unreachable network
        raise StoreUnavailable(f"cannot reach the store at {location}: {exc}") from None
