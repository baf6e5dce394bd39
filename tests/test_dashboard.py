"""The dashboard's figures against the same figures counted directly from the rows, on SQLite
and PostgreSQL: what the triggers keep in `daily_counts` must be what happened."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from notifier.app import dashboard
from notifier.config import Settings
from notifier.domain import Cadence, Channel, MemberSource, MessageKind, OutboxStatus
from notifier.domain.actors import Actor
from notifier.domain.vocabulary import Role, SubscriberStatus
from notifier.store.engine import Store
from notifier.store.models import (
    ChannelHealth,
    ChannelLease,
    DailyCount,
    ListChat,
    ListDeparture,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
)
from notifier.store.outbox import SENT, claim, mark_final, mark_retry, mark_sent, sent_params

OWNER = Actor.cli("test")


async def _today(store: Store) -> datetime:
    """Now, on the day the database's clock says it is (what the triggers count by)."""
    async with store.read() as session:
        if store.dialect == "sqlite":
            day = await session.scalar(text("SELECT date('now')"))
        else:
            day = str(await session.scalar(text("SELECT (now() AT TIME ZONE 'UTC')::date")))
    now = datetime.now(UTC)
    assert now.date().isoformat() == day, "the test ran across midnight UTC; run it again"
    return now


async def _subscribers(store: Store) -> list[int]:
    """30 subscribers: 20 added active, 10 pending of whom 6 confirm; then 4 unsubscribe,
    3 bounce (one of them still pending), 2 block the bot in Telegram."""
    async with store.transaction() as session:
        people = [
            Subscriber(
                email=f"p{i}@example.org",
                telegram_chat_id=1000 + i,
                status=SubscriberStatus.ACTIVE if i < 20 else SubscriberStatus.PENDING,
            )
            for i in range(30)
        ]
        session.add_all(people)
        await session.flush()
        ids = [p.id for p in people]
    async with store.transaction() as session:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(ids[20:26]))
            .values(status=SubscriberStatus.ACTIVE)
        )
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(ids[0:4]))
            .values(status=SubscriberStatus.UNSUBSCRIBED)
        )
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_([ids[4], ids[5], ids[29]]))
            .values(status=SubscriberStatus.BOUNCED)
        )
        # Changed to what it already is: not a change, not counted.
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(ids[10:12]))
            .values(status=SubscriberStatus.ACTIVE)
        )
        now = datetime.now(UTC)
        await session.execute(
            update(Subscriber).where(Subscriber.id.in_(ids[12:14])).values(telegram_blocked_at=now)
        )
    return ids


async def _messages(store: Store, subscribers: list[int], now: datetime) -> None:
    """60 messages on two channels: some sent on earlier days, some today (through the fast
    path's statement too), some failed, some retrying, some in flight, some waiting."""
    async with store.transaction() as session:
        session.add_all(
            OutboxMessage(
                channel=Channel.EMAIL if i % 3 else Channel.TELEGRAM,
                recipient=f"subscriber:{subscribers[i % 30]}",
                subscriber_id=subscribers[i % 30],
                key=f"alert:{i}",
                kind=MessageKind.ALERT,
                next_attempt_at=now - timedelta(minutes=1),
                created_at=now - timedelta(days=3),
            )
            for i in range(60)
        )
    lease = timedelta(minutes=5)
    async with store.transaction() as session:
        taken = [c.id for c in await claim(session, now=now, lease=lease, limit=45)]
    async with store.transaction() as session:
        # Sent on three different days, by the time the sender says.
        await mark_sent(session, taken[0:8], now=now - timedelta(days=2))
        await mark_sent(session, taken[8:12], now=now - timedelta(days=1))
        await mark_sent(session, taken[12:20], now=now)
        await mark_final(session, taken[20:25], OutboxStatus.FAILED, "550 no such user")
        await mark_final(session, taken[25:27], OutboxStatus.SUPPRESSED, "withdrawn")
        for outbox_id in taken[27:30]:
            await mark_retry(session, outbox_id, at=now + timedelta(hours=1), error="421")
        # Sent again: already sent, not counted twice.
        await mark_sent(session, taken[0:2], now=now)
    await store.quick.execute(SENT, sent_params(taken[30:36], now=now))
    # taken[36:45] stay in flight; 15 were never claimed.


