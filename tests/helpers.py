"""What many test files share: the constants they name the sample data by, the CLI runner, the
steps that fill a store (sample cases, example lists, subscribers, news) and the ways of reading
what came out (the Maildir, the outbox, HTML as text). Kept in one place so that a fixed helper
is fixed for every test, and no test file imports from another. Fixtures live in conftest.py;
the render samples (no store at all) in render_samples.py."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner, Result

from notifier import app as tasks
from notifier.cli import app
from notifier.config import Settings
from notifier.domain import Cadence, Channel, Role, Scope, Severity
from notifier.domain.actors import Actor
from notifier.domain.case_specs import CaseSpec
from notifier.domain.schedule import Schedule, last_due
from notifier.domain.subscriber_specs import FollowSpec, SubscriberSpec
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.ingest.list_files import load_list_files
from notifier.service import Pipeline, pipeline
from notifier.store import users as stored_users
from notifier.store.cases import add_update, get_case, import_cases
from notifier.store.engine import open_store
from notifier.store.lists import apply_lists
from notifier.store.models import MailingList, OutboxMessage, Subscriber, Subscription
from notifier.store.subscribers import add_follows, get_subscriber, import_subscribers
from notifier.watch import watch_once
from tests.fake_telegram import FakeBotApi
from tests.smtp_server import SmtpServer

# --- names of the sample data -------------------------------------------------------------------

#: The repository: the example list files, the sample cases and the migrations are below it.
ROOT = Path(__file__).resolve().parent.parent
#: The example list files (subscribers/*.yaml), what `notifier lists apply` is given.
EXAMPLE_LISTS = ROOT / "subscribers"
#: The slug of the example list, the Kazakhstan prayer chain.
CHAIN = "kazakhstan-prayer-chain"
#: The slug of the sample case most tests add news to.
PASTOR = "bakhytzhan-kashkumbayev"
#: Kazakhstan followed by email: each update as it comes, or in the weekly digest.
KZ = FollowSpec(Scope.COUNTRY, "KZ", Cadence.INSTANT, Channel.EMAIL)
WEEKLY_KZ = FollowSpec(Scope.COUNTRY, "KZ", Cadence.WEEKLY, Channel.EMAIL)
#: The admin API's bearer token in the `api` fixture, and the header that carries it.
TOKEN = "admin-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: What the `api`, `web` and `site` fixtures give: the pipeline and an httpx client of its app.
AppClient = tuple[Pipeline, httpx.AsyncClient]


# --- the store and the CLI ----------------------------------------------------------------------


async def new_store(settings: Settings) -> None:
    """Create the store the settings name (what `notifier init` does): nothing else creates one."""
    async with open_store(settings, create=True):
        pass


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


# --- settings for a channel ---------------------------------------------------------------------


def smtp_settings(
    settings: Settings, server: SmtpServer, scheme: str = "smtp", **more: object
) -> Settings:
    """The settings with email going to this test SMTP server (`scheme` smtps for implicit
    TLS), from the network's address, with links on a public URL; `more` overrides any."""
    url = f"{scheme}://{server.host}:{server.port}"
    return settings.model_copy(
        update={
            "smtp_url": SecretStr(url),
            "smtp_timeout": 5.0,
            "mail_from": "Prayer network <news@example.org>",
            "public_url": "https://notifier.example.org",
            **more,
        }
    )


def with_bot(settings: Settings, api: FakeBotApi) -> Settings:
    """The settings with Telegram going to this fake Bot API."""
    return settings.model_copy(
        update={"telegram_bot_token": SecretStr(api.token), "telegram_api_url": api.base_url}
    )


@dataclass(frozen=True)
class DkimKey:
    """A DKIM private key file and the DNS TXT record of its public key, published (for
    dkimpy's `dnsfunc`) as selector n2026 of example.org."""

    file: Path
    record: bytes
    selector: str = "n2026"
    domain: str = "example.org"

    def signing(self, settings: Settings) -> Settings:
        """The settings with email signed with this key."""
        return settings.model_copy(
            update={
                "dkim_selector": self.selector,
                "dkim_domain": self.domain,
                "dkim_private_key_file": self.file,
            }
        )

    def dns(self, name: bytes, timeout: int = 5) -> bytes:
        """The TXT record a verifier looks up; the signature must name this very key."""
        assert name == f"{self.selector}._domainkey.{self.domain}.".encode()
        return self.record


