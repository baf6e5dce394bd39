"""Fixtures: a fresh store on SQLite and (when NOTIFIER_TEST_DATABASE_URL is set) PostgreSQL,
settings built for the test, a CLI runner that goes through the real `notifier` command, the
app with a client (`api`, `web`, `site`) and a DKIM key. Plain helpers are in helpers.py."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from notifier.config import Settings
from notifier.domain.subscriber_specs import SubscriberSpec
from notifier.service import pipeline
from notifier.store import users as stored_users
from notifier.store.cases import import_cases
from notifier.store.engine import Store, create_engine, open_store
from notifier.store.migrate import alembic_config, upgrade
from notifier.store.models import Base, Subscriber
from notifier.store.subscribers import import_subscribers
from notifier.web.app import create_app
from tests.fake_telegram import fake_bot_api  # noqa: F401
from tests.helpers import KZ, TOKEN, AppClient, Cli, DkimKey, sample_cases, seed
from tests.smtp_server import SmtpServer, smtp_server, tls_ca  # noqa: F401

PG_ENV = "NOTIFIER_TEST_DATABASE_URL"
# python-telegram-bot 22: RetryAfter.retry_after as a timedelta, without a deprecation warning
# (which, under filterwarnings=error, would replace the RetryAfter itself).
os.environ.setdefault("PTB_TIMEDELTA", "1")


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


@functools.cache
def _head_revision() -> str | None:
    """The migrations' head (Alembic loads every migration file to say it: once a process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _empty_postgres_tables(url: str) -> None:
    """Every table of the migrated schema emptied, ids starting at 1 again: a fresh store in a
    few milliseconds instead of migrating from nothing for each test. A schema that is not at
    the head revision (a migration test left it elsewhere, or failed halfway) is rebuilt."""
    head = _head_revision()
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


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashes() -> Iterator[PasswordHasher]:
    """Argon2id with its lightest parameters for the tests' passwords: the defaults cost a
    fifth of a second a hash, on purpose, and the console's tests sign in hundreds of times.
    What is tested is unchanged: the same algorithm, hashes and checks (a hash carries its own
    parameters); tests/test_users.py checks what a real installation stores."""
    kept = stored_users.HASHER
    stored_users.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield kept
    stored_users.HASHER = kept


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


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings) as opened:
        yield opened


@pytest.fixture
def cli(settings: Settings, tmp_path: Path) -> Cli:
    return Cli(settings, tmp_path)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[AppClient]:
    """The app with an API token (send AUTH), the sample cases and lists, and a client for it."""
    configured = settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    async with pipeline(configured) as p:
        await seed(p)
        transport = httpx.ASGITransport(app=create_app(configured, p.store))
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            yield p, client


@pytest.fixture
async def web(settings: Settings) -> AsyncIterator[AppClient]:
    """The app on the sample cases and one subscriber, anna@example.org (id 1), following
    Kazakhstan; a client for it at the public URL. (test_preferences has a `web` of its own.)"""
    async with pipeline(settings) as p:
        async with p.store.transaction() as session:
            await import_cases(session, list(sample_cases()))
            specs = [SubscriberSpec(where="t", email="anna@example.org", follows=[KZ])]
            await import_subscribers(session, specs, settings)
            # Links here are signed for version 1 (a new subscriber's is random).
            await session.execute(update(Subscriber).values(token_version=1))
        app = create_app(settings, p.store, scheduler_alive=lambda: True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            yield p, client


@pytest.fixture
async def site(
    settings: Settings,
    smtp_server: SmtpServer,  # noqa: F811  (the fixture, imported above)
) -> AsyncIterator[AppClient]:
    """The app sending its email to the test SMTP server, on the sample cases and lists; a
    client for it at the public URL (sign-up pages want `form`'s CSRF token)."""
    configured = settings.model_copy(
        update={"smtp_url": SecretStr(f"smtp://{smtp_server.host}:{smtp_server.port}")}
    )
    async with pipeline(configured) as p:
        await seed(p)
        transport = httpx.ASGITransport(app=create_app(configured, p.store))
        async with httpx.AsyncClient(transport=transport, base_url=configured.public_url) as c:
            yield p, c


@pytest.fixture
def dkim_key(tmp_path: Path) -> DkimKey:
    """A new DKIM key (2048-bit RSA) in a file, and the DNS record of its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(key_file, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))
