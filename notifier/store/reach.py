"""Whether a subscriber can be reached on a channel: one definition for matching and digests."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from notifier.store.models import Channel, Subscriber


def reachable(channel: Channel) -> ColumnElement[bool]:
    """Email needs an address; Telegram a chat that has not blocked the bot."""
    if channel is Channel.EMAIL:
        return Subscriber.email.is_not(None)
    return and_(Subscriber.telegram_chat_id.is_not(None), Subscriber.telegram_blocked_at.is_(None))
