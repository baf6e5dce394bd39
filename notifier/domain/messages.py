"""The messages channels send and what they say back: an email's content (a body shared by
many readers, with each reader's own footer), a Telegram message's parts, and each message's
result."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class SharedBody:
    """The part of an email that many recipients share, split where their footer goes. One
    object per distinct body, so channels can encode it once (`key` identifies it)."""

    key: str
    text_before: str
    text_after: str
    html_before: str
    html_after: str


@dataclass(frozen=True)
class EmailContent:
    to_address: str
    to_name: str
    subject: str
    body: SharedBody
    text_footer: str
    html_footer: str
    message_id: str
    list_id: str
    unsubscribe_url: str | None

    @property
    def text(self) -> str:
        return self.body.text_before + self.text_footer + self.body.text_after

    @property
    def html(self) -> str:
        return self.body.html_before + self.html_footer + self.body.html_after


@dataclass(frozen=True)
class TelegramContent:
    chat_id: int
    chunks: tuple[str, ...]
    protect_content: bool = False
    #: Parts an earlier attempt delivered: a retry sends the rest, not the whole message again.
    skip: int = 0


@dataclass(frozen=True)
class Outgoing:
    """One message for one recipient, ready to go."""

    outbox_id: int
    content: EmailContent | TelegramContent


class Outcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # retry later, with backoff
    PERMANENT = "permanent"  # fail this message
    BOUNCED = "bounced"  # fail, and stop sending to this address
    BLOCKED = "blocked"  # the user blocked the bot / the bot left the group: stop that chat


@dataclass(frozen=True)
class Result:
    outbox_id: int
    outcome: Outcome
    error: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait
    new_chat_id: int | None = None  # Telegram moved the group here (and it was sent there)
    parts_sent: int | None = None  # of a message in parts that failed midway: how many went
