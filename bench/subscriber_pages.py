"""The console's Subscribers, Outbox and Bounces data at the size issue 12 names: 100,000
subscribers and 1,000,000 outbox rows. Fills a store (seeded), then times each application
function (`search_subscribers`, `subscriber_page`, `outbox_page`, `bounces_page`) over a mix
of filters, and prints the plan of each one's main query, flagging a full scan of a big table.

    python -m bench.subscriber_pages [--subscribers 100000] [--outbox 1000000] [--runs 15]
    python -m bench.subscriber_pages --database-url postgresql+asyncpg://…/bench --reset

Progress and plans on stderr; one JSON line on stdout: per scenario p50 and p95 in ms."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from bench.data import bulk_insert, empty_store, fix_sequences, settings_for, settle, table_of
from notifier import app
from notifier.app.paging import dated_cursor
from notifier.domain import CaseStatus, Role
from notifier.domain.actors import Actor
from notifier.store.engine import Store
from notifier.store.models import (
    Case,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    Subscription,
)

COUNTRIES = ["KZ", "RU", "CN", "IR", "ER", "NG", "VN", "MM", "UZ", "TM", "BY", "TJ"]
FIRST = ["anna", "olga", "dmitri", "sergei", "maria", "john", "grace", "li", "wang", "ahmed"]
LAST = ["ivanova", "petrov", "smith", "okafor", "nguyen", "karimov", "volkov", "lopez", "haile"]
DOMAINS = ["gmail.com", "yandex.ru", "mail.ru", "example.org", "church.kz", "outlook.com"]
LISTS = 20
CASES = 200
BIG_TABLES = ("subscribers", "outbox", "subscriptions", "list_members")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def fill(store: Store, subscribers: int, outbox: int, seed: int) -> None:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    async with store.transaction() as session:
        session.add_all(
            Case(
                id=i,
                slug=f"case-{i}",
                name=f"Case {i}",
                country=COUNTRIES[i % len(COUNTRIES)],
                status=CaseStatus.DETAINED,
            )
            for i in range(1, CASES + 1)
        )
        session.add_all(
            MailingList(id=i, slug=f"list-{i}", name=f"List {i}", channels=["email"])
            for i in range(1, LISTS + 1)
        )
    t = time.perf_counter()
    span = (now - start).total_seconds()
    rows: list[dict[str, Any]] = []
    follows: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for i in range(1, subscribers + 1):
        created = start + timedelta(seconds=span * i / subscribers)
        telegram_only = rng.random() < 0.05
        first, last = rng.choice(FIRST), rng.choice(LAST)
        status = rng.choices(["active", "unsubscribed", "bounced", "pending"], [90, 4, 3, 3])[0]
        rows.append(
            {
                "id": i,
                "email": None if telegram_only else f"{first}.{last}{i}@{rng.choice(DOMAINS)}",
                "name": f"{first.title()} {last.title()}",
                "telegram_chat_id": 10_000_000 + i if telegram_only or rng.random() < 0.2 else None,
                "locale": "en",
                "time_zone": "UTC",
                "digest_time": "07:00",
                "digest_day": 0,
                "token_version": 2,
                "soft_bounces": rng.randint(1, 4) if rng.random() < 0.01 else 0,
                "status": status,
                "consent": "signup",
                "confirmed_at": created,
                "created_at": created,
                "updated_at": created,
            }
        )
        targets = set()
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                country = rng.choice(COUNTRIES)
                target, scope, case_id = f"country:{country}", "country", None
            else:
                case_id = rng.randint(1, CASES)
                target, scope, country = f"case:{case_id}", "case", None
            if target in targets:
                continue
            targets.add(target)
            follows.append(
                {
                    "id": len(follows) + 1,
                    "subscriber_id": i,
                    "scope": scope,
                    "country": country,
                    "case_id": case_id,
                    "target": target,
                    "cadence": "instant",
                    "channel": "email",
                    "created_at": created,
                }
            )
        for list_id in rng.sample(range(1, LISTS + 1), rng.choice([0, 1, 1, 2])):
            members.append(
                {"list_id": list_id, "subscriber_id": i, "source": "file", "joined_at": created}
            )
    await bulk_insert(store, table_of(Subscriber), rows)
    await bulk_insert(store, table_of(Subscription), follows)
    await bulk_insert(store, table_of(ListMember), members)
    log(f"{subscribers:,} subscribers, {len(follows):,} follows, {len(members):,} memberships "
        f"in {time.perf_counter() - t:.1f} s")  # fmt: skip

    t = time.perf_counter()
    per_key = 500
    batch: list[dict[str, Any]] = []
    written = 0
    for n in range(outbox // per_key):
        digest = rng.random() < 0.15
        key = f"digest:list-{n % LISTS}:{n}" if digest else f"alert:{n}"
        for subscriber in rng.sample(range(1, subscribers + 1), per_key):
            written += 1
            created = start + timedelta(seconds=span * written / outbox)
            status = rng.choices(
                ["sent", "failed", "suppressed", "pending", "retry"], [970, 10, 10, 5, 5]
            )[0]
            error = None
            if status in ("failed", "retry"):
                error = "550 5.1.1 <x@example.org>: mailbox unavailable"
            elif rng.random() < 0.002:
                error = "bounced after it was sent: 550 5.1.1 user unknown"
            batch.append(
                {
                    "id": written,
                    "channel": "telegram" if rng.random() < 0.2 else "email",
                    "recipient": f"subscriber:{subscriber}",
                    "subscriber_id": subscriber,
                    "key": key,
                    "kind": "digest" if digest else "alert",
                    "update_id": None if digest else n,
                    "list_id": (n % LISTS) + 1 if digest else None,
                    "body_id": None,
                    "status": status,
                    "attempts": 1,
                    "next_attempt_at": created,
                    "lease_until": None,
                    "last_error": error,
                    "created_at": created,
                    "queued_at": created,
                    "sent_at": created if status == "sent" else None,
                    "parts_sent": 0,
                    "claimed_by": None,
                }
            )
        if len(batch) >= 100_000:
            await bulk_insert(store, table_of(OutboxMessage), batch)
            batch = []
            log(f"  outbox: {written:,}")
    await bulk_insert(store, table_of(OutboxMessage), batch)
    await fix_sequences(store, ["subscribers", "subscriptions", "outbox", "cases", "mailing_lists"])
    await settle(store, sqlite_analyze=False)
    log(f"{written:,} outbox rows in {time.perf_counter() - t:.1f} s")


class Capture:
    """Every statement one call sends to the driver, with its parameters."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine.sync_engine
        self.seen: list[tuple[str, Any]] = []

    def __enter__(self) -> Capture:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        self.seen.append((statement, parameters))


