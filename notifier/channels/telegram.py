"""Telegram through the Bot API with python-telegram-bot: HTML parse mode, messages split under
4096 characters and sent in order, link previews off, `protect_content` when the list asks.

Limits (Telegram's): about 30 messages a second per bot, 1 a second per chat, 20 a minute per
group. `Pacer` keeps the overall limit and `ChatSpacing` the per-chat and per-group ones, both
as Telegram counts them (on arrival, however late the network delivers); AIORateLimiter only
waits out a 429's retry_after. Only one process sends per bot token at a time (the deliverer
holds a lease), so the limits hold across workers; the bot's replies in that process share the
overall limit (`PacedLimiter`). (A bot polling in `notifier run` while a separate `notifier
worker` holds the lease paces on its own.)

Errors: RetryAfter beyond the limiter's retries → temporary, after what Telegram asked;
Forbidden (blocked, kicked) → blocked: that chat gets nothing more; ChatMigrated → sent to the
new chat id, which the deliverer stores; "chat not found" and other bad requests → failed;
time-outs and network errors → temporary."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

# Opt in to python-telegram-bot's coming behaviour (retry_after as a timedelta) instead of a
# deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, ExtBot

from notifier.channels.base import ChannelState, Limits, Report, Results
from notifier.domain.messages import Outcome, Outgoing, Result, TelegramContent

DEFAULT_API_URL = "https://api.telegram.org/bot"
# Telegram counts its limits over sliding windows, so nothing here allows a burst.
OVERALL_PER_SECOND = 30
OVERALL_WINDOW = 1.02  # at most OVERALL_PER_SECOND sends in any window this long (s)
GROUP_INTERVAL = 3.1  # seconds between messages to one group: under 20 a minute
CHAT_INTERVAL = 1.1  # seconds between messages to one private chat: under 1 a second
#: Requests in flight at once; AIORateLimiter paces them to the overall limit.
CONCURRENCY = 30


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Pacer:
    """The overall limit: sends go out in slots spaced evenly, each slot following the previous
    slot (not the previous wake-up, so a late timer does not push back every later send), and
    never more than `rate` within `window` seconds *as Telegram counts them*.

    Telegram counts a request when it arrives, somewhere between our sending it and its answer
    coming back; a slow network or a busy machine moves that moment. So a send may begin only
    `window` seconds after the send `rate` places before it *finished*: whatever the delays,
    no `rate + 1` requests can arrive within one window."""

    def __init__(self, rate: int, window: float) -> None:
        self.rate = rate
        self.window = window
        self.interval = window / rate
        self._next_slot = 0.0
        # When each of the last `rate` sends finished (a future until it has).
        self._recent: deque[asyncio.Future[float]] = deque(maxlen=rate)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a slot; the body sends."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self.interval  # claimed before awaiting: no two share a slot
        if slot > now:
            await asyncio.sleep(slot - now)
        # Checked again after every wait: only a check passed without awaiting may append.
        while len(self._recent) == self.rate:
            oldest = self._recent[0]
            if not oldest.done():
                await asyncio.wait([oldest])
                continue
            wait = oldest.result() + self.window - loop.time()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        finished: asyncio.Future[float] = loop.create_future()
        self._recent.append(finished)
        try:
            yield
        finally:
            finished.set_result(loop.time())


class ChatSpacing:
    """At least an interval between two messages to one chat as Telegram sees them: from the
    moment the previous one's answer came back (by then Telegram had it) to the moment the next
    is handed to the API, after any wait for the overall pacer. (Measured from when a send
    began waiting instead, a message held back by the pacer could leave too little room; from
    when it was handed over, network delay could.)"""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._chats: OrderedDict[int, tuple[asyncio.Lock, list[float]]] = OrderedDict()

    def _chat(self, chat_id: int) -> tuple[asyncio.Lock, list[float]]:
        found = self._chats.get(chat_id)
        if found is None:
            found = self._chats[chat_id] = (asyncio.Lock(), [float("-inf")])
            if len(self._chats) > self.keep:
                oldest, (lock, _) = next(iter(self._chats.items()))
                if not lock.locked():
                    del self._chats[oldest]
        else:
            self._chats.move_to_end(chat_id)
        return found

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int, interval: float, pacer: Pacer) -> AsyncIterator[None]:
        """Wait for this chat's turn and an overall slot; the body sends, alone for the chat."""
        lock, last = self._chat(chat_id)
        loop = asyncio.get_running_loop()
        async with lock:
            wait = last[0] + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            async with pacer.slot():
                try:
                    yield
                finally:
                    last[0] = loop.time()


Json = dict[str, Any]


def counts_as_a_message(endpoint: str) -> bool:
    """Bot API methods that put a message in a chat: what Telegram's flood limits count."""
    return endpoint.startswith(("send", "edit", "copy", "forward")) and endpoint not in {
        "sendChatAction"
    }


