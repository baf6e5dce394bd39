"""Benchmark: the console's pages, server time, at the size of a large network.

    python -m bench.console [--subscribers 100000] [--messages 1000000] [--runs 30]
                            [--pages TEXT...]

Builds a store with `--subscribers` subscribers (spread over 50 countries and 2,000 cases,
four statuses, 20 lists, 1–3 follows each; 2% of the Telegram chats blocked the bot) and
`--messages` outbox rows (both channels, alerts, digests and confirmations, over 60 days: sent,
failed and suppressed, and the last day's waiting, retrying and in-flight few), and the daily
counts that history would have left. The fill is bulk (executemany on SQLite, COPY on
PostgreSQL) and its time is printed.

A SQLite store is cached under `--cache-dir` (default `~/.cache/notifier-bench`), keyed by the
schema revision, the sizes and the seed: a rerun copies it instead of filling again (`--fresh`
fills anyway). A PostgreSQL database (`--database-url`, a database of its own: see README) is
filled when empty, reused when it already holds exactly these sizes, refused otherwise unless
`--reset`.

Then each named page in PAGES runs `--runs` times (after two untimed runs): p50 and p95 of
its server time, and each p50 over the baseline's (a trivial query through the same store, in
the same run: machines are shared and noisy, so read the ratios). A page is an async callable
taking the Context (the store, the settings and, for pages measured through HTTP, a client of
the app over httpx.ASGITransport).

Every console GET page is measured through HTTP (CONSOLE: route, example address, who asks):
the app of notifier.web.app.create_app on the filled store, signed in through the login form
as an owner and as the coordinator of one list (both added to the store, with a few hundred
updates matching the outbox's alerts, when missing). Its time is the server's, taken around
the ASGI call (so not httpx's own work); the page's size is printed too. A console GET route
with no entry in CONSOLE is listed under `unmeasured`; an entry whose route the app does not
have (yet) under `not_in_app`.

Progress on stderr; one JSON line, last, on stdout."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from alembic.script import ScriptDirectory
from fastapi.routing import APIRoute
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import make_url

from bench.data import (
    COUNTRIES,
    Batch,
    ListSpec,
    Mix,
    Picker,
    Population,
    add_cases,
    add_lists,
    bulk_insert,
    dialect_of,
    empty_store,
    fix_sequences,
    generate,
    log,
    parse_count,
    peak_rss_mb,
    settings_for,
    settle,
    table_of,
    zipf_weights,
)
from notifier.app import dashboard
from notifier.config import Settings
from notifier.domain import Cadence, Channel, MessageKind, OutboxStatus, Scope, Severity
from notifier.domain.actors import Actor
from notifier.domain.vocabulary import Role, SubscriberStatus
from notifier.store import users as stored_users
from notifier.store.engine import Store, open_store
from notifier.store.migrate import alembic_config
from notifier.store.models import (
    DailyCount,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    Subscription,
    Update,
    User,
)
from notifier.web import console
from notifier.web.app import create_app

#: The goal of issue 12, on the reference machine (for reading: nothing here gates on time).
GOAL_MS = 200
DAYS = 60
LISTS = 20
CASES = 2000
OWNER = Actor.cli("bench")


#: The console's users the bench signs in as (added to the filled store when missing).
OWNER_EMAIL = "owner@example.org"
COORDINATOR_EMAIL = "coordinator@example.org"
PASSWORD = "bench console password, long enough"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ServerClock:
    """An ASGI app around another, timing each call from its start to its last byte sent:
    the server's time for a request, without the client's."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0
        #: For an answer sent in pieces (a download): the time to its first piece; else None.
        self.first_piece: float | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start = time.perf_counter()
        first: list[float] = []

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.body" and not first:
                first.append(time.perf_counter() - start)
                self.first_piece = first[0] if message.get("more_body") else None
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.last = time.perf_counter() - start


@dataclass(frozen=True)
class Served:
    """A page answered through HTTP: the server's time and the body's size."""

    seconds: float
    size: int
    #: An answer sent in pieces: the time to its first piece.
    first_piece: float | None = None


