"""The Dashboard page over HTTP, SQLite and PostgreSQL: its numbers are the dashboard's own
(notifier.app.dashboard), in the outbox table, the next digests and the day-by-day table the
charts draw; health says what is paused and who holds the Telegram bot; a coordinator sees
their lists' version (no outbox, no messages); and the page says there is no tracking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import httpx
import pytest
from sqlalchemy import select

from notifier.app import dashboard
from notifier.config import Settings
from notifier.domain import Cadence, Channel, MessageKind, OutboxStatus
from notifier.domain.actors import Actor
from notifier.domain.vocabulary import Role
from notifier.service import pipeline
from notifier.store.models import (
    ChannelHealth,
    ChannelLease,
    DailyCount,
    MailingList,
    OutboxMessage,
)
from notifier.web.app import create_app
from notifier.web.console.dashboard import chart
from tests.console_routes import LIST, OTHER_LIST
from tests.helpers import AppClient, add_console_users, console_sign_in, seed

OWNER, EDITOR, COORDINATOR = "owner@example.org", "editor@example.org", "coordinator@example.org"
NO_TRACKING = "No open or click tracking, on purpose."


class Tables(HTMLParser):
    """Each table with an id, as rows of cell texts (header cells included)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table is not None and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _n(text: str) -> int:
    return int(text.replace(",", ""))


