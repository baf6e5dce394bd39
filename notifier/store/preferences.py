"""What subscribers change about themselves, from the preference centre (and sign-up): follows,
the channels their news comes by, and pausing for a while."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.domain import Cadence, Channel, Scope, SubscriberStatus, target_of
from notifier.store.models import (
    Case,
    ListDeparture,
    ListMember,
    Subscriber,
    Subscription,
    utcnow,
)
from notifier.store.reach import can_reach
from notifier.store.upsert import insert_for

#: When a digest goes out: "07:00", hours and minutes on a 24-hour clock.
DIGEST_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")

#: What a person asked to follow: everything, a country (its code), or a case.
Follow = tuple[Scope, str | None, Case | None]


def usable_channels(subscriber: Subscriber) -> list[Channel]:
    """The channels this subscriber can be reached by now (see notifier.store.reach)."""
    return [
        channel
        for channel in Channel
        if can_reach(
            channel,
            status=subscriber.status,
            email=subscriber.email,
            telegram_chat_id=subscriber.telegram_chat_id,
            telegram_blocked=subscriber.telegram_blocked_at is not None,
        )
    ]


def channels_in_use(subscriber: Subscriber) -> list[Channel]:
    """The channels the subscriber's news comes by now: those their follows use that can still
    reach them, else the first that can (email first)."""
    usable = usable_channels(subscriber)
    used = {s.channel for s in subscriber.subscriptions}
    return [c for c in usable if c in used] or usable[:1]


def follow_targets(
    subscriber: Subscriber,
    follows: Sequence[Follow],
    *,
    cadence: Cadence,
    channels: Iterable[Channel],
) -> int:
    """Follow each of these on each channel with this cadence; a follow the subscriber already
    has takes the new cadence. Needs `subscriptions` loaded. Returns how many are new."""
    have = {(s.target, s.channel): s for s in subscriber.subscriptions}
    added = 0
    for channel in channels:
        for scope, country, case in follows:
            target = target_of(scope, country, case.id if case else None)
            existing = have.get((target, channel))
            if existing is not None:
                existing.cadence = cadence
                continue
            have[(target, channel)] = subscription = Subscription(
                scope=scope,
                country=country if scope is Scope.COUNTRY else None,
                case=case,
                target=target,
                cadence=cadence,
                channel=channel,
            )
            subscriber.subscriptions.append(subscription)
            added += 1
    return added


def follow_on(subscription: Subscription, channel: Channel) -> Subscription:
    """The same follow, with the same cadence, on another channel (a new row)."""
    return Subscription(
        scope=subscription.scope,
        country=subscription.country,
        case_id=subscription.case_id,
        target=subscription.target,
        cadence=subscription.cadence,
        channel=channel,
    )


def set_channels(subscriber: Subscriber, channels: set[Channel]) -> None:
    """Everything the subscriber follows comes by exactly these channels, each follow keeping
    its cadence. Needs `subscriptions` loaded."""
    if not channels:
        raise ValueError("at least one channel")
    by_target: dict[str, list[Subscription]] = {}
    for subscription in subscriber.subscriptions:
        by_target.setdefault(subscription.target, []).append(subscription)
    for rows in by_target.values():
        have = {s.channel for s in rows}
        model = rows[0]
        for channel in sorted(channels - have):
            subscriber.subscriptions.append(follow_on(model, channel))
        for row in rows:
            if row.channel not in channels:
                subscriber.subscriptions.remove(row)


async def leave_everything(session: AsyncSession, subscriber: Subscriber) -> None:
    """Nothing more by any channel: the address unsubscribed (a bounce stays a bounce), and a
    linked Telegram chat unlinked with its follows gone, as `/stop` in the chat does. Someone
    without an address (Telegram only) is simply unsubscribed. Needs `subscriptions` loaded."""
    if subscriber.status is not SubscriberStatus.BOUNCED:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
    # A confirmation asked for earlier must not bring them back (store/signups.py).
    subscriber.signup_requested_at = subscriber.signup_list_id = None
    if subscriber.email is not None and subscriber.telegram_chat_id is not None:
        for subscription in [s for s in subscriber.subscriptions if s.channel is Channel.TELEGRAM]:
            subscriber.subscriptions.remove(subscription)
        subscriber.telegram_chat_id = None
    await session.flush()


async def leave_list(session: AsyncSession, subscriber_id: int, list_id: int) -> bool:
    """The subscriber leaves one prayer chain (the preference page, or the unsubscribe link of
    its digest); whether they were on it. It is their own choice, so it is remembered: the
    list's file, applied again, does not put them back."""
    result = await session.execute(
        delete(ListMember).where(
            ListMember.subscriber_id == subscriber_id, ListMember.list_id == list_id
        )
    )
    left = bool(getattr(result, "rowcount", 0))
    if left:
        await session.execute(
            insert_for(session, ListDeparture)
            .values(list_id=list_id, subscriber_id=subscriber_id, left_at=utcnow())
            .on_conflict_do_nothing()
        )
    return left


async def set_digest_schedule(
    session: AsyncSession, subscriber_id: int, *, time_zone: str, day: int, at: str
) -> None:
    """When personal digests go out: `at` ("07:00") in `time_zone`, weekly ones on `day`
    (0 = Monday). The digest planner picks the new schedule up at its next resync."""
    await session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(time_zone=time_zone, digest_day=day, digest_time=at)
    )


async def set_pause(session: AsyncSession, subscriber_id: int, until: datetime | None) -> None:
    """Pause until then (nothing is sent before), or resume now (None)."""
    await session.execute(
        update(Subscriber).where(Subscriber.id == subscriber_id).values(paused_until=until)
    )