@dataclass
class Context:
    """What a page is measured with."""

    store: Store
    settings: Settings
    #: A client of the web app (httpx over ASGITransport), signed in as the owner, for pages
    #: measured through HTTP; `clients` has it and the coordinator's by role.
    client: httpx.AsyncClient | None
    coordinator: Actor
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    clock: ServerClock | None = None
    #: Addresses' parts that exist in the filled data (a case, an update, a subscriber...).
    examples: dict[str, str] = field(default_factory=dict)


Page = Callable[[Context], Awaitable[object]]


async def _baseline(ctx: Context) -> object:
    async with ctx.store.read() as session:
        return await session.scalar(text("SELECT 1"))


async def _dashboard_owner(ctx: Context) -> object:
    return await dashboard(ctx.store, ctx.settings, OWNER)


async def _dashboard_coordinator(ctx: Context) -> object:
    return await dashboard(ctx.store, ctx.settings, ctx.coordinator)


@dataclass(frozen=True)
class ConsolePage:
    """A console GET page to measure: its route as the app declares it, an address of it
    (`{name}` parts filled from Context.examples), and who asks ("owner" or "coordinator")."""

    name: str
    route: str
    path: str
    who: str = "owner"


#: Every console GET page, with addresses that exist in the filled data. Routes of sections
#: still to come are listed too: they are measured once the app has them.
CONSOLE: tuple[ConsolePage, ...] = (
    ConsolePage("GET /admin/dashboard (owner)", "/admin/dashboard", "/admin/dashboard"),
    ConsolePage(
        "GET /admin/dashboard (coordinator)", "/admin/dashboard", "/admin/dashboard",
        "coordinator",
    ),
    ConsolePage("GET /admin/cases", "/admin/cases", "/admin/cases"),
    ConsolePage("GET /admin/cases?q= (a surname)", "/admin/cases", "/admin/cases?q={surname}"),
    ConsolePage(
        "GET /admin/cases?country=&status=", "/admin/cases",
        "/admin/cases?country=KZ&status={case_status}",
    ),
    ConsolePage("GET /admin/cases?q= (no match)", "/admin/cases", "/admin/cases?q=zzyzx"),
    ConsolePage("GET /admin/cases/{slug}", "/admin/cases/{slug}", "/admin/cases/{case}"),
    ConsolePage(
        "GET /admin/cases/{slug} (coordinator)", "/admin/cases/{slug}", "/admin/cases/{case}",
        "coordinator",
    ),
    ConsolePage("GET /admin/cases/new", "/admin/cases/new", "/admin/cases/new"),
    ConsolePage("GET /admin/cases/upload", "/admin/cases/upload", "/admin/cases/upload"),
    ConsolePage("GET /admin/updates", "/admin/updates", "/admin/updates"),
    ConsolePage(
        "GET /admin/updates (older page)", "/admin/updates", "/admin/updates?before={older}"
    ),
    ConsolePage(
        "GET /admin/updates/{update_id}", "/admin/updates/{update_id}", "/admin/updates/{update}"
    ),
    ConsolePage(
        "GET /admin/updates/{update_id}/withdraw", "/admin/updates/{update_id}/withdraw",
        "/admin/updates/{update}/withdraw",
    ),
    ConsolePage("GET /admin/lists", "/admin/lists", "/admin/lists"),
    ConsolePage("GET /admin/lists (coordinator)", "/admin/lists", "/admin/lists", "coordinator"),
    ConsolePage("GET /admin/lists/new", "/admin/lists/new", "/admin/lists/new"),
    ConsolePage("GET /admin/lists/{slug}", "/admin/lists/{slug}", "/admin/lists/{list}"),
    ConsolePage(
        "GET /admin/lists/{slug} (coordinator)", "/admin/lists/{slug}", "/admin/lists/{list}",
        "coordinator",
    ),
    ConsolePage(
        "GET /admin/lists/{slug}/members", "/admin/lists/{slug}/members",
        "/admin/lists/{list}/members",
    ),
    ConsolePage(
        "GET /admin/lists/{slug}/members/remove", "/admin/lists/{slug}/members/remove",
        "/admin/lists/{list}/members/remove?email={email}",
    ),
    ConsolePage(
        "GET /admin/lists/{slug}/import", "/admin/lists/{slug}/import",
        "/admin/lists/{list}/import",
    ),
    ConsolePage(
        "GET /admin/lists/{slug}/export (CSV)", "/admin/lists/{slug}/export",
        "/admin/lists/{list}/export",
    ),
    ConsolePage(
        "GET /admin/lists/{slug}/digest", "/admin/lists/{slug}/digest",
        "/admin/lists/{list}/digest",
    ),
    ConsolePage(
        "GET /admin/lists/{slug}/digest (coordinator)", "/admin/lists/{slug}/digest",
        "/admin/lists/{list}/digest", "coordinator",
    ),
    ConsolePage(
        "GET /admin/lists/{slug}/send", "/admin/lists/{slug}/send", "/admin/lists/{list}/send"
    ),
    ConsolePage(
        "GET /admin/lists/{slug}/archive", "/admin/lists/{slug}/archive",
        "/admin/lists/{list}/archive",
    ),
    ConsolePage("GET /admin/subscribers", "/admin/subscribers", "/admin/subscribers"),
    ConsolePage(
        "GET /admin/subscribers?q= (an address)", "/admin/subscribers",
        "/admin/subscribers?q={email}",
    ),
    ConsolePage(
        "GET /admin/subscribers?q= (no match)", "/admin/subscribers",
        "/admin/subscribers?q=zzyzx",
    ),
    ConsolePage(
        "GET /admin/subscribers?status=&country=", "/admin/subscribers",
        "/admin/subscribers?status=bounced&country=KZ",
    ),
    ConsolePage(
        "GET /admin/subscribers?case=", "/admin/subscribers", "/admin/subscribers?case={case}"
    ),
    ConsolePage(
        "GET /admin/subscribers?list=", "/admin/subscribers", "/admin/subscribers?list={list}"
    ),
    ConsolePage(
        "GET /admin/subscribers (coordinator)", "/admin/subscribers", "/admin/subscribers",
        "coordinator",
    ),
    ConsolePage(
        "GET /admin/subscribers/{id}", "/admin/subscribers/{subscriber_id}",
        "/admin/subscribers/{subscriber}",
    ),
    ConsolePage(
        "GET /admin/subscribers/{id} (coordinator)", "/admin/subscribers/{subscriber_id}",
        "/admin/subscribers/{subscriber}", "coordinator",
    ),
    ConsolePage(
        "GET /admin/subscribers/{id}/unsubscribe", "/admin/subscribers/{subscriber_id}/unsubscribe",
        "/admin/subscribers/{subscriber}/unsubscribe",
    ),
    ConsolePage(
        "GET /admin/subscribers/{id}/erase", "/admin/subscribers/{subscriber_id}/erase",
        "/admin/subscribers/{subscriber}/erase",
    ),
    ConsolePage("GET /admin/outbox", "/admin/outbox", "/admin/outbox"),
    ConsolePage(
        "GET /admin/outbox?status=failed&channel=email", "/admin/outbox",
        "/admin/outbox?status=failed&channel=email",
    ),
    ConsolePage(
        "GET /admin/outbox?kind=digest&status=retry", "/admin/outbox",
        "/admin/outbox?kind=digest&status=retry",
    ),
    ConsolePage(
        "GET /admin/outbox?since=&until= (one day)", "/admin/outbox",
        "/admin/outbox?since={day}&until={day}",
    ),
    ConsolePage("GET /admin/bounces", "/admin/bounces", "/admin/bounces"),
    ConsolePage("GET /admin/users", "/admin/users", "/admin/users"),
    ConsolePage("GET /admin/users/{email}", "/admin/users/{email}", "/admin/users/{coordinator}"),
    ConsolePage(
        "GET /admin/users/{email}/remove", "/admin/users/{email}/remove",
        "/admin/users/{coordinator}/remove",
    ),
    ConsolePage("GET /admin/audit", "/admin/audit", "/admin/audit"),
    ConsolePage("GET /admin/account/tokens", "/admin/account/tokens", "/admin/account/tokens"),
    ConsolePage("GET /admin/account", "/admin/account", "/admin/account"),
    ConsolePage(
        "GET /admin/account/second-factor", "/admin/account/second-factor",
        "/admin/account/second-factor",
    ),
)  # fmt: skip
#: Console GET routes that are not pages of the console proper (signing in, and `/admin`
#: itself, a redirect).
NOT_MEASURED = frozenset(
    {
        "/admin", "/admin/login", "/admin/code", "/admin/set-password/{token}",
        "/admin/live-preview.js",  # a file, not a page
    }
)  # fmt: skip


