"""Whether a subscriber gets anything now, and can be reached on a channel: one definition for
matching, digests and delivery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from notifier.store.models import Channel, Subscriber, SubscriberStatus


def receiving(now: datetime) -> ColumnElement[bool]:
    """Active, and not pausing."""
    return and_(
        Subscriber.status == SubscriberStatus.ACTIVE,
        or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= now),
    )


def reachable(channel: Channel) -> ColumnElement[bool]:
    """Email needs an address; Telegram a chat that has not blocked the bot."""
    if channel is Channel.EMAIL:
        return Subscriber.email.is_not(None)
    return and_(Subscriber.telegram_chat_id.is_not(None), Subscriber.telegram_blocked_at.is_(None))