class PacedLimiter(AIORateLimiter):
    """For the bot's own replies in the process that also delivers: each message takes a slot
    of delivery's `Pacer`, so together they keep the token's overall limit; 429s are still
    waited out, and groups kept to 20 a minute (AIORateLimiter). Replies are not spaced per
    chat: someone tapping through commands expects answers at once."""

    def __init__(self, pacer: Pacer, *, max_retries: int) -> None:
        super().__init__(overall_max_rate=0, max_retries=max_retries)
        self.pacer = pacer

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | Json | list[Json]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | Json | list[Json]:
        send = super().process_request
        if not counts_as_a_message(endpoint):
            return await send(callback, args, kwargs, endpoint, data, rate_limit_args)
        async with self.pacer.slot():
            return await send(callback, args, kwargs, endpoint, data, rate_limit_args)


def lease_name(token: str) -> str:
    """The lease that makes one process at a time the sender for this bot token."""
    return "telegram:" + hashlib.sha256(token.encode()).hexdigest()[:16]


class TelegramSender:
    name = "telegram"
    #: One sending process per bot token (the deliverer takes a lease named `lease`).
    exclusive = True

    def __init__(self, token: str, *, api_url: str | None = None, max_retries: int = 1) -> None:
        # Two seconds of sending at 30 a second: what a crash might send twice.
        self.limits = Limits(batch_size=2 * OVERALL_PER_SECOND)
        self.state = ChannelState()
        self.lease = lease_name(token)
        self.bot = ExtBot(
            token,
            base_url=api_url or DEFAULT_API_URL,
            # Pacing is done here (per chat, then overall); PTB's limiter only waits out a 429.
            rate_limiter=AIORateLimiter(
                overall_max_rate=0, group_max_rate=0, max_retries=max_retries
            ),
        )
        self._spacing = ChatSpacing()
        #: The overall limit for this token; the bot's replies share it (PacedLimiter).
        self.pacer = Pacer(OVERALL_PER_SECOND, OVERALL_WINDOW)
        self._started = False
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def _start(self) -> None:
        if not self._started:
            await self.bot.initialize()
            self._started = True

    async def _send_chunks(self, chat_id: int, content: TelegramContent, sent: list[int]) -> None:
        """Send the parts not yet delivered, in order; `sent[0]` counts the delivered ones."""
        interval = GROUP_INTERVAL if chat_id < 0 else CHAT_INTERVAL
        for chunk in content.chunks[sent[0] :]:
            async with self._spacing.turn(chat_id, interval, self.pacer):
                await self.bot.send_message(
                    chat_id,
                    chunk,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    protect_content=content.protect_content,
                )
            sent[0] += 1

    async def _send_one(self, message: Outgoing) -> Result:
        content = message.content
        if not isinstance(content, TelegramContent):
            return Result(message.outbox_id, Outcome.PERMANENT, "not a Telegram message")
        sent = [content.skip]

        def failed(outcome: Outcome, error: str, **more: Any) -> Result:
            # A message in parts that failed midway remembers how far it got.
            parts = sent[0] if len(content.chunks) > 1 else None
            return Result(message.outbox_id, outcome, error, parts_sent=parts, **more)

        async with self._slots:
            try:
                try:
                    await self._send_chunks(content.chat_id, content, sent)
                except ChatMigrated as moved:
                    await self._send_chunks(moved.new_chat_id, content, sent)
                    return Result(message.outbox_id, Outcome.SENT, new_chat_id=moved.new_chat_id)
            except RetryAfter as exc:
                return failed(Outcome.TEMPORARY, str(exc), retry_after=_seconds(exc.retry_after))
            except Forbidden as exc:
                return failed(Outcome.BLOCKED, exc.message)
            except BadRequest as exc:
                return failed(Outcome.PERMANENT, exc.message)
            except InvalidToken as exc:
                self.state.note = f"the bot token was refused: {exc.message}"
                return failed(Outcome.TEMPORARY, self.state.note)
            except (NetworkError, TelegramError) as exc:  # TimedOut is a NetworkError
                return failed(Outcome.TEMPORARY, f"telegram: {exc.message}")
        return Result(message.outbox_id, Outcome.SENT)

    async def send(
        self, messages: Sequence[Outgoing], report: Report | None = None
    ) -> list[Result]:
        results = Results(report)
        try:
            await self._start()
        except (NetworkError, TelegramError) as exc:
            self.state.note = f"cannot reach the Bot API: {exc.message}"
            for m in messages:
                results.add(Result(m.outbox_id, Outcome.TEMPORARY, self.state.note))
            return results
        # Messages to one chat go in order (one after another); different chats in parallel.
        by_chat: OrderedDict[int, list[Outgoing]] = OrderedDict()
        for message in messages:
            chat = message.content.chat_id if isinstance(message.content, TelegramContent) else 0
            by_chat.setdefault(chat, []).append(message)

        async def chat_queue(queue: list[Outgoing]) -> None:
            for message in queue:
                # Reported the moment its answer is back: a crash sends again only what was
                # in flight (at most CONCURRENCY messages).
                results.add(await self._send_one(message))

        async with asyncio.TaskGroup() as group:  # a failed record stops every chat's queue
            for queue in by_chat.values():
                group.create_task(chat_queue(queue))
        if not any(r.error == self.state.note for r in results):
            self.state.note = ""  # no message met the problem noted earlier: it is over
        return results

    async def close(self) -> None:
        if self._started:
            await self.bot.shutdown()
            self._started = False
