"""Telegram without a bot token: each message appended as one JSON line to a transcript file,
so the embedded default shows what would have been sent (and tests can read it)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notifier.channels.base import ChannelState, Limits, Report, Results
from notifier.domain.messages import Outcome, Outgoing, Result, TelegramContent

#: Messages per write: one fsync each, and what a crash may write twice.
CHUNK = 20


class TranscriptSender:
    name = "telegram-transcript"
    limits = Limits()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = ChannelState()
        path.parent.mkdir(parents=True, exist_ok=True)

    def _write(self, messages: Sequence[Outgoing]) -> list[Result]:
        results = []
        lines = []
        now = datetime.now(UTC).isoformat()
        for message in messages:
            content = message.content
            if not isinstance(content, TelegramContent):
                results.append(
                    Result(message.outbox_id, Outcome.PERMANENT, "not a Telegram message")
                )
                continue
            parts = content.chunks[content.skip :]
            for part, chunk in enumerate(parts, start=content.skip + 1):
                record = {
                    "outbox_id": message.outbox_id,
                    "chat_id": content.chat_id,
                    "part": part,
                    "parts": len(content.chunks),
                    "parse_mode": "HTML",
                    "disable_web_page_preview": True,
                    "protect_content": content.protect_content,
                    "text": chunk,
                    "sent_at": now,
                }
                lines.append(json.dumps(record, ensure_ascii=False))
            results.append(Result(message.outbox_id, Outcome.SENT))
        try:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("".join(line + "\n" for line in lines))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            return [Result(m.outbox_id, Outcome.TEMPORARY, f"transcript: {exc}") for m in messages]
        return results

    async def send(
        self, messages: Sequence[Outgoing], report: Report | None = None
    ) -> list[Result]:
        """In groups of CHUNK lines per write (and fsync), each group reported once written, and
        the next written only once the one before this is recorded."""
        results = Results(report)
        before: asyncio.Future[Any] | None = None
        for start in range(0, len(messages), CHUNK):
            if before is not None:
                await results.recorded(before)
            written = await asyncio.to_thread(self._write, messages[start : start + CHUNK])
            before = results.add_all(written)
        return results

    async def close(self) -> None:
        return None