def http_page(entry: ConsolePage) -> Page:
    async def get(ctx: Context) -> Served:
        assert ctx.clock is not None
        path = entry.path.format(**ctx.examples)
        answer = await ctx.clients[entry.who].get(path)
        if answer.status_code != 200:
            raise RuntimeError(f"{entry.name}: {path} answered {answer.status_code}")
        return Served(ctx.clock.last, len(answer.content), ctx.clock.first_piece)

    return get


async def _live_preview(ctx: Context) -> Served:
    """What the case page asks for as an editor types an update (live-preview.js): the alert
    rendered for each channel and who would get it, counted over the filled store."""
    assert ctx.clock is not None
    client = ctx.clients["owner"]
    case = ctx.examples["case"]
    if "csrf" not in ctx.examples:
        found = CSRF.search((await client.get(f"/admin/cases/{case}")).text)
        assert found is not None, "no form token on the case page"
        ctx.examples["csrf"] = found.group(1)
    draft = {
        "csrf": ctx.examples["csrf"], "date": "2026-11-30", "title": "Moved to a prison hospital",
        "body": "He was moved on Monday.\n\nPray for his health.", "source": "Forum 18",
        "url": "https://www.forum18.org/", "urgent": "yes",
    }  # fmt: skip
    answer = await client.post(f"/admin/cases/{case}/updates/preview", data=draft)
    if answer.status_code != 200:
        raise RuntimeError(f"live preview of {case} answered {answer.status_code}")
    return Served(ctx.clock.last, len(answer.content))


