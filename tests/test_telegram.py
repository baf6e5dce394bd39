"""Telegram delivery through the real python-telegram-bot client and the project's fake Bot
API: HTML messages in order, every Bot API error handled as the issue says, limits kept."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from notifier.channels.telegram import ChatSpacing, Pacer
from notifier.config import Settings
from notifier.digests import plan_digests
from notifier.domain import Cadence, Channel, ChatStatus, MemberSource, OutboxStatus, Scope
from notifier.render.telegram_html import TELEGRAM_LIMIT, check_telegram_html
from notifier.service import pipeline
from notifier.status import read_status
from notifier.store.models import (
    ListChat,
    ListFollow,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    Subscription,
)
from tests.fake_telegram import FakeBotApi
from tests.helpers import new_store, news, outbox_rows, seed_telegram_followers, with_bot


async def test_an_alert_arrives_as_telegram_html(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        await seed_telegram_followers(p, [111, 222])
        await news(p, body="The court upheld the suspended sentence & the probation.")
        report = await p.deliverer.drain()
        assert report.sent == 2
    assert sorted(m.chat_id for m in fake_bot_api.sent) == [111, 222]
    for message in fake_bot_api.sent:
        assert message.parse_mode == "HTML"
        assert message.disable_preview
        assert not message.protect_content
        assert check_telegram_html(message.text) == []
        assert "Appeal court upholds the sentence" in message.text
        assert "the suspended sentence &amp; the probation" in message.text


async def test_retry_after_waits_and_is_not_failed(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        await seed_telegram_followers(p, [111])
        await news(p)
        # Once: python-telegram-bot's limiter waits what Telegram said and tries again.
        fake_bot_api.fail_next(111, 429, "Too Many Requests: retry after 1", retry_after=1)
        assert (await p.deliverer.drain()).sent == 1
        await news(p, "Second news")
        # Over and over: the message waits in the outbox for what Telegram asked, not failed.
        fake_bot_api.fail_next(111, 429, "Too Many Requests: retry after 3", retry_after=3, times=5)
        now = datetime.now(UTC)
        report = await p.deliverer.drain(now=now)
        assert (report.sent, report.failed, report.retried) == (0, 0, 1)
        waiting = [r for r in await outbox_rows(p) if r.status is OutboxStatus.RETRY]
        assert len(waiting) == 1
        delay = (waiting[0].next_attempt_at - now).total_seconds()
        assert 2 <= delay <= 4


async def test_blocked_chat_stops_and_status_counts_it(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        await seed_telegram_followers(p, [111, 222])
        fake_bot_api.block(222)
        await news(p)
        report = await p.deliverer.drain()
        assert (report.sent, report.failed) == (1, 1)
        async with p.store.read() as session:
            blocked = await session.scalar(
                select(Subscriber).where(Subscriber.telegram_chat_id == 222)
            )
            assert blocked is not None
            assert blocked.telegram_blocked_at is not None
        status = await read_status(p.store, now=datetime.now(UTC))
        assert status.blocked_chats == 1
        await news(p, "More news")
        queued_for = [r.subscriber_id for r in await outbox_rows(p)]
        assert queued_for.count(blocked.id) == 1  # nothing more


async def test_chat_not_found_fails_and_network_errors_retry(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        await seed_telegram_followers(p, [111, 222])
        fake_bot_api.not_found(111)
        fake_bot_api.fail_next(222, 500, "Internal Server Error")
        await news(p)
        report = await p.deliverer.drain()
        assert (report.sent, report.failed, report.retried) == (0, 1, 1)
        by_status = {r.status: r for r in await outbox_rows(p)}
        assert (by_status[OutboxStatus.FAILED].last_error or "").lower() == "chat not found"
        retry = by_status[OutboxStatus.RETRY]
        assert (await p.deliverer.drain(now=retry.next_attempt_at)).sent == 1


async def test_a_message_in_parts_that_fails_midway_resends_only_the_rest(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        await seed_telegram_followers(p, [111])
        long_body = "\n\n".join(f"Paragraph {i}: " + "words of the court " * 60 for i in range(6))
        fake_bot_api.fail_next(111, 500, "Internal Server Error", after=1)  # the second part
        await news(p, "A long hearing", long_body)
        report = await p.deliverer.drain()
        assert (report.sent, report.retried) == (0, 1)
        [row] = await outbox_rows(p)
        assert row.parts_sent == 1
        assert (await p.deliverer.drain(now=row.next_attempt_at)).sent == 1
    parts = [m.text for m in fake_bot_api.sent if m.chat_id == 111]
    assert len(parts) >= 3
    assert len(parts) == len(set(parts))  # no part twice
    text = "".join(parts)
    positions = [text.index(f"Paragraph {i}:") for i in range(6)]
    assert positions == sorted(positions)  # all of it, in order


async def test_a_group_digest_is_split_in_order_and_follows_a_migration(
    tmp_path: Path, fake_bot_api: FakeBotApi
) -> None:
    # SQLite only: a group takes one message every 3 seconds (Telegram's 20 a minute).
    settings = Settings(
        data_dir=tmp_path / "var", database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    )
    configured = with_bot(settings, fake_bot_api)
    await new_store(configured)
    async with pipeline(configured) as p:
        await seed_telegram_followers(p, [])
        async with p.store.transaction() as session:
            chain = MailingList(
                slug="kz", name="Kazakhstan prayer chain", cadence=Cadence.WEEKLY,
                schedule="mon 07:00", time_zone="Asia/Almaty", channels=["telegram"],
                protect_content=True,
                follows=[ListFollow(scope=Scope.COUNTRY, country="KZ", target="country:KZ")],
                created_at=datetime.now(UTC) - timedelta(days=30),
            )  # fmt: skip
            session.add(chain)
            await session.flush()
            session.add(ListChat(list_id=chain.id, chat_id=-555, title="St Andrew's"))
        long_body = "\n\n".join(f"Paragraph {i}: " + "words of the court " * 30 for i in range(5))
        for i in range(3):
            await news(p, f"Hearing number {i}", long_body)
        fake_bot_api.migrate(-555, -1001234)
        digests = await plan_digests(p.store, p.renderer, now=datetime.now(UTC))
        assert digests.messages == 1
        assert (await p.deliverer.drain()).sent == 1
        async with p.store.read() as session:
            group = await session.scalar(select(ListChat))
            assert group is not None
            assert group.chat_id == -1001234
            assert group.status is ChatStatus.ACTIVE
    parts = [m for m in fake_bot_api.sent if m.chat_id == -1001234]
    assert len(parts) >= 3
    for part in parts:
        assert len(part.text) <= TELEGRAM_LIMIT
        assert check_telegram_html(part.text) == []
        assert part.protect_content
    text = "".join(m.text for m in parts)
    positions = [text.index(f"Hearing number {i}") for i in range(3)]
    assert positions == sorted(positions)  # in order


async def test_every_message_ends_with_how_to_stop_it(
    tmp_path: Path, fake_bot_api: FakeBotApi
) -> None:
    """A person reads how to stop in their chat (/stop); a group, who manages its subscription
    (its admins: /unsubscribe). Both from one shared digest body, and after the last part of a
    message split in several."""
    settings = Settings(
        data_dir=tmp_path / "var", database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    )
    await new_store(settings)
    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        await seed_telegram_followers(p, [111])  # a person: instant alerts
        async with p.store.transaction() as session:
            chain = MailingList(
                slug="kz", name="Kazakhstan prayer chain", cadence=Cadence.WEEKLY,
                schedule="mon 07:00", time_zone="Asia/Almaty", channels=["telegram"],
                follows=[ListFollow(scope=Scope.COUNTRY, country="KZ", target="country:KZ")],
                created_at=datetime.now(UTC) - timedelta(days=30),
            )  # fmt: skip
            member = Subscriber(telegram_chat_id=333, name="A member")
            session.add_all([chain, member])
            await session.flush()
            session.add(
                ListMember(list_id=chain.id, subscriber_id=member.id, source=MemberSource.FILE)
            )
            session.add(ListChat(list_id=chain.id, chat_id=-555, title="St Andrew's"))
        long_body = "\n\n".join(f"Paragraph {i}: " + "words of the court " * 60 for i in range(4))
        await news(p, "Hearing set", long_body)
        await plan_digests(p.store, p.renderer, now=datetime.now(UTC))
        report = await p.deliverer.drain()
        assert report.sent == 3, report  # the alert to 111, the digest to 333 and to -555
    by_chat: dict[int, list[str]] = {}
    for message in fake_bot_api.sent:
        by_chat.setdefault(message.chat_id, []).append(message.text)
    assert len(by_chat[333]) > 1, "the digest is long enough to come in parts"
    person = "<i>Send /stop to get no more messages here.</i>"
    group = (
        "<i>A group admin chose this digest for the group; an admin can stop it with "
        "/unsubscribe.</i>"
    )
    for chat in (111, 333):
        assert by_chat[chat][-1].endswith(person), by_chat[chat][-1][-300:]
    assert by_chat[-555][-1].endswith(group), by_chat[-555][-1][-300:]
    for texts in by_chat.values():
        assert sum("/stop" in t or "/unsubscribe" in t for t in texts) == 1
        assert all(len(t) <= TELEGRAM_LIMIT and check_telegram_html(t) == [] for t in texts)


async def test_limits_are_kept_without_a_single_429(settings: Settings) -> None:
    with FakeBotApi(enforce_limits=True) as api:
        async with pipeline(with_bot(settings, api)) as p:
            await seed_telegram_followers(p, list(range(1000, 1040)))
            await news(p, "One")
            await news(p, "Two")  # a second message to every chat: 1 a second per chat
            report = await p.deliverer.drain()
            assert report.sent == 80
        assert api.rate_limited == 0


async def test_one_process_at_a_time_sends_per_bot_token(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    configured = with_bot(settings, fake_bot_api)
    async with pipeline(configured) as first, pipeline(configured) as second:
        await seed_telegram_followers(first, [111])
        await news(first)
        assert (await first.deliverer.drain()).sent == 1
        await news(first, "Second")
        # The first deliverer holds the lease: the second one leaves Telegram alone.
        assert (await second.deliverer.drain()).claimed == 0
        assert (await first.deliverer.drain()).sent == 1


async def test_a_chats_gap_counts_from_sending_not_from_queueing_for_the_overall_pacer() -> None:
    """Through an overall pacer of 10 a second, four chats' messages hold the first slots, so
    the fifth chat's first message waits 0.4 s there. Its second message still leaves the full
    chat interval (0.3 s) after the first was actually sent, not after it began waiting."""
    spacing, pacer = ChatSpacing(), Pacer(10, 1.0)
    loop = asyncio.get_running_loop()
    sent: dict[int, list[float]] = {chat: [] for chat in range(5)}

    async def chat_queue(chat: int, messages: int) -> None:
        for _ in range(messages):
            async with spacing.turn(chat, 0.3, pacer):
                sent[chat].append(loop.time())

    await asyncio.gather(*(chat_queue(chat, 1) for chat in range(4)), chat_queue(4, 2))
    first, second = sent[4]
    assert first - sent[0][0] >= 0.35  # it did queue behind the others
    assert second - first >= 0.3


async def test_limits_hold_where_telegram_counts_them_however_slow_the_network() -> None:
    """Telegram counts a message when it arrives: anywhere between our handing it over and its
    answer coming back. With answers taking 0–150 ms at random, the worst case is an early
    arrival after a late one, so the gaps are measured that way: from one send's finish to a
    later send's start. No 11 sends within a 1 s window of 10, and 0.3 s between one chat's."""
    spacing, pacer = ChatSpacing(), Pacer(10, 1.0)
    loop = asyncio.get_running_loop()
    chance = random.Random(8)
    sends: list[tuple[float, float]] = []
    by_chat: dict[int, list[tuple[float, float]]] = {chat: [] for chat in range(6)}

    async def chat_queue(chat: int) -> None:
        for _ in range(4):
            async with spacing.turn(chat, 0.3, pacer):
                started = loop.time()
                await asyncio.sleep(chance.uniform(0, 0.15))
                sends.append((started, loop.time()))
                by_chat[chat].append(sends[-1])

    await asyncio.gather(*(chat_queue(chat) for chat in range(6)))
    sends.sort()
    assert len(sends) == 24
    for earlier, later in zip(sends, sends[10:], strict=False):
        assert later[0] - earlier[1] >= 1.0
    for chat_sends in by_chat.values():
        for earlier, later in itertools.pairwise(chat_sends):
            assert later[0] - earlier[1] >= 0.3


async def test_email_does_not_wait_behind_telegrams_pace(settings: Settings) -> None:
    """120 Telegram messages take four seconds at 30 a second; an email alert queued after
    them goes at once, in its own lane, not after them. And Telegram is claimed a couple of
    seconds' worth at a time, so a crash could send little of it twice."""
    with FakeBotApi() as api:
        configured = with_bot(settings, api)
        async with pipeline(configured) as p:
            await seed_telegram_followers(p, list(range(1000, 1060)))
            await news(p, "One")
            async with p.store.transaction() as session:
                session.add(
                    Subscriber(
                        email="anna@example.org",
                        subscriptions=[
                            Subscription(
                                scope=Scope.COUNTRY, country="KZ", target="country:KZ",
                                cadence=Cadence.INSTANT, channel=Channel.EMAIL,
                            )
                        ],
                    )
                )  # fmt: skip
            await news(p, "Two")
            queued = await outbox_rows(p)
            email = next(r for r in queued if r.channel is Channel.EMAIL)
            assert sum(r.channel is Channel.TELEGRAM and r.id < email.id for r in queued) >= 60
            assert p.deliverer.batch_size(Channel.TELEGRAM) == 60

            in_flight: list[int] = []

            async def watch_claims() -> None:
                while True:
                    async with p.store.read() as session:
                        sending = await session.scalars(
                            select(OutboxMessage.id).where(
                                OutboxMessage.status == OutboxStatus.SENDING
                            )
                        )
                        in_flight.append(len(list(sending)))
                    await asyncio.sleep(0.05)

            drain = asyncio.create_task(p.deliverer.drain())
            watcher = asyncio.create_task(watch_claims())
            mail = configured.mail_dir / "new"
            while not (mail.is_dir() and any(mail.iterdir())):
                assert not drain.done(), "the email did not go before Telegram finished"
                await asyncio.sleep(0.01)
            telegram_sent_when_email_arrived = len(api.sent)
            report = await drain
            watcher.cancel()
        assert report.sent == 121
        assert telegram_sent_when_email_arrived < 60
        # A batch of Telegram (60) plus the next one claimed while it sends, and the email.
        assert max(in_flight) <= 2 * 60 + 1


