"""Fixtures: a fresh store on SQLite and (when NOTIFIER_TEST_DATABASE_URL is set) PostgreSQL,
settings built for the test, and a CLI runner that goes through the real `notifier` command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner, Result

from notifier.cli import app
from notifier.config import Settings
from notifier.store.engine import Store, create_engine, open_store
from notifier.store.migrate import alembic_config, upgrade
from notifier.store.models import Base
from tests.fake_telegram import fake_bot_api  # noqa: F401
from tests.smtp_server import smtp_server, tls_ca  # noqa: F401

PG_ENV = "NOTIFIER_TEST_DATABASE_URL"
# python-telegram-bot 22: RetryAfter.retry_after as a timedelta, without a deprecation warning
# (which, under filterwarnings=error, would replace the RetryAfter itself).
os.environ.setdefault("PTB_TIMEDELTA", "1")
ROOT = Path(__file__).resolve().parent.parent


def _reset_postgres(url: str) -> None:
    """Give the test an empty database: drop and recreate the public schema."""

    async def go() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    asyncio.run(go())


def _migrate(url: str) -> None:
    async def go() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())


def _empty_postgres_tables(url: str) -> None:
    """Every table of the migrated schema emptied, ids starting at 1 again: a fresh store in a
    few milliseconds instead of migrating from nothing for each test. A schema that is not at
    the head revision (a migration test left it elsewhere, or failed halfway) is rebuilt."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)

    async def go() -> bool:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                version = await conn.scalar(text("SELECT max(version_num) FROM alembic_version"))
                if version != head:
                    return False
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                return True
        except DBAPIError:
            return False
        finally:
            await engine.dispose()

    if not asyncio.run(go()):
        _reset_postgres(url)
        _migrate(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated once per test process; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "notifier.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")  # everything in the one file, to copy
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A database of this test run's own on the server named by NOTIFIER_TEST_DATABASE_URL, so
    test runs that share the server do not disturb each other. Dropped at the end."""
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    base = make_url(Settings(database_url=url).database_url)
    name = f"notifier_test_{os.getpid()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(
            host=base.host,
            port=base.port or 5432,
            user=base.username,
            password=base.password,
            database=base.database,
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_database: str | None,
    sqlite_template: Path,
) -> str:
    """Each test that uses the store runs on SQLite and on PostgreSQL, on an empty store at the
    latest schema (tests marked `empty_database` get no schema at all)."""
    empty = request.node.get_closest_marker("empty_database") is not None
    if request.param == "sqlite":
        path = tmp_path / "notifier.db"
        if not empty:
            shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    if postgres_database is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/test)")
    if empty:
        _reset_postgres(postgres_database)
    else:
        _empty_postgres_tables(postgres_database)
    return postgres_database


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url)


async def new_store(settings: Settings) -> None:
    """Create the store the settings name (what `notifier init` does): nothing else creates one."""
    async with open_store(settings, create=True):
        pass


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings) as opened:
        yield opened


def settings_env(settings: Settings) -> dict[str, str]:
    """The NOTIFIER_* variables that give a process these settings."""
    env = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"NOTIFIER_{name.upper()}"] = str(value)
    return env


@dataclass
class Cli:
    """Runs `notifier …` in-process with the test's settings in the environment."""

    settings: Settings
    cwd: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        env = {"NOTIFIER_CONFIG": ""} | settings_env(self.settings)
        runner = CliRunner()
        old = Path.cwd()
        os.chdir(self.cwd)
        try:
            return runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)
        finally:
            os.chdir(old)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
        return result


@pytest.fixture
def cli(settings: Settings, tmp_path: Path) -> Cli:
    return Cli(settings, tmp_path)
