"""Sign-up with double opt-in: a request makes (or re-arms) a pending subscriber and queues one
confirmation email; only the confirmation link makes them active. A pending address gets
nothing else. An active subscriber is left as is, so nobody can change someone else's
subscription by typing their address (they have the preference link for that)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier.config import Settings
from notifier.store.models import (
    Cadence,
    Channel,
    ListMember,
    MailingList,
    MemberSource,
    MessageKind,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    SubscriberStatus,
)
from notifier.store.preferences import Follow, follow_targets
from notifier.store.upsert import insert_for


async def request_signup(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    name: str,
    follows: Sequence[Follow],
    cadence: Cadence,
    mailing_list: MailingList | None,
    now: datetime,
) -> bool:
    """Record the request and queue a confirmation; False (and nothing done) for an address
    that is already subscribed and confirmed."""
    subscriber = await session.scalar(
        select(Subscriber)
        .where(Subscriber.email == email)
        .options(selectinload(Subscriber.subscriptions), selectinload(Subscriber.memberships))
    )
    if subscriber is not None and subscriber.status is SubscriberStatus.ACTIVE:
        return False
    if subscriber is None:
        subscriber = Subscriber(
            email=email,
            name=name,
            locale=settings.default_locale,
            time_zone=settings.default_time_zone,
            status=SubscriberStatus.PENDING,
            subscriptions=[],
            memberships=[],
        )
        session.add(subscriber)
    else:
        subscriber.status = SubscriberStatus.PENDING
        subscriber.name = name or subscriber.name
    follow_targets(subscriber, follows, cadence=cadence, channels=[Channel.EMAIL])
    await session.flush()
    if mailing_list is not None and all(
        m.list_id != mailing_list.id for m in subscriber.memberships
    ):
        session.add(
            ListMember(
                list_id=mailing_list.id, subscriber_id=subscriber.id, source=MemberSource.SELF
            )
        )
    # One confirmation a minute at most, however often the form is sent (and rate limits
    # in the web app keep it far lower).
    minute = int(now.timestamp() // 60)
    await session.execute(
        insert_for(session, OutboxMessage.__table__)  # type: ignore[arg-type]
        .values(
            channel=Channel.EMAIL.value,
            recipient=f"subscriber:{subscriber.id}",
            subscriber_id=subscriber.id,
            key=f"confirm:{subscriber.token_version}:{minute}",
            kind=MessageKind.CONFIRM.value,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    return True


async def confirm_signup(session: AsyncSession, subscriber_id: int, version: int) -> str | None:
    """Make a pending subscriber active; their email, or None if the link no longer applies."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.token_version != version:
        return None
    if subscriber.status is SubscriberStatus.PENDING:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id)
            .values(status=SubscriberStatus.ACTIVE)
        )
    elif subscriber.status is not SubscriberStatus.ACTIVE:
        return None  # left (or bounced) since: an old confirmation does not bring them back
    return subscriber.email or ""