#: Name -> page. The first is the baseline every ratio is taken over.
PAGES: dict[str, Page] = {
    "baseline (SELECT 1)": _baseline,
    "dashboard data (owner)": _dashboard_owner,
    "dashboard data (coordinator of 2 lists)": _dashboard_coordinator,
    "POST /admin/cases/{slug}/updates/preview (live preview)": _live_preview,
}


# -- the fill ----------------------------------------------------------------------------------


def _revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return str(head)


def _at(now: datetime, rng: random.Random, days: int = DAYS) -> datetime:
    return now - timedelta(seconds=rng.random() * days * 86400)


def _subscriber_batches(
    rng: random.Random, count: int, list_ids: list[int], now: datetime, counts: Counter[Any]
) -> Iterator[Batch]:
    mix = Mix(
        countries=Picker(list(COUNTRIES[:50]), zipf_weights(50, 1.0)),
        cases=Picker(list(range(1, CASES + 1)), zipf_weights(CASES, 1.0)),
        scope=Picker([Scope.COUNTRY, Scope.CASE, Scope.ALL], [0.45, 0.5, 0.05]),
        cadence=Picker([Cadence.INSTANT, Cadence.DAILY, Cadence.WEEKLY], [0.8, 0.1, 0.1]),
        status=Picker(
            [
                SubscriberStatus.ACTIVE,
                SubscriberStatus.PENDING,
                SubscriberStatus.UNSUBSCRIBED,
                SubscriberStatus.BOUNCED,
            ],
            [0.88, 0.04, 0.06, 0.02],
        ),
        list_ids=tuple(list_ids),
        list_share=1.5 / len(list_ids),
    )
    for batch in generate(rng, mix, Population(), created_at=now, subscribers=count):
        for row in batch.subscribers:
            created = _at(now, rng, 2 * DAYS)
            row["created_at"] = row["updated_at"] = created
            status = row["status"]
            if status != SubscriberStatus.PENDING.value:
                counts[(created.date(), "joined", "")] += 1
            if status in (SubscriberStatus.UNSUBSCRIBED.value, SubscriberStatus.BOUNCED.value):
                gone = created + (now - created) * rng.random()
                metric = "left" if status == SubscriberStatus.UNSUBSCRIBED.value else "bounced"
                counts[(gone.date(), metric, "")] += 1
            if row["telegram_chat_id"] is not None and rng.random() < 0.02:
                row["telegram_blocked_at"] = _at(now, rng)
            else:
                row["telegram_blocked_at"] = None
        for row in batch.subscriptions:
            row["created_at"] = now
        for row in batch.members:
            row["joined_at"] = _at(now, rng, 2 * DAYS)
        yield batch