# --- filling the store --------------------------------------------------------------------------


@cache
def sample_cases() -> tuple[CaseSpec, ...]:
    """The sample case files, read once a process (every test that seeds a store imports them;
    import_cases reads the specs and changes none)."""
    return tuple(load_case_files(sample_case_files()))


async def seed(p: Pipeline, *, with_list: bool = True) -> None:
    """The sample cases and (`with_list`) the example lists, as `cases import --sample` and
    `lists apply subscribers/` give them."""
    async with p.store.transaction() as session:
        await import_cases(session, list(sample_cases()))
        if with_list:
            await apply_lists(session, load_list_files([EXAMPLE_LISTS]), p.settings)


async def seed_email_followers(p: Pipeline, people: list[tuple[str, str]]) -> None:
    """The sample cases, and one subscriber per (email, name) following Kazakhstan by email,
    each update as it comes."""
    async with p.store.transaction() as session:
        await import_cases(session, list(sample_cases()))
        specs = [SubscriberSpec(where="t", email=e, name=n, follows=[KZ]) for e, n in people]
        await import_subscribers(session, specs, p.settings)


async def seed_telegram_followers(p: Pipeline, chats: list[int]) -> None:
    """The sample cases, and one Telegram-only subscriber per chat following Kazakhstan."""
    async with p.store.transaction() as session:
        await import_cases(session, list(sample_cases()))
        for chat in chats:
            session.add(
                Subscriber(
                    telegram_chat_id=chat,
                    name=f"Chat {chat}",
                    subscriptions=[
                        Subscription(
                            scope=Scope.COUNTRY,
                            country="KZ",
                            target="country:KZ",
                            cadence=Cadence.INSTANT,
                            channel=Channel.TELEGRAM,
                        )
                    ],
                )
            )


async def subscribe(
    p: Pipeline, email: str, *follows: FollowSpec, name: str = "", chat: int | None = None
) -> None:
    """One subscriber, as `subscribers add` makes one, with these follows."""
    async with p.store.transaction() as session:
        spec = SubscriberSpec(where="test", email=email, name=name, telegram_chat_id=chat)
        await import_subscribers(session, [spec], p.settings)
        await add_follows(session, await get_subscriber(session, email), follows)


async def new_update(
    p: Pipeline,
    case: str = "kashkumbaev",
    *,
    title: str = "Appeal hearing set",
    urgent: bool = False,
) -> int:
    """A new update of the case, not yet matched to its followers; its id."""
    async with p.store.transaction() as session:
        found = await get_case(session, case)
        row, created = await add_update(
            session,
            found,
            day=date(2024, 5, 1),
            title=title,
            body="The appeal will be heard on 3 May.\n\nPlease pray for a fair hearing.",
            source_name="Open Doors",
            source_url="https://example.org/news",
            severity=Severity.URGENT if urgent else Severity.NORMAL,
        )
        assert created
        return row.id


async def news(
    p: Pipeline,
    title: str = "Appeal court upholds the sentence",
    body: str = "The court upheld it.",
) -> None:
    """A new update of Kashkumbaev's case, matched at once: its messages wait in the outbox."""
    async with p.store.transaction() as session:
        case = await get_case(session, "kashkumbaev")
        await add_update(
            session, case, day=date(2024, 5, 1), title=title, body=body,
            source_name="Forum 18", source_url="https://www.forum18.org/", severity=Severity.NORMAL,
        )  # fmt: skip
    await watch_once(p.store)


async def deliver(settings: Settings) -> None:
    """What `notifier run` does with new updates: match them, then deliver."""
    async with pipeline(settings) as p:
        await watch_once(p.store)
        await p.deliverer.drain()


# --- reading what came out ----------------------------------------------------------------------


