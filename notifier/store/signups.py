"""Sign-up with double opt-in: a request makes (or re-arms) a pending subscriber and queues one
confirmation email; only the confirmation link makes them active. A pending address gets
nothing else.

Anyone can type anyone's address, so a request changes nothing a known person has until
they use the confirmation link themselves: a bounced address is left alone (silently: the page
answers the same); an active one is left as is, or, asking to join a prayer chain it is not
on, joins when confirmed; someone who had unsubscribed keeps that status, their name, their
Telegram and their lists, and on confirming is subscribed again, to the list they asked for.
The follows asked for are added at once: by email only, which does not reach them until they
confirm. Unsubscribing clears a request, so an old confirmation brings nobody back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier.config import Settings
from notifier.domain import (
    Cadence,
    Channel,
    Consent,
    MemberSource,
    MessageKind,
    OutboxStatus,
    SubscriberStatus,
    outbox_keys,
)
from notifier.store.models import (
    ListDeparture,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    utcnow,
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
    that is already subscribed and confirmed (unless it asks to join a list it is not on), or
    bounced (only an administrator undoes that)."""
    subscriber = await session.scalar(
        select(Subscriber)
        .where(Subscriber.email == email)
        .options(selectinload(Subscriber.subscriptions), selectinload(Subscriber.memberships))
    )
    if subscriber is not None and subscriber.status is SubscriberStatus.ACTIVE:
        joining = mailing_list is not None and all(
            m.list_id != mailing_list.id for m in subscriber.memberships
        )
        if not joining:
            return False
        # Already subscribed, asking to join a prayer chain: that too is confirmed first.
        assert mailing_list is not None
        subscriber.signup_requested_at = now
        subscriber.signup_list_id = mailing_list.id
        await session.flush()
        await _queue_confirmation(session, subscriber, now)
        return True
    if subscriber is not None and subscriber.status is SubscriberStatus.BOUNCED:
        return False
    coming_back = subscriber is not None and subscriber.status is SubscriberStatus.UNSUBSCRIBED
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
    elif coming_back:
        subscriber.signup_requested_at = now
        subscriber.signup_list_id = mailing_list.id if mailing_list is not None else None
    else:  # pending: asked again
        subscriber.name = name or subscriber.name
    follow_targets(subscriber, follows, cadence=cadence, channels=[Channel.EMAIL])
    await session.flush()
    if (
        not coming_back
        and mailing_list is not None
        and all(m.list_id != mailing_list.id for m in subscriber.memberships)
    ):
        session.add(
            ListMember(
                list_id=mailing_list.id, subscriber_id=subscriber.id, source=MemberSource.SELF
            )
        )
        await _returned(session, mailing_list.id, subscriber.id)
    await _queue_confirmation(session, subscriber, now)
    return True


async def _returned(session: AsyncSession, list_id: int, subscriber_id: int) -> None:
    """They joined the list again by themselves: it no longer counts that they once left."""
    await session.execute(
        delete(ListDeparture).where(
            ListDeparture.list_id == list_id, ListDeparture.subscriber_id == subscriber_id
        )
    )


async def _queue_confirmation(session: AsyncSession, subscriber: Subscriber, now: datetime) -> None:
    # One confirmation a minute at most, however often the form is sent (and rate limits
    # in the web app keep it far lower).
    minute = int(now.timestamp() // 60)
    await session.execute(
        insert_for(session, OutboxMessage)
        .values(
            channel=Channel.EMAIL.value,
            recipient=outbox_keys.subscriber_recipient(subscriber.id),
            subscriber_id=subscriber.id,
            key=outbox_keys.confirm_key(subscriber.token_version, minute),
            kind=MessageKind.CONFIRM.value,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )


async def confirm_signup(
    session: AsyncSession, subscriber_id: int, version: int, *, now: datetime | None = None
) -> str | None:
    """Make a pending subscriber active, or one who had unsubscribed and asked to come back,
    and join the list asked for; their email, or None if the link no longer applies. The
    confirmation is their consent: it is recorded, with when."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.token_version != version:
        return None
    asked_back = subscriber.signup_requested_at is not None and subscriber.status in (
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.ACTIVE,
    )
    wanted = subscriber.signup_list_id  # read before the UPDATE below clears it
    if subscriber.status is SubscriberStatus.PENDING or asked_back:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id)
            .values(
                status=SubscriberStatus.ACTIVE,
                signup_requested_at=None,
                signup_list_id=None,
                consent=Consent.SIGNUP,
                confirmed_at=now or utcnow(),
            )
        )
        joins = wanted is not None and (await session.get(MailingList, wanted)) is not None
        if asked_back and joins:
            await session.execute(
                insert_for(session, ListMember)
                .values(
                    list_id=wanted,
                    subscriber_id=subscriber_id,
                    source=MemberSource.SELF.value,
                )
                .on_conflict_do_nothing()
            )
            assert wanted is not None  # joins
            await _returned(session, wanted, subscriber_id)
    elif subscriber.status is not SubscriberStatus.ACTIVE:
        # Left (or bounced) since, without asking back: an old confirmation does not bring
        # them back.
        return None
    return subscriber.email or ""