@dataclass(frozen=True)
class Direct:
    sent: Counter[tuple[date, str]]
    failed: Counter[str]
    by_status: Counter[tuple[str, str]]
    statuses: Counter[SubscriberStatus]
    blocked: int


async def _direct(store: Store) -> Direct:
    async with store.read() as session:
        rows = (
            await session.execute(
                select(OutboxMessage.channel, OutboxMessage.status, OutboxMessage.sent_at)
            )
        ).all()
        statuses = Counter(s for (s,) in await session.execute(select(Subscriber.status)))
        blocked = await session.scalar(
            select(func.count()).where(Subscriber.telegram_blocked_at.is_not(None))
        )
    return Direct(
        sent=Counter((t.date(), c.value) for c, s, t in rows if s is OutboxStatus.SENT and t),
        failed=Counter(c.value for c, s, _ in rows if s is OutboxStatus.FAILED),
        by_status=Counter((c.value, s.value) for c, s, _ in rows),
        statuses=statuses,
        blocked=int(blocked or 0),
    )


async def test_the_figures_are_the_rows_counted(store: Store, settings: Settings) -> None:
    now = await _today(store)
    subscribers = await _subscribers(store)
    await _messages(store, subscribers, now)
    async with store.transaction() as session:
        session.add(
            ChannelHealth(
                name="smtp", paused_until=now + timedelta(minutes=10), note="3 failed connections"
            )
        )
        session.add(
            ChannelLease(name="telegram:abc", holder="worker:7", until=now + timedelta(seconds=30))
        )

    board = await dashboard(store, settings, OWNER, now=now)
    direct = await _direct(store)

    assert board.health.store == "ok"
    assert board.health.smtp is not None
    assert board.health.smtp.paused
    assert board.health.smtp.note == "3 failed connections"
    assert not board.health.ok
    assert board.health.telegram_lease is not None
    assert board.health.telegram_lease.holder == "worker:7"
    assert board.health.blocked_chats == direct.blocked == 2

    assert len(board.days) == 30
    assert board.days[-1].day == now.date()
    assert board.days[0].day == now.date() - timedelta(days=29)
    sent = {(d.day, c): n for d in board.days for c, n in (d.sent or {}).items() if n}
    assert sent == dict(direct.sent)
    assert sum(sent.values()) == 26  # 8 + 4 + 8 + 6 (fast path); the 2 sent twice once
    assert {c: n for c, n in (board.days[-1].failed or {}).items() if n} == dict(direct.failed)
    assert sum(direct.failed.values()) == 5
    assert all(not any((d.failed or {}).values()) for d in board.days[:-1])

    by_status = direct.by_status
    assert board.outbox is not None
    for row in board.outbox:
        assert row.pending == by_status[(row.channel, "pending")]
        assert row.retry == by_status[(row.channel, "retry")]
        assert row.sending == by_status[(row.channel, "sending")]
        assert row.sent_30_days == by_status[(row.channel, "sent")]
        assert row.failed_30_days == by_status[(row.channel, "failed")]
    assert sum(r.waiting for r in board.outbox) == 15 + 3
    assert sum(r.sending for r in board.outbox) == 9

    statuses = direct.statuses
    today = board.days[-1]
    # Everyone who is, or was before leaving, active: 20 added so, 6 confirmed.
    assert today.joined == 26
    assert today.left == statuses[SubscriberStatus.UNSUBSCRIBED] == 4
    assert today.bounced == statuses[SubscriberStatus.BOUNCED] == 3
    assert all(d.joined == d.left == d.bounced == 0 for d in board.days[:-1])


async def test_pruning_and_erasing_keep_the_history(store: Store, settings: Settings) -> None:
    """The days count what happened: rows deleted afterwards do not take it back."""
    now = await _today(store)
    subscribers = await _subscribers(store)
    await _messages(store, subscribers, now)
    before = await dashboard(store, settings, OWNER, now=now)
    async with store.transaction() as session:
        await session.execute(delete(OutboxMessage))
    after = await dashboard(store, settings, OWNER, now=now)
    assert after.days == before.days
    assert after.outbox is not None
    assert all(r.waiting == r.sending == 0 for r in after.outbox)