async def outbox_rows(p: Pipeline) -> list[OutboxMessage]:
    """Every outbox row, oldest first."""
    async with p.store.read() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def maildir(settings: Settings) -> list[EmailMessage]:
    """Every message in the Maildir, parsed as a mail client would (headers decoded)."""
    if not settings.mail_dir.exists():
        return []
    box = mailbox.Maildir(str(settings.mail_dir), factory=None, create=False)
    parsed = []
    for key in box.iterkeys():
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        parsed.append(message)
    return parsed


def text_of(message: EmailMessage) -> str:
    """The text/plain part of an email, decoded."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


class _Text(HTMLParser):
    """Text content of HTML: tags dropped, entities resolved (independent of the renderer)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(markup: str) -> tuple[str, list[str]]:
    """The text a reader sees in this HTML (white space folded), and the links' targets."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return " ".join("".join(parser.parts).split()), parser.hrefs


#: The sign-up forms' CSRF token, as the page holds it.
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def form(client: httpx.AsyncClient, path: str = "/subscribe") -> str:
    """Open a page with a form; the CSRF token to post it with."""
    page = await client.get(path)
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


# --- when the digest planner runs ---------------------------------------------------------------

DAILY = Schedule(time(7, 0))
WEEKLY = Schedule(time(7, 0), 0)


def next_due(schedule: Schedule, after: datetime, zone: str = "UTC") -> datetime:
    """A minute after the schedule's next due time after `after`, when the planner runs."""
    span = timedelta(days=1 if schedule.weekday is None else 7)
    return last_due(schedule, zone, after + span) + timedelta(minutes=1)


def next_daily(after: datetime) -> datetime:
    """When the planner runs for the next daily digest (07:00) after `after`."""
    return next_due(DAILY, after)


def next_weekly(after: datetime, zone: str = "UTC") -> datetime:
    """When the planner runs for the next weekly digest (Monday 07:00) after `after`."""
    return next_due(WEEKLY, after, zone)


# --- the console ------------------------------------------------------------------------------

#: Console accounts the console tests sign in as: (email, role, lists); every password is
#: CONSOLE_PASSWORD.
CONSOLE_USERS = (
    ("owner@example.org", "owner", ()),
    ("editor@example.org", "editor", ()),
    ("coordinator@example.org", "coordinator", ("kazakhstan-prayer-chain",)),
)
CONSOLE_PASSWORD = "correct horse battery staple"


@cache
def console_password_hash() -> str:
    """CONSOLE_PASSWORD's Argon2 hash, made once (a hash costs tens of milliseconds on purpose)."""
    return stored_users.password_hash(CONSOLE_PASSWORD)


async def add_console_users(p: Pipeline) -> None:
    """The three CONSOLE_USERS (the example list must be in the store: `seed`)."""
    async with p.store.transaction() as session:
        lists = {m.slug: m for m in await session.scalars(select(MailingList))}
        for email, role, slugs in CONSOLE_USERS:
            user = await stored_users.add_user(
                session, email, Role(role), [lists[s] for s in slugs], where="test"
            )
            user.password_hash = console_password_hash()


#: A list made in the console (its settings edited there), run by no coordinator of
#: CONSOLE_USERS: what `add_other_list` makes.
OTHER_LIST_SPEC: dict[str, object] = {
    "slug": "central-asia-weekly",
    "name": "Central Asia weekly",
    "description": "Each Friday: news of Christians imprisoned in Central Asia.",
    "follows": ["country=KZ"],
    "cadence": "weekly",
    "schedule": "fri 18:00",
    "time_zone": "Asia/Almaty",
    "channels": ["email"],
    "protect_content": False,
}


async def add_other_list(p: Pipeline) -> None:
    """OTHER_LIST_SPEC's list, made as the console makes one (an owner, through the app)."""
    await tasks.save_list(p.store, p.settings, Actor.cli("tests"), OTHER_LIST_SPEC)


async def console_sign_in(
    client: httpx.AsyncClient, email: str, password: str = CONSOLE_PASSWORD
) -> httpx.Response:
    """Sign in through the console's form (its form token first); the answer to the POST."""
    token = await form(client, "/admin/login")
    return await client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf": token, "next": "/admin"},
    )


async def console_form(client: httpx.AsyncClient, path: str) -> str:
    """The session's form token, as a console page holds it."""
    return await form(client, path)