def _outbox_rows(
    rng: random.Random, count: int, subscribers: int, list_ids: list[int], now: datetime,
    counts: Counter[Any], batch: int = 50_000,
) -> Iterator[list[dict[str, Any]]]:  # fmt: skip
    """`count` rows: sends (an alert, a list digest or a confirmation) of ~2,000 recipients
    each, spread over the days; all finished but the last day's few."""
    rows: list[dict[str, Any]] = []
    made = 0
    send = 0
    while made < count:
        send += 1
        created = now - timedelta(days=DAYS) * ((count - made) / count)
        roll = rng.random()
        kind = MessageKind.ALERT if roll < 0.8 else MessageKind.DIGEST
        if roll > 0.97:
            kind = MessageKind.CONFIRM
        size = 1 if kind is MessageKind.CONFIRM else rng.randint(500, 3500)
        size = min(size, count - made)
        list_id = rng.choice(list_ids) if kind is MessageKind.DIGEST else None
        key = {
            MessageKind.ALERT: f"alert:{send}",
            MessageKind.DIGEST: f"digest:list:{list_id}:{send}",
            MessageKind.CONFIRM: f"confirm:{send}",
        }[kind]
        recent = now - created < timedelta(hours=6)
        first = rng.randint(1, max(1, subscribers - size))
        for n in range(size):
            sid = first + n
            channel = Channel.EMAIL if rng.random() < 0.8 else Channel.TELEGRAM
            r = rng.random()
            sent_at = lease = error = None
            attempts = 1
            if recent and r < 0.3:
                status = OutboxStatus.PENDING
                attempts = 0
            elif recent and r < 0.33:
                status, error = OutboxStatus.RETRY, "421 try again later"
            elif recent and r < 0.34:
                status, lease = OutboxStatus.SENDING, now + timedelta(minutes=5)
            elif r < 0.96:
                status = OutboxStatus.SENT
                sent_at = created + timedelta(seconds=rng.random() * 600)
                counts[(sent_at.date(), "sent", channel.value)] += 1
            elif r < 0.98:
                status, error = OutboxStatus.FAILED, "550 5.1.1 no such user"
                counts[(created.date(), "failed", channel.value)] += 1
            else:
                status, error = OutboxStatus.SUPPRESSED, "update withdrawn"
            rows.append(
                {
                    "channel": channel.value,
                    "recipient": f"subscriber:{sid}",
                    "subscriber_id": sid,
                    "key": key,
                    "kind": kind.value,
                    "update_id": send if kind is MessageKind.ALERT else None,
                    "list_id": list_id,
                    "body_id": None,
                    "status": status.value,
                    "attempts": attempts,
                    "next_attempt_at": created,
                    "lease_until": lease,
                    "last_error": error,
                    "created_at": created,
                    "queued_at": created,
                    "sent_at": sent_at,
                    "parts_sent": 0,
                    "claimed_by": None,
                }
            )
            made += 1
            if len(rows) >= batch:
                yield rows
                rows = []
    if rows:
        yield rows