async def _lists(store: Store, subscribers: list[int], now: datetime) -> None:
    async with store.transaction() as session:
        weekly = MailingList(
            slug="weekly",
            name="Weekly",
            cadence=Cadence.WEEKLY,
            schedule="mon 07:00",
            time_zone="Europe/Berlin",
        )
        daily = MailingList(slug="daily", name="Daily", cadence=Cadence.DAILY, schedule="07:00")
        instant = MailingList(slug="instant", name="Instant", cadence=Cadence.INSTANT)
        session.add_all([weekly, daily, instant])
        await session.flush()
        for i, subscriber in enumerate(subscribers):
            session.add(
                ListMember(
                    list_id=weekly.id,
                    subscriber_id=subscriber,
                    source=MemberSource.IMPORT,
                    joined_at=now - timedelta(days=i),
                )
            )
            if i % 2:
                session.add(
                    ListMember(
                        list_id=daily.id,
                        subscriber_id=subscriber,
                        source=MemberSource.SELF,
                        joined_at=now,
                    )
                )
        for i, subscriber in enumerate(subscribers[:5]):
            session.add(
                ListDeparture(
                    list_id=weekly.id,
                    subscriber_id=subscriber,
                    left_at=now - timedelta(days=i * 10),
                )
            )
        session.add(ListDeparture(list_id=daily.id, subscriber_id=subscribers[0], left_at=now))
        session.add(ListChat(list_id=weekly.id, chat_id=-100, title="Group"))
        session.add(ListChat(list_id=weekly.id, chat_id=-101, title="Gone", status="removed"))
        session.add(ListChat(list_id=instant.id, chat_id=-102, title="Other"))


async def test_the_next_digests_and_a_coordinators_own_lists(
    store: Store, settings: Settings
) -> None:
    now = await _today(store)
    subscribers = await _subscribers(store)
    await _lists(store, subscribers, now)

    board = await dashboard(store, settings, OWNER, now=now)
    assert [d.slug for d in board.next_digests] == sorted(
        ["weekly", "daily"], key=lambda s: next(d.due for d in board.next_digests if d.slug == s)
    )
    shown = {d.slug: d for d in board.next_digests}
    assert set(shown) == {"weekly", "daily"}  # an instant list has no digest to wait for
    assert (shown["weekly"].members, shown["weekly"].groups) == (30, 1)
    assert (shown["daily"].members, shown["daily"].groups) == (15, 0)
    assert now < shown["daily"].due <= now + timedelta(days=1)
    assert now < shown["weekly"].due <= now + timedelta(days=7)
    assert shown["weekly"].due.astimezone().weekday() in (0, 6)  # Monday 07:00 in Berlin

    coordinator = Actor.console_user("c@example.org", Role.COORDINATOR, frozenset({"weekly"}))
    mine = await dashboard(store, settings, coordinator, now=now)
    assert mine.scoped
    assert mine.outbox is None
    assert [d.slug for d in mine.next_digests] == ["weekly"]
    assert len(mine.days) == 30
    assert all(d.sent is None and d.failed is None and d.bounced is None for d in mine.days)
    # Joined the weekly list: one member a day for the last 30 days (today included).
    assert [d.joined for d in mine.days] == [1] * 30
    # Left it themselves: today, 10 and 20 days ago (30 and 40 days ago are out of the window).
    left = {d.day: d.left for d in mine.days if d.left}
    assert left == {now.date() - timedelta(days=n): 1 for n in (0, 10, 20)}
    async with store.read() as session:
        direct = await session.scalar(
            select(func.count())
            .select_from(ListMember)
            .join(MailingList, MailingList.id == ListMember.list_id)
            .where(MailingList.slug == "weekly", ListMember.joined_at > now - timedelta(days=30))
        )
    assert sum(d.joined for d in mine.days) == direct

    nobody = Actor.console_user("n@example.org", Role.COORDINATOR, frozenset())
    empty = await dashboard(store, settings, nobody, now=now)
    assert empty.next_digests == ()
    assert all(d.joined == d.left == 0 for d in empty.days)


@pytest.mark.parametrize("status", ["active", "unsubscribed", "bounced"])
async def test_counts_only_today_in_the_database(
    store: Store, settings: Settings, status: str
) -> None:
    """No count row is written for a day nothing happened on."""
    await _today(store)
    async with store.read() as session:
        assert await session.scalar(select(func.count()).select_from(DailyCount)) == 0
    async with store.transaction() as session:
        session.add(Subscriber(email="x@example.org", status=SubscriberStatus(status)))
    async with store.read() as session:
        rows = (await session.execute(select(DailyCount.metric, DailyCount.count))).all()
    assert rows == ([("joined", 1)] if status == "active" else [])
