"""The outbox as an administrator sees it: the latest messages, and sending some again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from notifier.app.access import require
from notifier.domain import OutboxStatus
from notifier.domain.actors import Actor, Area
from notifier.store import audit
from notifier.store.engine import Store
from notifier.store.models import OutboxMessage, Subscriber, utcnow
from notifier.store.outbox import retry


@dataclass(frozen=True)
class OutboxEntry:
    """One message: where it goes, how it stands, and what went wrong last."""

    id: int
    channel: str
    #: Where the message goes as the outbox keys it (an address, a chat id), and the email
    #: and chat id of the subscriber it is for (None once they are erased).
    recipient: str
    email: str | None
    telegram_chat_id: int | None
    key: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


async def outbox_messages(
    store: Store, *, status: OutboxStatus | None = None, limit: int = 50
) -> list[OutboxEntry]:
    """The latest `limit` messages (of one status, or all), newest first."""
    query = (
        select(OutboxMessage, Subscriber.email, Subscriber.telegram_chat_id)
        .outerjoin(Subscriber, Subscriber.id == OutboxMessage.subscriber_id)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    async with store.read() as session:
        rows = (await session.execute(query)).all()
    return [
        OutboxEntry(
            id=m.id,
            channel=m.channel.value,
            recipient=m.recipient,
            email=email,
            telegram_chat_id=chat,
            key=m.key,
            status=m.status.value,
            attempts=m.attempts,
            next_attempt_at=m.next_attempt_at,
            sent_at=m.sent_at,
            last_error=m.last_error,
        )
        for m, email, chat in rows
    ]


async def retry_messages(
    store: Store, *, by: Actor, ids: Sequence[int] = (), failed: bool = False
) -> int:
    """Send these messages (or every failed one) again; how many were queued. Sent messages are
    never sent again; someone who unsubscribed or bounced still gets nothing."""
    require(by, Area.OUTBOX, write=True)
    async with store.transaction() as session:
        queued = await retry(session, ids=ids, failed=failed, now=utcnow())
        target = " ".join(str(i) for i in ids)
        if failed:
            target = f"failed {target}".strip()
        audit.record(session, by, "outbox.retry", target, after={"queued": queued})
        return queued
