"""Record what the channels said: sent, retry later (backoff with jitter, or what the server
asked), failed, suppressed — and what it means for the recipient (bounced address, blocked
chat, a group that moved)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.channels.base import Sender
from notifier.config import Settings
from notifier.domain import ChatStatus, OutboxStatus, SubscriberStatus, outbox_keys
from notifier.domain.messages import Outcome, Result
from notifier.store.chats import move_group
from notifier.store.models import ChannelHealth, ListChat, OutboxMessage, Subscriber
from notifier.store.outbox import (
    Claimed,
    backoff,
    mark_final,
    mark_retry,
    mark_sent,
    note_parts_sent,
)
from notifier.store.upsert import insert_for

log = logging.getLogger(__name__)


@dataclass
class DeliverReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliverReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.suppressed += other.suppressed
        self.errors += other.errors[-20:]


async def _recipient(session: AsyncSession, outbox_id: int) -> tuple[int | None, str, int | None]:
    row = (
        await session.execute(
            select(
                OutboxMessage.subscriber_id, OutboxMessage.recipient, OutboxMessage.list_id
            ).where(OutboxMessage.id == outbox_id)
        )
    ).one()
    return row[0], row[1], row[2]


async def _consequences(session: AsyncSession, result: Result, now: datetime) -> None:
    """What an outcome means beyond this message."""
    subscriber_id, recipient, list_id = await _recipient(session, result.outbox_id)
    chat = outbox_keys.chat_of(recipient)
    if chat is not None:  # a group subscribed to a list
        where = (ListChat.list_id == list_id, ListChat.chat_id == chat)
        if result.outcome is Outcome.BLOCKED:
            await session.execute(update(ListChat).where(*where).values(status=ChatStatus.REMOVED))
        elif result.new_chat_id is not None:
            # As the bot does it: a list already subscribed under the new id keeps that row.
            await move_group(session, chat, result.new_chat_id)
        return
    if subscriber_id is None:
        return
    who = Subscriber.id == subscriber_id
    if result.outcome is Outcome.BOUNCED:
        await session.execute(update(Subscriber).where(who).values(status=SubscriberStatus.BOUNCED))
    elif result.outcome is Outcome.BLOCKED:
        await session.execute(update(Subscriber).where(who).values(telegram_blocked_at=now))
    elif result.new_chat_id is not None:
        await session.execute(
            update(Subscriber).where(who).values(telegram_chat_id=result.new_chat_id)
        )


async def record(
    session: AsyncSession,
    settings: Settings,
    results: Sequence[Result],
    suppressed: Mapping[int, str],
    claimed: Mapping[int, Claimed],
    now: datetime,
    report: DeliverReport,
    *,
    worker: int | None = None,
) -> None:
    """Write what the channel said about each message. With `worker`, only that worker's claims
    change (one found dead and since claimed again is someone else's now), except that a
    message sent is recorded sent whoever holds it."""
    max_age = timedelta(seconds=settings.max_message_age)
    sent = [r.outbox_id for r in results if r.outcome is Outcome.SENT]
    await mark_sent(session, sent, now=now)
    report.sent += len(sent)
    by_reason: dict[str, list[int]] = defaultdict(list)
    for outbox_id, reason in suppressed.items():
        by_reason[reason].append(outbox_id)
    for reason, ids in by_reason.items():
        await mark_final(session, ids, OutboxStatus.SUPPRESSED, reason, worker=worker)
        report.suppressed += len(ids)
    for result in results:
        if result.new_chat_id is not None or result.outcome in (Outcome.BOUNCED, Outcome.BLOCKED):
            # In a savepoint: if one fails, the batch's record still commits (else the whole
            # batch would stay claimed, be sent again after the lease, and fail again).
            try:
                async with session.begin_nested():
                    await _consequences(session, result, now)
            except Exception:
                log.exception("outbox #%d: what its outcome means was not saved", result.outbox_id)
        if result.outcome is Outcome.SENT:
            continue
        if result.parts_sent:
            await note_parts_sent(session, result.outbox_id, result.parts_sent)
        error = result.error or result.outcome.value
        report.errors.append(f"#{result.outbox_id}: {error}")
        if result.outcome is Outcome.TEMPORARY:
            attempts = claimed[result.outbox_id].attempts
            if now - claimed[result.outbox_id].queued_at > max_age:
                reason = f"gave up after {attempts} attempts: {error}"
                await mark_final(
                    session, [result.outbox_id], OutboxStatus.FAILED, reason, worker=worker
                )
                report.failed += 1
                continue
            delay = result.retry_after or backoff(
                attempts, base=settings.retry_base_delay, cap=settings.retry_max_delay
            )
            at = now + timedelta(seconds=delay)
            await mark_retry(session, result.outbox_id, at=at, error=error, worker=worker)
            report.retried += 1
        else:
            await mark_final(session, [result.outbox_id], OutboxStatus.FAILED, error, worker=worker)
            report.failed += 1


async def save_health(session: AsyncSession, senders: Sequence[Sender], now: datetime) -> None:
    """Write each sender's state where `notifier status` can read it."""
    for sender in senders:
        paused = sender.state.paused_until
        row = {
            "name": sender.name,
            "paused_until": datetime.fromtimestamp(paused, UTC) if paused else None,
            "note": sender.state.note,
            "extra": dict(sender.state.extra),
            "updated_at": now,
        }
        stmt = insert_for(session, ChannelHealth)
        await session.execute(
            stmt.values(**row).on_conflict_do_update(
                index_elements=["name"], set_={k: v for k, v in row.items() if k != "name"}
            )
        )
