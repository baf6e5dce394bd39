"""The outbox's keys, built and read here only. Each row says who (`recipient`) and what
(`key`); the pair is unique per channel, so a step that runs twice writes nothing twice.

    recipient   subscriber:<subscriber id>           a person (the address is looked up when sent)
                chat:<chat id>                       a Telegram group subscribed to a list
    key         alert:<update id>                    one update's alert
                confirm:<token version>:<minute>     a sign-up's confirmation, one a minute at most
                digest:<digest key>:<period>         one digest, for one period

A digest key names whose digest it is, and is also its cursor's key (what it last held):

                list:<list id>                       a list's digest
                subscriber:<id>:<cadence>:<channel>  a person's own digest

Periods are UTC moments to the minute ("2026-11-30T02:00Z"), so the last two colons of a
digest's message key are the period's."""

from __future__ import annotations

from notifier.domain.vocabulary import Cadence, Channel

SUBSCRIBER = "subscriber:"
CHAT = "chat:"
ALERT = "alert:"
CONFIRM = "confirm:"
DIGEST = "digest:"
LIST = "list:"


def subscriber_recipient(subscriber_id: int) -> str:
    return f"{SUBSCRIBER}{subscriber_id}"


def chat_recipient(chat_id: int) -> str:
    return f"{CHAT}{chat_id}"


def chat_of(recipient: str) -> int | None:
    """The Telegram group a row goes to, for rows addressed to a group, not a person."""
    if recipient.startswith(CHAT):
        return int(recipient.removeprefix(CHAT))
    return None


def alert_key(update_id: int) -> str:
    return f"{ALERT}{update_id}"


def confirm_key(token_version: int, minute: int) -> str:
    return f"{CONFIRM}{token_version}:{minute}"


def list_digest(list_id: int) -> str:
    """A list's digest key."""
    return f"{LIST}{list_id}"


def personal_digest(subscriber_id: int, cadence: Cadence, channel: Channel) -> str:
    """A person's own digest key, one per cadence and channel."""
    return f"{personal_digests_of(subscriber_id)}{cadence.value}:{channel.value}"


def personal_digests_of(subscriber_id: int) -> str:
    """What every personal digest key of this subscriber starts with."""
    return f"{SUBSCRIBER}{subscriber_id}:"


def digest_message(digest_key: str, period: str) -> str:
    """The key of the outbox rows of one digest for one period."""
    return f"{DIGEST}{digest_key}:{period}"


def digest_of(message_key: str) -> tuple[str, str]:
    """'digest:list:5:2026-11-30T02:00Z' → ('list:5', '2026-11-30T02:00Z')."""
    head, hour, minute = message_key.removeprefix(DIGEST).rsplit(":", 2)
    return head, f"{hour}:{minute}"