async def fill(store: Store, *, subscribers: int, messages: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    counts: Counter[Any] = Counter()
    await add_cases(store, CASES, list(COUNTRIES[:50]), rng, now)
    specs = [
        ListSpec(f"list-{i:02d}", (Cadence.WEEKLY, Cadence.DAILY, Cadence.INSTANT)[i % 3],
                 (Channel.EMAIL, Channel.TELEGRAM), countries=(COUNTRIES[i],))
        for i in range(LISTS)
    ]  # fmt: skip
    list_ids = await add_lists(store, specs, now)
    log(f"filling {subscribers:,} subscribers")
    made = {"subscribers": 0, "subscriptions": 0, "list_members": 0, "outbox": 0}
    for batch in _subscriber_batches(rng, subscribers, list_ids, now, counts):
        await bulk_insert(store, table_of(Subscriber), batch.subscribers)
        await bulk_insert(store, table_of(Subscription), batch.subscriptions)
        await bulk_insert(store, table_of(ListMember), batch.members)
        made["subscribers"] += len(batch.subscribers)
        made["subscriptions"] += len(batch.subscriptions)
        made["list_members"] += len(batch.members)
        log(f"  {made['subscribers']:,} subscribers")
    log(f"filling {messages:,} outbox rows")
    for rows in _outbox_rows(rng, messages, subscribers, list_ids, now, counts):
        await bulk_insert(store, table_of(OutboxMessage), rows)
        made["outbox"] += len(rows)
        if made["outbox"] % 200_000 < len(rows):
            log(f"  {made['outbox']:,} outbox rows")
    await fix_sequences(store, ["subscribers", "subscriptions", "outbox"])
    # The history the triggers would have counted, in place of the bulk insert's "all today".
    async with store.transaction() as session:
        await session.execute(delete(DailyCount))
    await bulk_insert(
        store,
        table_of(DailyCount),
        [
            {"day": day, "metric": metric, "channel": channel, "count": n}
            for (day, metric, channel), n in sorted(counts.items())
        ],
    )
    made["daily_counts"] = len(counts)
    return made


async def _sizes(store: Store) -> dict[str, int]:
    async with store.read() as session:
        subscribers = await session.scalar(select(func.count()).select_from(Subscriber))
        outbox = await session.scalar(select(func.max(OutboxMessage.id)))
    return {"subscribers": int(subscribers or 0), "outbox": int(outbox or 0)}


def _cached_file(args: argparse.Namespace) -> Path:
    name = f"console-r{_revision()}-{args.subscribers}-{args.messages}-s{args.seed}.db"
    return Path(args.cache_dir).expanduser() / name


async def _prepare(args: argparse.Namespace, workdir: Path) -> tuple[Settings, dict[str, Any]]:
    """The filled store's settings, and how it came to be (filled, in how long, or reused)."""
    settings = settings_for(args.database_url, workdir)
    sqlite = dialect_of(settings) == "sqlite"
    report: dict[str, Any] = {"cached": False, "fill_s": None}
    cached = _cached_file(args) if sqlite else None
    target = Path(make_url(settings.database_url).database or "") if sqlite else None
    if cached is not None and target is not None and cached.exists() and not args.fresh:
        log(f"reusing {cached}")
        shutil.copyfile(cached, target)
        report["cached"] = str(cached)
        return settings, report
    if not sqlite:
        async with open_store(settings, create=True) as store:
            sizes = await _sizes(store)
        if sizes == {"subscribers": args.subscribers, "outbox": args.messages} and not args.reset:
            log("reusing the filled PostgreSQL database")
            report["cached"] = "database"
            return settings, report
    started = time.perf_counter()
    async with empty_store(settings, reset=args.reset) as store:
        report["made"] = await fill(
            store, subscribers=args.subscribers, messages=args.messages, seed=args.seed
        )
        report["fill_s"] = round(time.perf_counter() - started, 1)
        await settle(store, sqlite_analyze=False)
    report["fill_and_settle_s"] = round(time.perf_counter() - started, 1)
    log(f"filled in {report['fill_s']} s")
    if cached is not None and target is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, cached.with_suffix(".tmp"))
        cached.with_suffix(".tmp").replace(cached)
        log(f"cached as {cached}")
    return settings, report


async def _coordinator(store: Store) -> Actor:
    async with store.read() as session:
        slugs = list(
            await session.scalars(select(MailingList.slug).order_by(MailingList.slug).limit(2))
        )
    return Actor.console_user("coordinator@example.org", Role.COORDINATOR, frozenset(slugs))


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


