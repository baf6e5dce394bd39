"""Benchmark: Telegram alerts and a group digest through the fake Bot API enforcing the limits.

    python -m bench.telegram [--chats 1000] [--groups 20] [--database-url URL]

A store holds the two sample Kazakhstan cases, N Telegram-only subscribers (one private chat
each, following Kazakhstan instantly on the telegram channel) and a weekly mailing list on the
telegram channel, following Kazakhstan, with G Telegram groups subscribed (`ListChat`, negative
chat ids). One new announced update is added. Then, with the pipeline built as the service does
(`notifier.service.pipeline`, `telegram_bot_token` and `telegram_api_url` pointing at the
project's fake Bot API, `tests.fake_telegram.FakeBotApi(enforce_limits=True)`, started in this
process by `bench.telegram_sink`), this is timed: `watch_once` (N alerts), building the list's
digest (`build_list_digest`: one row per group) and `Deliverer.drain()`.

The fake accepts at most 30 messages in any second, 1 a second to one private chat and 20 a
minute to one group, and answers 429 beyond that. What it accepted (`api.sent`, each with the
server's `time.monotonic()`) gives the rate: (private messages − 1) ÷ (last − first accepted),
against Telegram's 30 a second. Every 429 is counted (`api.rate_limited`) and attributed to the
window that refused it. Afterwards every outbox row must be `sent`, each private chat must have
got exactly one message and each group the same digest parts.

Progress goes to stderr; the last line on stdout is one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bench.data import dialect_of, empty_store, log, parse_count, peak_rss_mb, settings_for, settle
from bench.telegram_sink import FakeBotApi, SentMessage, start_fake_api
from notifier.channels.telegram import OVERALL_PER_SECOND, OVERALL_WINDOW, TelegramSender
from notifier.config import Settings
from notifier.digests import build_list_digest, list_schedule
from notifier.domain import Cadence, Channel, Scope, Severity, target_of
from notifier.domain.schedule import last_due
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.render.messages import Renderer
from notifier.render.telegram_html import TELEGRAM_LIMIT, check_telegram_html
from notifier.service import pipeline
from notifier.store.cases import add_update, get_case, import_cases
from notifier.store.engine import Store
from notifier.store.models import (
    ListChat,
    ListFollow,
    MailingList,
    OutboxMessage,
    Subscriber,
    Subscription,
    utcnow,
)
from notifier.watch import watch_once

#: The sample case the new update is about (Kazakhstan, like every follow here).
CASE_SLUG = "bakhytzhan-kashkumbayev"
COUNTRY = "KZ"
LIST_SLUG = "kz-groups"
#: Telegram's overall limit, the yardstick of `ratio`.
TELEGRAM_PER_SECOND = 30.0
#: Private chat ids are FIRST_CHAT + i; group ids −(FIRST_GROUP + i) (plain groups, not -100…).
FIRST_CHAT = 10_000
FIRST_GROUP = 5_000_000
#: A gap between accepted private messages longer than this is listed (pacing is ~34 ms).
SLOW_GAP = 0.1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.telegram", description=__doc__.split("\n")[0])
    p.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    p.add_argument(
        "--chats",
        default=1_000,
        type=parse_count,
        help="Telegram subscribers (one private chat each) = alerts sent (1000)",
    )
    p.add_argument(
        "--groups",
        default=20,
        type=parse_count,
        help="Telegram groups subscribed to the list, one digest each (20)",
    )
    p.add_argument(
        "--reset",
        action="store_true",
        help="empty the database first (drops schema public on PostgreSQL)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary SQLite directory")
    return p.parse_args(argv)


# -- the store ---------------------------------------------------------------------------------


def private_chats(n: int) -> list[int]:
    return [FIRST_CHAT + i for i in range(1, n + 1)]


def group_chats(n: int) -> list[int]:
    return [-(FIRST_GROUP + i) for i in range(1, n + 1)]


async def fill_store(settings: Settings, chats: int, groups: int, *, reset: bool) -> None:
    """The sample cases (their history, not announced), one Telegram-only subscriber per chat
    following Kazakhstan instantly, and the weekly list with its groups; the watcher's cursor
    moved past the history."""
    async with empty_store(settings, reset=reset) as store:
        async with store.transaction() as session:
            await import_cases(session, load_case_files(sample_case_files()))
        target = target_of(Scope.COUNTRY, COUNTRY, None)
        async with store.transaction() as session:
            for chat in private_chats(chats):
                session.add(
                    Subscriber(
                        telegram_chat_id=chat,
                        name=f"Chat {chat}",
                        subscriptions=[
                            Subscription(
                                scope=Scope.COUNTRY,
                                country=COUNTRY,
                                target=target,
                                cadence=Cadence.INSTANT,
                                channel=Channel.TELEGRAM,
                            )
                        ],
                    )
                )
            chain = MailingList(
                slug=LIST_SLUG, name="Kazakhstan prayer chain", cadence=Cadence.WEEKLY,
                schedule="mon 07:00", time_zone="Asia/Almaty", channels=[Channel.TELEGRAM.value],
                follows=[ListFollow(scope=Scope.COUNTRY, country=COUNTRY, target=target)],
                created_at=datetime.now(UTC) - timedelta(days=30),
            )  # fmt: skip
            session.add(chain)
            await session.flush()
            for chat in group_chats(groups):
                session.add(ListChat(list_id=chain.id, chat_id=chat, title=f"Group {-chat}"))
        history = await watch_once(store)
        if history.alerts:
            raise RuntimeError(f"the sample history alerted {history.alerts} chats")
        async with store.transaction() as session:
            case = await get_case(session, CASE_SLUG)
            _, created = await add_update(
                session,
                case,
                day=date.today(),
                title="Appeal court upholds the sentence",
                body="The court upheld the suspended sentence. The family thanks everyone who "
                "prays and asks for letters of encouragement.",
                source_name="Forum 18",
                source_url="https://example.org/news/appeal",
                severity=Severity.NORMAL,
            )
            if not created:
                raise RuntimeError("the new update exists already")
        await settle(store, sqlite_analyze=False)
    log(
        f"store: 2 sample cases, {chats:,} Telegram subscribers following {COUNTRY} instantly, "
        f"list {LIST_SLUG!r} (weekly, telegram) with {groups} groups; one new update"
    )


async def digest_for_list(store: Store, renderer: Renderer) -> int:
    """Build the list's digest for its latest period, as the planner does; rows queued."""
    now = utcnow()
    async with store.transaction() as session:
        chain = await session.scalar(
            select(MailingList)
            .where(MailingList.slug == LIST_SLUG)
            .options(selectinload(MailingList.follows))
        )
        if chain is None:
            raise RuntimeError(f"list {LIST_SLUG!r} is missing")
        due = last_due(list_schedule(chain), chain.time_zone, now)
        report = await build_list_digest(session, renderer, chain, due=due, now=now)
    return report.messages