async def test_the_bots_replies_and_delivery_share_one_limit(settings: Settings) -> None:
    """`notifier run` answers people and delivers with one bot token: 20 people writing while
    60 alerts go out at the full pace stay within Telegram's 30 a second, together."""
    from notifier.bot import run_bot

    with FakeBotApi(enforce_limits=True) as api:
        configured = with_bot(settings, api)
        async with pipeline(configured) as p:
            await seed_telegram_followers(p, list(range(1000, 1060)))
            await news(p, "One")
            sender = p.deliverer.senders[Channel.TELEGRAM]
            stop = asyncio.Event()
            bot = asyncio.create_task(
                run_bot(configured, p.store, stop, pacer=getattr(sender, "pacer", None))
            )
            for _ in range(250):
                if any(method == "getUpdates" for method, _ in api.calls):
                    break
                await asyncio.sleep(0.02)
            drain = asyncio.create_task(p.deliverer.drain())
            await api.wait_sent(15)  # delivery is under way, at full pace
            people = range(5000, 5020)
            for person in people:
                api.push_message(person, "/help")
            report = await drain
            replied = await api.wait_sent(80, timeout=10)
            assert {m.chat_id for m in replied} >= set(people)
            stop.set()
            await asyncio.wait_for(bot, 10)
        assert report.sent == 60
        assert api.rate_limited == 0