async def measure(
    ctx: Context, runs: int, pages: dict[str, Page] | None = None
) -> dict[str, dict[str, float]]:
    """Round by round, each page once (so the machine's load falls on every page alike). A page
    answered through HTTP counts the server's time (Served), and its size in bytes."""
    pages = PAGES if pages is None else pages
    times: dict[str, list[float]] = {name: [] for name in pages}
    sizes: dict[str, int] = {}
    first_pieces: dict[str, list[float]] = {}
    for round_ in range(runs + 2):
        for name, page in pages.items():
            start = time.perf_counter()
            result = await page(ctx)
            took = time.perf_counter() - start
            if isinstance(result, Served):
                took = result.seconds
                sizes[name] = result.size
                if result.first_piece is not None and round_ >= 2:
                    first_pieces.setdefault(name, []).append(result.first_piece)
            if round_ >= 2:
                times[name].append(took)
    results: dict[str, dict[str, float]] = {name: _ms(values) for name, values in times.items()}
    for name, size in sizes.items():
        results[name]["kb"] = round(size / 1024, 1)
    for name, values in first_pieces.items():  # a download: when its first piece went out
        piece = _ms(values)
        results[name] |= {
            "first_piece_p50_ms": piece["p50_ms"],
            "first_piece_p95_ms": piece["p95_ms"],
        }
    base = results[next(iter(pages))]["p50_ms"] or 0.001
    for figures in results.values():
        figures["ratio_p50"] = round(figures["p50_ms"] / base, 1)
    return results


async def _console_extras(store: Store) -> dict[str, str]:
    """What the console pages need that the fill does not make, added once (the fill's cache
    and a reused PostgreSQL database stay as they are otherwise): the two users, and an update
    for each alert the outbox holds (same id, entered when its alerts were queued); then the
    example addresses, from the data."""
    async with store.transaction() as session:
        first_list = await session.scalar(select(MailingList).order_by(MailingList.slug).limit(1))
        assert first_list is not None
        for email, role, lists in (
            (OWNER_EMAIL, Role.OWNER, []),
            (COORDINATOR_EMAIL, Role.COORDINATOR, [first_list]),
        ):
            user = await session.scalar(select(User).where(User.email == email))
            if user is None:
                user = await stored_users.add_user(session, email, role, lists, where="bench")
            user.password_hash = stored_users.password_hash(PASSWORD)
        if await session.scalar(select(func.count()).select_from(Update)) == 0:
            sends = (
                await session.execute(
                    select(OutboxMessage.update_id, func.min(OutboxMessage.created_at))
                    .where(OutboxMessage.update_id.is_not(None))
                    .group_by(OutboxMessage.update_id)
                )
            ).all()
            rng = random.Random(len(sends))
            await session.execute(
                insert(Update),
                [
                    {
                        "id": update_id, "case_id": rng.randint(1, CASES),
                        "key": f"bench-{update_id}",
                        "event_date": at.date(), "title": f"Bench update {update_id}",
                        "body": "A hearing was held.\n\nThe verdict is expected next week.",
                        "source_name": "Forum 18", "severity": Severity.NORMAL,
                        "announce": True, "entered_at": at,
                    }
                    for update_id, at in sends
                ],
            )  # fmt: skip
    await fix_sequences(store, ["updates"])
    async with store.read() as session:
        newest = list(await session.scalars(select(Update.id).order_by(Update.id.desc()).limit(60)))
        case = await session.scalar(select(Update.case_id).where(Update.id == newest[0]))
        slug, name, status = (
            await session.execute(
                text("SELECT slug, name, status FROM cases WHERE id = :id"), {"id": case}
            )
        ).one()
        member = await session.scalar(
            select(ListMember.subscriber_id)
            .where(ListMember.list_id == first_list.id)
            .order_by(ListMember.subscriber_id)
            .limit(1)
        )
        email = await session.scalar(select(Subscriber.email).where(Subscriber.id == member))
    return {
        "case": slug,
        "surname": str(name).split()[-1].lower(),
        "case_status": status,
        "update": str(newest[0]),
        "older": str(newest[-1]),
        "list": first_list.slug,
        "subscriber": str(member),
        "email": email or f"s{member}@example.org",
        "coordinator": COORDINATOR_EMAIL,
        "day": (datetime.now(UTC) - timedelta(days=3)).date().isoformat(),
    }


