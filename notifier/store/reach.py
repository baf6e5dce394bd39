"""Who can be sent what now: one definition for matching, digests and delivery.

A subscriber's `status` is the state of their email address (pending until confirmed, then
active, unsubscribed or bounced). Telegram has its own: a linked chat that has not blocked the
bot (`/stop` unlinks it). So an email bounce or a one-click unsubscribe from an email stops
email only; someone without an address (Telegram only) is governed by `status` alone. A pause
holds everything, on every channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from notifier.domain.vocabulary import EMAIL_STOPPED, Channel, SubscriberStatus
from notifier.store.models import Subscriber


def receiving(now: datetime) -> ColumnElement[bool]:
    """Not pausing."""
    return or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= now)


def reachable(channel: Channel) -> ColumnElement[bool]:
    """Email: an active address. Telegram: a linked chat that has not blocked the bot, of an
    active subscriber or of one whose email alone was stopped."""
    if channel is Channel.EMAIL:
        return and_(Subscriber.email.is_not(None), Subscriber.status == SubscriberStatus.ACTIVE)
    return and_(
        Subscriber.telegram_chat_id.is_not(None),
        Subscriber.telegram_blocked_at.is_(None),
        or_(
            Subscriber.status == SubscriberStatus.ACTIVE,
            and_(Subscriber.email.is_not(None), Subscriber.status.in_(EMAIL_STOPPED)),
        ),
    )


def can_reach(
    channel: Channel,
    *,
    status: SubscriberStatus,
    email: str | None,
    telegram_chat_id: int | None,
    telegram_blocked: bool,
) -> bool:
    """`reachable` for one subscriber already loaded (delivery checks again before sending)."""
    if channel is Channel.EMAIL:
        return email is not None and status is SubscriberStatus.ACTIVE
    return (
        telegram_chat_id is not None
        and not telegram_blocked
        and (status is SubscriberStatus.ACTIVE or (email is not None and status in EMAIL_STOPPED))
    )
