"""Email into a local Maildir (the embedded default): real RFC 5322 messages any mail client
opens. The stdlib writes each to tmp/ and renames it into new/, so a crash never leaves half a
message."""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notifier.channels.base import ChannelState, Limits, Report, Results
from notifier.channels.email_message import EmailBuilder
from notifier.domain.messages import EmailContent, Outcome, Outgoing, Result

#: Messages written per trip to a thread: few, because a crash writes them again.
CHUNK = 8


class MaildirSender:
    name = "maildir"
    limits = Limits()

    def __init__(self, path: Path, *, mail_from: str, reply_to: str | None = None) -> None:
        self.path = path
        self.state = ChannelState()
        self.builder = EmailBuilder(mail_from=mail_from, reply_to=reply_to)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._box = mailbox.Maildir(str(path), create=True)

    def _write(self, message: Outgoing, now: datetime) -> Result:
        content = message.content
        if not isinstance(content, EmailContent):
            return Result(message.outbox_id, Outcome.PERMANENT, "not an email")
        try:
            self._box.add(self.builder.build(content, now=now))
        except OSError as exc:  # disk full, permissions: try again later
            return Result(message.outbox_id, Outcome.TEMPORARY, f"maildir: {exc}")
        except (ValueError, TypeError) as exc:  # the message itself cannot be built
            return Result(message.outbox_id, Outcome.PERMANENT, f"message: {exc}")
        return Result(message.outbox_id, Outcome.SENT)

    def _write_some(self, messages: Sequence[Outgoing], now: datetime) -> list[Result]:
        return [self._write(message, now) for message in messages]

    async def send(
        self, messages: Sequence[Outgoing], report: Report | None = None
    ) -> list[Result]:
        """A few messages per trip to a thread, each group reported once written, and the next
        group written only once the one before this is recorded: a crash writes again at most
        the two groups written since the last record."""
        results = Results(report)
        now = datetime.now(UTC)
        before: asyncio.Future[Any] | None = None
        for start in range(0, len(messages), CHUNK):
            group = messages[start : start + CHUNK]
            if before is not None:
                await results.recorded(before)
            before = results.add_all(await asyncio.to_thread(self._write_some, group, now))
        return results

    async def close(self) -> None:
        return None