async def plan(store: Store, statement: str, parameters: Any) -> tuple[list[str], list[str]]:
    async with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            result = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            lines = [str(r[-1]) for r in result.all()]
            scans = [
                line
                for line in lines
                if re.match(rf"SCAN ({'|'.join(BIG_TABLES)})( AS \w+)?$", line)
            ]
        else:
            result = await conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            lines = [str(r[0]) for r in result.all()]
            scans = [
                line.strip()
                for line in lines
                if re.search(rf"Seq Scan on ({'|'.join(BIG_TABLES)})\b", line)
            ]
    return lines, scans


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="notifier-bench-"))
    settings = settings_for(args.database_url, workdir)
    owner = Actor.cli("bench")
    coordinator = Actor.console_user(
        "co@example.org", Role.COORDINATOR, frozenset({"list-3", "list-7"})
    )
    out: dict[str, Any] = {"subscribers": args.subscribers, "outbox": args.outbox}
    async with empty_store(settings, reset=args.reset) as store:
        out["dialect"] = store.dialect
        await fill(store, args.subscribers, args.outbox, args.seed)
        middle = str(args.subscribers // 2)
        async with store.read() as session:
            member = await session.scalar(
                select(ListMember.subscriber_id)
                .join(MailingList, MailingList.id == ListMember.list_id)
                .where(MailingList.slug == "list-3", ListMember.subscriber_id > int(middle))
                .limit(1)
            )
        assert member is not None
        async with store.read() as session:
            third = await session.get(OutboxMessage, args.outbox // 3)
        assert third is not None
        deep = dated_cursor(third.created_at, third.id)
        year_ago = datetime.now(UTC) - timedelta(days=365)
        scenarios: dict[str, Callable[[], Awaitable[object]]] = {
            "search: first page": lambda: app.search_subscribers(store, owner),
            "search: text 'ivanova' (common)": lambda: app.search_subscribers(
                store, owner, text="ivanova"
            ),
            "search: text matching nothing": lambda: app.search_subscribers(
                store, owner, text="zz-no-such-person"
            ),
            "search: one address": lambda: app.search_subscribers(store, owner, text=f"{middle}@"),
            "search: status bounced": lambda: app.search_subscribers(
                store, owner, status="bounced"
            ),
            "search: country KZ": lambda: app.search_subscribers(store, owner, country="KZ"),
            "search: case": lambda: app.search_subscribers(store, owner, case="case-17"),
            "search: list": lambda: app.search_subscribers(store, owner, mailing_list="list-5"),
            "search: status pending + country + text": lambda: app.search_subscribers(
                store, owner, status="pending", country="IR", text="olga"
            ),
            "search: deep page": lambda: app.search_subscribers(store, owner, after=middle),
            "search: coordinator": lambda: app.search_subscribers(store, coordinator),
            "search: coordinator, text matching nothing": lambda: app.search_subscribers(
                store, coordinator, text="zz-no-such-person"
            ),
            "subscriber page": lambda: app.subscriber_page(store, owner, int(middle)),
            "subscriber page (coordinator)": lambda: app.subscriber_page(
                store, coordinator, member
            ),
            "outbox: first page": lambda: app.outbox_page(store, owner),
            "outbox: failed": lambda: app.outbox_page(store, owner, status="failed"),
            "outbox: pending": lambda: app.outbox_page(store, owner, status="pending"),
            "outbox: suppressed": lambda: app.outbox_page(store, owner, status="suppressed"),
            "outbox: telegram digests": lambda: app.outbox_page(
                store, owner, channel="telegram", kind="digest"
            ),
            "outbox: a day a year ago": lambda: app.outbox_page(
                store, owner, since=year_ago, until=year_ago + timedelta(days=1)
            ),
            "outbox: since long ago": lambda: app.outbox_page(
                store, owner, since=year_ago - timedelta(days=3650)
            ),
            "outbox: until now": lambda: app.outbox_page(store, owner, until=datetime.now(UTC)),
            "outbox: failed before a year ago": lambda: app.outbox_page(
                store, owner, status="failed", until=year_ago
            ),
            "outbox: deep page": lambda: app.outbox_page(store, owner, after=deep),
            "bounces: all": lambda: app.bounces_page(store, owner),
            "bounces: soft": lambda: app.bounces_page(store, owner, which="soft"),
            "bounces: deep page": lambda: app.bounces_page(store, owner, after=middle),
        }
        results: dict[str, dict[str, float]] = {}
        for name, call in scenarios.items():
            with Capture(store) as capture:
                await call()
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                await call()
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            results[name] = {"p50": round(statistics.median(times), 1), "p95": round(p95, 1)}
            main = max(capture.seen, key=lambda s: len(s[0]))
            lines, scans = await plan(store, *main)
            log(f"== {name}: p50 {results[name]['p50']} ms, p95 {results[name]['p95']} ms")
            for line in lines if args.plans else []:
                log(f"   {line}")
            for scan in scans:
                log(f"   FULL SCAN: {scan}")
            results[name]["full_scans"] = len(scans)
        out["ms"] = results
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--reset", action="store_true")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--outbox", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    parser.add_argument("--plans", action="store_true", help="print every query plan")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