async def _signed_in(app: Any, settings: Settings, email: str) -> httpx.AsyncClient:
    """A client of the app signed in as `email` through the login form."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.public_url)
    login = await client.get("/admin/login")
    found = CSRF.search(login.text)
    assert found is not None, "no form token on the login page"
    answer = await client.post(
        "/admin/login",
        data={"email": email, "password": PASSWORD, "csrf": found.group(1), "next": "/admin"},
    )
    if answer.status_code != 303:
        raise RuntimeError(f"signing in as {email}: {answer.status_code}")
    return client


def console_pages() -> tuple[dict[str, Page], list[str], list[str]]:
    """The CONSOLE pages the app has, and (for the report) the console GET routes with no
    page in CONSOLE, and the CONSOLE routes the app does not have."""
    routes = {
        route.path
        for router in console.ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    }
    pages = {e.name: http_page(e) for e in CONSOLE if e.route in routes}
    unmeasured = sorted(routes - NOT_MEASURED - {e.route for e in CONSOLE})
    missing = sorted({e.route for e in CONSOLE} - routes)
    return pages, unmeasured, missing


def select_pages(pages: dict[str, Page], wanted: list[str] | None) -> dict[str, Page]:
    """The baseline, and the pages whose name holds any of `wanted` (every page when None)."""
    if not wanted:
        return pages
    base = next(iter(pages))
    chosen = {n: p for n, p in pages.items() if n == base or any(w in n for w in wanted)}
    if len(chosen) == 1:
        raise SystemExit(f"--pages {' '.join(wanted)}: no page name holds any of these")
    return chosen


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        workdir = Path(tmp)
        settings, report = await _prepare(args, workdir)
        async with open_store(settings) as store:
            sizes = await _sizes(store)
            examples = await _console_extras(store)
            clock = ServerClock(create_app(settings, store))
            owner = await _signed_in(clock, settings, OWNER_EMAIL)
            coordinator = await _signed_in(clock, settings, COORDINATOR_EMAIL)
            ctx = Context(
                store, settings, owner, await _coordinator(store),
                {"owner": owner, "coordinator": coordinator}, clock, examples,
            )  # fmt: skip
            http, unmeasured, not_in_app = console_pages()
            chosen = select_pages({**PAGES, **http}, args.pages)
            log(f"measuring {len(chosen)} pages, {args.runs} runs each")
            try:
                pages = await measure(ctx, args.runs, chosen)
            finally:
                await owner.aclose()
                await coordinator.aclose()
        if args.keep and dialect_of(settings) == "sqlite":
            kept = Path(tempfile.mkdtemp(prefix="bench-console-kept-"))
            shutil.copytree(workdir, kept, dirs_exist_ok=True)
            log(f"kept {kept}")
    return {
        "bench": "console",
        "db": dialect_of(settings),
        "sizes": sizes,
        "runs": args.runs,
        "goal_ms": GOAL_MS,
        "pages": pages,
        # A download (sent in pieces) is judged by its first piece; its whole time is printed.
        "over_goal": sorted(
            n for n, f in pages.items() if f.get("first_piece_p95_ms", f["p95_ms"]) > GOAL_MS
        ),
        "examples": examples,
        "unmeasured": unmeasured,
        "not_in_app": not_in_app,
        **report,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--subscribers", type=parse_count, default=100_000)
    parser.add_argument("--messages", type=parse_count, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each page (30)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--cache-dir", default="~/.cache/notifier-bench")
    parser.add_argument("--fresh", action="store_true", help="fill again, not from the cache")
    parser.add_argument("--reset", action="store_true", help="empty the database first")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file afterwards")
    parser.add_argument(
        "--pages", nargs="+", metavar="TEXT",
        help="measure only the pages whose name holds one of these (and the baseline)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    result = asyncio.run(main_async(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
