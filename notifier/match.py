"""Match: who gets an update, as one INSERT … SELECT per update (never a loop over subscribers).

An update reaches every active subscriber (not pausing) who follows everything, its country or
its case, on each channel they chose, once — however many of their subscriptions and lists
match. Instant subscriptions and instant lists get an alert; digest readers get one too when it
is urgent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    Subquery,
    and_,
    cast,
    literal,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.domain import (
    Cadence,
    Channel,
    MessageKind,
    OutboxStatus,
    Scope,
    Severity,
    outbox_keys,
)
from notifier.store.models import (
    Case,
    ListFollow,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    Subscription,
    Update,
)
from notifier.store.reach import reachable, receiving
from notifier.store.upsert import insert_for


async def lists_following(session: AsyncSession, case: Case) -> list[MailingList]:
    """Lists that follow everything, the case's country, or the case (a handful of rows)."""
    following = select(ListFollow.list_id).where(
        or_(
            ListFollow.scope == Scope.ALL,
            ListFollow.country == case.country,
            ListFollow.case_id == case.id,
        )
    )
    query = select(MailingList).where(MailingList.id.in_(following))
    return list(await session.scalars(query))


def alert_recipients(
    case: Case, *, urgent: bool, lists: list[MailingList], now: datetime
) -> Subquery:
    """(subscriber_id, channel) of everyone an alert about this case's update goes to."""
    wanted = true() if urgent else Subscription.cadence == Cadence.INSTANT
    active = receiving(now)
    base = select(Subscription.subscriber_id, cast(Subscription.channel, String)).join(Subscriber)
    reach = or_(
        and_(Subscription.channel == Channel.EMAIL, reachable(Channel.EMAIL)),
        and_(Subscription.channel == Channel.TELEGRAM, reachable(Channel.TELEGRAM)),
    )
    # Three index range scans rather than one OR the planner might not split.
    parts: list[Any] = [
        base.where(Subscription.scope == Scope.ALL, wanted, active, reach),
        base.where(Subscription.country == case.country, wanted, active, reach),
        base.where(Subscription.case_id == case.id, wanted, active, reach),
    ]
    for channel in Channel:
        ids = [
            m.id
            for m in lists
            if channel.value in m.channels and (urgent or m.cadence is Cadence.INSTANT)
        ]
        if ids:
            parts.append(
                select(ListMember.subscriber_id, literal(channel.value, String).label("channel"))
                .join(Subscriber, Subscriber.id == ListMember.subscriber_id)
                .where(ListMember.list_id.in_(ids), active, reachable(channel))
            )
    return union(*parts).subquery("recipients")


async def enqueue_alerts(
    session: AsyncSession, update: Update, case: Case, *, now: datetime
) -> int:
    """Write one pending alert per recipient and channel; returns how many were new. Running
    it twice for the same update writes nothing the second time (unique recipient/channel/key)."""
    if not case.published or not update.announce or update.withdrawn_at is not None:
        return 0
    urgent = update.severity is Severity.URGENT
    lists = await lists_following(session, case)
    recipients = alert_recipients(case, urgent=urgent, lists=lists, now=now)
    rows = select(
        recipients.c.channel,
        (literal(outbox_keys.SUBSCRIBER) + cast(recipients.c.subscriber_id, String)).label(
            "recipient"
        ),
        recipients.c.subscriber_id,
        literal(outbox_keys.alert_key(update.id)).label("key"),
        literal(MessageKind.ALERT.value).label("kind"),
        literal(update.id).label("update_id"),
        literal(OutboxStatus.PENDING.value).label("status"),
        literal(0).label("attempts"),
        literal(now, OutboxMessage.next_attempt_at.type).label("next_attempt_at"),
        literal(now, OutboxMessage.created_at.type).label("created_at"),
    ).where(true())  # SQLite needs a WHERE to tell ON CONFLICT from a join's ON
    insert = (
        insert_for(session, OutboxMessage)
        .from_select(
            [
                "channel",
                "recipient",
                "subscriber_id",
                "key",
                "kind",
                "update_id",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            rows,
        )
        .on_conflict_do_nothing()
    )
    result = await session.execute(insert)
    return int(getattr(result, "rowcount", 0) or 0)