async def _history(settings: Settings) -> None:
    """Days with figures (as the triggers would have kept them), waiting outbox rows, a paused
    SMTP channel and a held Telegram bot."""
    now = datetime.now(UTC)
    async with pipeline(settings) as p, p.store.transaction() as session:
        for back, joined, left, bounced, sent, failed in (
            (0, 3, 1, 0, 1200, 4),
            (1, 17, 2, 1, 34, 0),
            (9, 1, 0, 5, 5678, 91),
            (29, 2, 0, 0, 7, 1),
        ):
            day = (now - timedelta(days=back)).date()
            for metric, channel, n in (
                ("joined", "", joined), ("left", "", left), ("bounced", "", bounced),
                ("sent", "email", sent), ("failed", "email", failed),
                ("sent", "telegram", sent // 2), ("failed", "telegram", failed // 3),
            ):  # fmt: skip
                found = await session.get(DailyCount, (day, metric, channel))
                if found is None:
                    session.add(DailyCount(day=day, metric=metric, channel=channel, count=n))
                else:
                    found.count += n
        for i, status in enumerate([OutboxStatus.PENDING] * 3 + [OutboxStatus.RETRY] * 2):
            session.add(
                OutboxMessage(
                    channel=Channel.EMAIL if i % 2 else Channel.TELEGRAM,
                    recipient=f"p{i}@example.org",
                    key=f"confirm:test:{i}",
                    kind=MessageKind.CONFIRM,
                    status=status,
                    next_attempt_at=now,
                )
            )
        session.add(
            ChannelHealth(
                name="smtp", paused_until=now + timedelta(minutes=10), note="3 failed connections"
            )
        )
        session.add(
            ChannelLease(name="telegram:abc", holder="worker:7", until=now + timedelta(minutes=5))
        )
        # A list of someone else's, due before the coordinator's.
        session.add(
            MailingList(slug=OTHER_LIST, name="Central Asia weekly", cadence=Cadence.DAILY,
                        schedule="00:00", channels=["email"])
        )  # fmt: skip


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[AppClient]:
    async with pipeline(settings) as p:
        await seed(p)
        await add_console_users(p)
    await _history(settings)
    async with pipeline(settings) as p:
        transport = httpx.ASGITransport(app=create_app(settings, p.store))
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            yield p, c


async def test_the_owner_sees_the_dashboards_own_numbers(console: AppClient) -> None:
    p, client = console
    assert (await console_sign_in(client, OWNER)).status_code == 303
    answer = await client.get("/admin")
    assert answer.headers["location"] == "/admin/dashboard"
    page = await client.get("/admin/dashboard")
    assert page.status_code == 200
    board = await dashboard(p.store, p.settings, Actor.cli("test"))
    tables = Tables(page.text).tables

    assert NO_TRACKING in page.text
    assert "<script" not in page.text
    # Health: the paused SMTP channel (until when, and why) and who holds the Telegram bot.
    assert "Paused</span> until" in page.text
    assert "3 failed connections" in page.text
    assert board.health.telegram_lease is not None
    assert "worker:7 holds the bot" in page.text or "no bot token is set" in page.text

    # The outbox: every channel's row as the dashboard counts it.
    assert board.outbox is not None
    outbox = {row[0]: [_n(x) for x in row[1:]] for row in tables["outbox"][1:]}
    assert outbox == {
        o.channel: [o.pending, o.retry, o.sending, o.sent_30_days, o.failed_30_days]
        for o in board.outbox
    }
    assert sum(o.pending for o in board.outbox) == 3
    assert sum(o.retry for o in board.outbox) == 2
    assert sum(o.failed_30_days for o in board.outbox) >= 96

    # The next digests.
    digests = [(row[0].split()[-1], _n(row[3]), _n(row[4])) for row in tables["digests"][1:]]
    assert digests == [(d.slug, d.members, d.groups) for d in board.next_digests]
    assert {OTHER_LIST, LIST} <= {slug for slug, _, _ in digests}

    # The days: a row each, oldest first, as many columns as charts, each the day's figure.
    header, *rows = tables["days"]
    assert header == [
        "Day", "Subscribers joined", "Subscribers left", "Addresses bounced",
        "Messages sent by email", "Messages sent on Telegram",
        "Messages failed by email", "Messages failed on Telegram",
    ]  # fmt: skip
    days = rows[:-1]
    assert len(days) == len(board.days) == 30
    for row, day in zip(days, board.days, strict=True):
        assert day.sent is not None
        assert day.failed is not None
        assert row == [
            day.day.isoformat(),
            *map(str, (day.joined, day.left, day.bounced, day.sent["email"],
                       day.sent["telegram"], day.failed["email"], day.failed["telegram"])),
        ]  # fmt: skip
    assert rows[-1][1] == str(sum(d.joined for d in board.days))
    assert any(d.sent and d.sent["email"] >= 5678 for d in board.days)
    # Each chart is an image with a name that says its figures, and one bar per day with any.
    sent = next(d for d in board.days if d.sent and d.sent["email"] >= 5678)
    assert re.search(r'<svg [^>]*role="img" aria-labelledby="t-sent-email"', page.text), (
        "the chart is named"
    )
    assert f"<title>{sent.day.isoformat()}: {sent.sent['email']:,} sent</title>" in page.text  # type: ignore[index]
    assert page.text.count("<rect ") == sum(
        bool(v)
        for d in board.days
        for v in (d.joined, d.left, d.bounced, *(d.sent or {}).values(), *(d.failed or {}).values())
    )


async def test_an_editor_sees_the_same_installation_wide_page(console: AppClient) -> None:
    _, client = console
    await console_sign_in(client, EDITOR)
    page = await client.get("/admin/dashboard")
    assert page.status_code == 200
    assert 'id="outbox"' in page.text
    assert "Addresses bounced" in page.text


async def test_a_coordinator_sees_their_lists_only(console: AppClient) -> None:
    p, client = console
    await console_sign_in(client, COORDINATOR)
    page = await client.get("/admin/dashboard")
    assert page.status_code == 200
    actor = Actor.console_user(COORDINATOR, Role.COORDINATOR, frozenset({LIST}))
    board = await dashboard(p.store, p.settings, actor)
    assert board.scoped
    assert board.outbox is None
    tables = Tables(page.text).tables
    assert NO_TRACKING in page.text
    assert f"your lists only: <strong>{LIST}</strong>" in page.text
    # No outbox, no bounces, no messages: not theirs to see.
    assert "outbox" not in tables
    assert "Addresses bounced" not in page.text
    assert "Messages sent" not in page.text
    header, *rows = tables["days"]
    assert header == ["Day", "Subscribers joined", "Subscribers left"]
    assert [r for r in rows[:-1]] == [
        [d.day.isoformat(), str(d.joined), str(d.left)] for d in board.days
    ]
    # Only their list's digest, whatever other lists there are.
    async with p.store.read() as session:
        slugs = set(await session.scalars(select(MailingList.slug)))
    assert len(slugs) > 1
    shown = [row[0].split()[-1] for row in tables.get("digests", [])[1:]]
    assert set(shown) <= {LIST}
    assert shown == [d.slug for d in board.next_digests]


def test_a_chart_scales_to_its_tallest_day_and_shows_every_day_with_anything() -> None:
    today = datetime(2025, 3, 30, tzinfo=UTC).date()
    days = [(today - timedelta(days=29 - i), 0) for i in range(30)]
    days[3] = (days[3][0], 1)
    days[20] = (days[20][0], 10_000)
    drawn = chart("x", "X", "x", days)
    assert drawn.total == 10_001
    assert drawn.peak == 10_000
    assert drawn.peak_day == days[20][0]
    tallest = drawn.bars[20]
    assert tallest.y == 4.0
    assert tallest.height == 76.0
    assert drawn.bars[3].height == 1.0  # a single one still shows
    assert drawn.bars[0].height == 0.0
    assert all(b.x + b.width <= 300 for b in drawn.bars)
    assert "10,001 in the last 30 days" in drawn.summary
    assert chart("x", "X", "x", [(today, 0)]).summary == "none in the last 1 days"