async def outbox_by_status(store: Store) -> dict[str, int]:
    async with store.read() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status.value: int(count) for status, count in rows}


# -- what the server refused, and why --------------------------------------------------------


@dataclass
class Refusals:
    """Every 429 the fake answered, with the window that refused it (read from the fake's own
    windows at that instant: `overall` 30/s, `private` 1/s per chat, `group` 20/min)."""

    by_window: Counter[str] = field(default_factory=Counter)
    at: list[tuple[float, int, str]] = field(default_factory=list)


def watch_refusals(api: FakeBotApi) -> Refusals:
    """Wrap the fake's flood check on this instance (the fake's code is unchanged)."""
    refusals = Refusals()
    check = api._flood_wait

    def flood_wait(chat_id: int, now: float) -> int | None:
        retry_after = check(chat_id, now)
        if retry_after is not None:
            windows = []
            if api._global_window.wait(now) > 0:
                windows.append("overall")
            if api._chat_window(chat_id).wait(now) > 0:
                windows.append("private" if chat_id > 0 else "group")
            which = "+".join(windows) or "?"
            refusals.by_window[which] += 1
            refusals.at.append((now, chat_id, which))
        return retry_after

    setattr(api, "_flood_wait", flood_wait)  # noqa: B010
    return refusals


class RetryLog(logging.Handler):
    """Counts python-telegram-bot's AIORateLimiter retries ("Rate limit hit. Retrying after")."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retries = 0
        self.gave_up = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Rate limit hit. Retrying"):
            self.retries += 1
        elif message.startswith("Rate limit hit after maximum"):
            self.gave_up += 1


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Timed:
    started: float  # time.monotonic(), the clock the fake stamps messages with
    watch_s: float
    digest_s: float
    drain_s: float
    alerts: int
    digest_rows: int
    sent: int
    retried: int
    failed: int
    suppressed: int
    errors: list[str]
    outbox: dict[str, int]


async def timed_run(settings: Settings) -> Timed:
    """Build the pipeline as the service does, then time watch → list digest → drain."""
    async with pipeline(settings) as p:
        sender = p.deliverer.senders[Channel.TELEGRAM]
        if not isinstance(sender, TelegramSender):
            raise RuntimeError(f"the telegram channel is {type(sender).__name__}, not the Bot API")
        started = time.monotonic()
        watched = await watch_once(p.store)
        matched = time.monotonic()
        digest_rows = await digest_for_list(p.store, p.renderer)
        planned = time.monotonic()
        report = await p.deliverer.drain()
        done = time.monotonic()
        outbox = await outbox_by_status(p.store)
    return Timed(
        started=started,
        watch_s=matched - started,
        digest_s=planned - matched,
        drain_s=done - planned,
        alerts=watched.alerts,
        digest_rows=digest_rows,
        sent=report.sent,
        retried=report.retried,
        failed=report.failed,
        suppressed=report.suppressed,
        errors=list(report.errors[:5]),
        outbox=outbox,
    )


def rate_of(messages: Sequence[SentMessage]) -> float | None:
    """(n − 1) ÷ (last − first): messages per second between the first and the last."""
    if len(messages) < 2:
        return None
    span = messages[-1].at - messages[0].at
    return (len(messages) - 1) / span if span > 0 else None


def min_span(ats: Sequence[float], k: int) -> float | None:
    """The shortest time from a message to the k-th after it (k = 30: the fake's overall window
    needs ≥ 1 s there)."""
    if len(ats) <= k:
        return None
    return min(ats[i + k] - ats[i] for i in range(len(ats) - k))


def check_messages(
    private: list[SentMessage], groups: list[SentMessage], chats: int, group_ids: list[int]
) -> tuple[list[str], int]:
    """Problems with what the server accepted, and the parts each group got."""
    problems: list[str] = []
    per_chat = Counter(m.chat_id for m in private)
    expected = set(private_chats(chats))
    if set(per_chat) != expected:
        problems.append(
            f"private chats: {len(expected - set(per_chat))} got nothing, "
            f"{len(set(per_chat) - expected)} unexpected"
        )
    twice = sum(1 for n in per_chat.values() if n != 1)
    if twice:
        problems.append(f"{twice} private chat(s) got more than one message")
    by_group: dict[int, list[str]] = defaultdict(list)
    for m in groups:
        by_group[m.chat_id].append(m.text)
    if set(by_group) != set(group_ids):
        problems.append(f"groups: {len(set(group_ids) - set(by_group))} got nothing")
    texts = {tuple(parts) for parts in by_group.values()}
    if len(texts) > 1:
        problems.append(f"groups got {len(texts)} different digests, not one")
    parts = len(next(iter(by_group.values()), []))
    for m in [*private, *groups]:
        if len(m.text) > TELEGRAM_LIMIT or check_telegram_html(m.text):
            problems.append(f"chat {m.chat_id}: a message over the limit or not valid HTML")
            break
    return problems, parts


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-telegram-"))
    base = settings_for(args.database_url, workdir)
    db = dialect_of(base)
    chats, groups = args.chats, args.groups
    log(
        f"telegram benchmark on {db}: {chats:,} private chats (one alert each) and a digest to "
        f"{groups} groups, through the fake Bot API enforcing 30/s, 1/s per chat, 20/min per group"
    )
    api = start_fake_api(enforce_limits=True)
    refusals = watch_refusals(api)
    retry_log = RetryLog()
    ptb_logger = logging.getLogger("telegram.ext")
    ptb_logger.addHandler(retry_log)
    ptb_level = ptb_logger.level
    ptb_logger.setLevel(logging.INFO)
    try:
        settings = base.model_copy(
            update={
                "telegram_bot_token": SecretStr(api.token),
                "telegram_api_url": api.base_url,
            }
        )
        await fill_store(settings, chats, groups, reset=args.reset)
        log(f"fake Bot API at {api.base_url}; timing watch → list digest → drain")
        t = await timed_run(settings)
    finally:
        api.stop()
        ptb_logger.removeHandler(retry_log)
        ptb_logger.setLevel(ptb_level)
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    sent = sorted(api.sent, key=lambda m: m.at)
    private = [m for m in sent if m.chat_id > 0]
    group_msgs = [m for m in sent if m.chat_id < 0]
    group_ids = group_chats(groups)
    problems, parts_per_group = check_messages(private, group_msgs, chats, group_ids)
    rows = chats + groups
    if t.alerts != chats:
        problems.append(f"watch queued {t.alerts:,} alerts, not {chats:,}")
    if t.digest_rows != groups:
        problems.append(f"the list digest queued {t.digest_rows} rows, not {groups}")
    if t.outbox != {"sent": rows}:
        problems.append(f"outbox by status {t.outbox}, not all {rows:,} sent")
    if len(private) != chats:
        problems.append(f"the server accepted {len(private):,} private messages, not {chats:,}")
    if len(group_msgs) != groups * parts_per_group or not parts_per_group:
        problems.append(
            f"the server accepted {len(group_msgs)} group messages, "
            f"not {groups} × {parts_per_group} parts"
        )

    rate = rate_of(private)
    private_ats = [m.at for m in private]
    gaps = [b - a for a, b in pairwise(private_ats)]
    slow = [
        (round(a - t.started, 2), round(g, 3))
        for a, g in zip(private_ats, gaps, strict=False)
        if g > SLOW_GAP
    ]
    all_ats = [m.at for m in sent]
    span31 = min_span(all_ats, 30)
    seconds = t.watch_s + t.digest_s + t.drain_s
    private_s = private[-1].at - private[0].at if len(private) > 1 else None
    group_s = group_msgs[-1].at - group_msgs[0].at if len(group_msgs) > 1 else None
    out: dict[str, Any] = {
        "bench": "telegram",
        "db": db,
        "messages": len(sent),
        "private_messages": len(private),
        "private_seconds": None if private_s is None else round(private_s, 3),
        "rate_per_s": None if rate is None else round(rate, 2),
        "ratio": None if rate is None else round(rate / TELEGRAM_PER_SECOND, 4),
        "rate_limited": api.rate_limited,
        "rate_limited_by": dict(refusals.by_window),
        "client_retries": retry_log.retries,
        "client_gave_up": retry_log.gave_up,
        "groups": groups,
        "group_parts": len(group_msgs),
        "parts_per_group": parts_per_group,
        "group_seconds": None if group_s is None else round(group_s, 3),
        "group_rate_per_s": (
            None if group_s is None or group_s <= 0 else round((len(group_msgs) - 1) / group_s, 2)
        ),
        "seconds": round(seconds, 3),
        "watch_s": round(t.watch_s, 3),
        "digest_s": round(t.digest_s, 3),
        "drain_s": round(t.drain_s, 3),
        "first_message_after_s": round(sent[0].at - t.started, 3) if sent else None,
        "last_message_before_end_s": (
            round(t.started + seconds - sent[-1].at, 3) if sent else None
        ),
        "min_span_31_ms": None if span31 is None else round(span31 * 1000, 1),
        "median_gap_ms": round(statistics.median(gaps) * 1000, 2) if gaps else None,
        "p90_gap_ms": round(statistics.quantiles(gaps, n=10)[-1] * 1000, 2)
        if len(gaps) > 1
        else None,
        "pace_gap_ms": round(1000 * OVERALL_WINDOW / OVERALL_PER_SECOND, 2),
        "max_gap_ms": round(max(gaps) * 1000, 1) if gaps else None,
        "slow_gaps": slow[:20],
        "notifier_pace_per_s": round(OVERALL_PER_SECOND / OVERALL_WINDOW, 2),
        "deliver_batch": settings.deliver_batch,
        "outbox": t.outbox,
        "deliver": {
            "sent": t.sent,
            "retried": t.retried,
            "failed": t.failed,
            "suppressed": t.suppressed,
            "errors": t.errors,
        },
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_measured": "ru_maxrss of this process: setup, the fake Bot API's thread and the run",
        "goal": "ratio >= 0.95 and rate_limited == 0",
        "goal_met": rate is not None
        and rate / TELEGRAM_PER_SECOND >= 0.95
        and api.rate_limited == 0,
        "ok": not problems,
        "problems": problems,
    }
    if refusals.at:
        out["first_refusals"] = [
            {"after_s": round(at - t.started, 3), "chat_id": chat, "window": which}
            for at, chat, which in refusals.at[:10]
        ]
    summary(out)
    return out, problems


def summary(out: dict[str, Any]) -> None:
    log("summary:")
    log(
        f"  {out['messages']:,} messages accepted in {out['seconds']:.2f} s (watch "
        f"{out['watch_s']:.2f} s + digest {out['digest_s']:.2f} s + drain {out['drain_s']:.2f} s; "
        f"first accepted after {out['first_message_after_s']} s)"
    )
    log(
        f"  private: {out['private_messages']:,} in {out['private_seconds']} s = "
        f"{out['rate_per_s']}/s, ratio {out['ratio']} to 30/s (goal ≥ 0.95; notifier paces at "
        f"{out['notifier_pace_per_s']}/s)"
    )
    log(
        f"  groups: {out['groups']} × {out['parts_per_group']} part(s) = {out['group_parts']} "
        f"messages in {out['group_seconds']} s"
    )
    log(
        f"  429s: {out['rate_limited']} (goal 0) by window {out['rate_limited_by'] or '{}'}; "
        f"client retries {out['client_retries']}, gave up {out['client_gave_up']}; outbox retried "
        f"{out['deliver']['retried']}"
    )
    log(
        f"  pacing: shortest span of 31 accepted messages {out['min_span_31_ms']} ms (the fake "
        f"needs ≥ 1000); gap between private messages: median {out['median_gap_ms']} ms, p90 "
        f"{out['p90_gap_ms']} ms, longest {out['max_gap_ms']} ms (notifier's pace "
        f"{out['pace_gap_ms']} ms), {len(out['slow_gaps'])} over {SLOW_GAP * 1000:.0f} ms"
    )
    log(f"  outbox {out['outbox']}; peak RSS {out['peak_rss_mb']} MiB")
    for refusal in out.get("first_refusals", []):
        log(f"  429 at +{refusal['after_s']} s to chat {refusal['chat_id']}: {refusal['window']}")
    for problem in out["problems"]:
        log(f"  PROBLEM: {problem}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out, problems = asyncio.run(run(args))
    print(json.dumps(out), flush=True)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
