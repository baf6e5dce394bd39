"""Email into a local Maildir (the embedded default): real RFC 5322 messages any mail client
opens. The stdlib writes each to tmp/ and renames it into new/, so a crash never leaves half a
message."""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from notifier.channels.base import ChannelState, EmailContent, Limits, Outcome, Outgoing, Result
from notifier.email_message import EmailBuilder


class MaildirSender:
    name = "maildir"
    limits = Limits()

    def __init__(self, path: Path, *, mail_from: str, reply_to: str | None = None) -> None:
        self.path = path
        self.state = ChannelState()
        self.builder = EmailBuilder(mail_from=mail_from, reply_to=reply_to)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._box = mailbox.Maildir(str(path), create=True)

    def _write(self, messages: Sequence[Outgoing]) -> list[Result]:
        results = []
        now = datetime.now(UTC)
        for message in messages:
            content = message.content
            if not isinstance(content, EmailContent):
                results.append(Result(message.outbox_id, Outcome.PERMANENT, "not an email"))
                continue
            try:
                self._box.add(self.builder.build(content, now=now))
            except OSError as exc:  # disk full, permissions: try again later
                results.append(Result(message.outbox_id, Outcome.TEMPORARY, f"maildir: {exc}"))
            except (ValueError, TypeError) as exc:  # the message itself cannot be built
                results.append(Result(message.outbox_id, Outcome.PERMANENT, f"message: {exc}"))
            else:
                results.append(Result(message.outbox_id, Outcome.SENT))
        return results

    async def send(self, messages: Sequence[Outgoing]) -> list[Result]:
        return await asyncio.to_thread(self._write, messages)

    async def close(self) -> None:
        return None
