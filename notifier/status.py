"""`notifier status`: the outbox by status and channel, when digests go out next, recent errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from notifier.digests import list_schedule, personal_groups
from notifier.domain import Cadence, ChatStatus
from notifier.domain.schedule import next_due
from notifier.store.cursors import WATCH_CURSOR
from notifier.store.engine import Store
from notifier.store.models import (
    ChannelHealth,
    Cursor,
    ListChat,
    MailingList,
    OutboxMessage,
    Subscriber,
    Update,
)
from notifier.store.outbox import counts
from notifier.store.workers import WorkerRow, list_workers


@dataclass
class Status:
    outbox: list[tuple[str, str, int]] = field(default_factory=list)
    watch_cursor: int = 0
    latest_update: int = 0
    next_digests: list[tuple[str, datetime]] = field(default_factory=list)
    recent_errors: list[tuple[int, str, str, str]] = field(default_factory=list)
    channels: list[tuple[str, datetime | None, str]] = field(default_factory=list)
    #: Telegram chats that blocked the bot, and groups it was removed from.
    blocked_chats: int = 0
    removed_groups: int = 0
    #: The processes that deliver, their heartbeats and what each holds.
    workers: list[WorkerRow] = field(default_factory=list)


async def read_status(store: Store, *, now: datetime) -> Status:
    status = Status()
    async with store.read() as session:
        status.outbox = await counts(session)
        status.watch_cursor = int(
            await session.scalar(select(Cursor.position).where(Cursor.name == WATCH_CURSOR)) or 0
        )
        status.latest_update = int(await session.scalar(select(func.max(Update.id))) or 0)
        for m in await session.scalars(
            select(MailingList)
            .where(MailingList.cadence != Cadence.INSTANT)
            .order_by(MailingList.slug)
        ):
            status.next_digests.append(
                (
                    f"list {m.slug} ({m.schedule} {m.time_zone})",
                    next_due(list_schedule(m), m.time_zone, now),
                )
            )
        for g in await personal_groups(session):
            label = f"personal {g.cadence.value} {g.schedule} {g.zone}"
            status.next_digests.append((label, next_due(g.schedule, g.zone, now)))
        rows = await session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.channel,
                OutboxMessage.status,
                OutboxMessage.last_error,
            )
            .where(OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.id.desc())
            .limit(10)
        )
        status.recent_errors = [(i, c.value, s.value, e or "") for i, c, s, e in rows]
        status.blocked_chats = int(
            await session.scalar(
                select(func.count()).where(Subscriber.telegram_blocked_at.is_not(None))
            )
            or 0
        )
        status.removed_groups = int(
            await session.scalar(select(func.count()).where(ListChat.status == ChatStatus.REMOVED))
            or 0
        )
        health = await session.scalars(select(ChannelHealth).order_by(ChannelHealth.name))
        status.channels = [
            (h.name, h.paused_until if h.paused_until and h.paused_until > now else None, h.note)
            for h in health
        ]
        status.workers = await list_workers(session)
    status.next_digests.sort(key=lambda x: x[1])
    return status
