"""Record a batch's results while it is still sending, so a crash sends again only what was on
the wire, not the batch.

Each result joins the next write (a group commit): one transaction for many messages, as the
store likes it. A group goes when a sender waits on one of its records (`hurry`), when it
holds GROUP_MOST results, or LINGER after the write before: so a sender that waits is answered
within one write, and one that does not has its results in the store within LINGER."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from notifier.config import Settings
from notifier.delivery.record import DeliverReport, record
from notifier.domain.messages import Outcome, Result
from notifier.faults import checkpoint
from notifier.store.engine import Store
from notifier.store.models import utcnow
from notifier.store.outbox import SENT, Claimed, sent_params

log = logging.getLogger(__name__)

#: A write that fails (a locked or restarting store) is tried again after these pauses (s)
#: before the batch gives up; its messages then come back through the worker's heartbeat.
WRITE_RETRIES = (0.05, 0.5, 2.0)
#: The longest a result waits for its write when no sender is waiting on it (s).
LINGER = 0.05
#: A group this large goes at once.
GROUP_MOST = 500


class Recorder:
    """Called with each result as its answer comes back; the future it returns is done when
    the result is in the store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        claimed: Mapping[int, Claimed],
        suppressed: Mapping[int, str],
        report: DeliverReport,
        worker: int | None,
        now: datetime | None = None,
        finish: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.claimed = claimed
        self.report = report
        self.worker = worker
        self.now = now
        self.finish = finish
        self._suppressed = dict(suppressed)
        self._waiting: list[tuple[Result, asyncio.Future[None]]] = []
        self._seen: set[int] = set()
        self._writer: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None
        self._hurried = False
        self._wake: asyncio.Future[None] | None = None

    def __call__(self, result: Result) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._failed is not None:
            future.set_exception(self._failed)
            return future
        if result.outbox_id in self._seen or result.outbox_id not in self.claimed:
            future.set_result(None)  # twice, or not this batch's: nothing to write
            return future
        checkpoint("deliver.after_answer")
        self._seen.add(result.outbox_id)
        self._waiting.append((result, future))
        if len(self._waiting) >= GROUP_MOST:
            self.hurry()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="record results")
        return future

    def hurry(self) -> None:
        """A sender is waiting on a record: the results gathered so far go now."""
        self._hurried = True
        self._wake_up()

    def _wake_up(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def unanswered(self) -> list[int]:
        """Claimed ids no result was given for yet."""
        return [i for i in self.claimed if i not in self._seen and i not in self._suppressed]

    async def _write_all(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting or self._suppressed:
            if not self._hurried:  # gather more, for LINGER at most
                self._wake = loop.create_future()
                timer = loop.call_later(LINGER, self._wake_up)
                try:
                    await self._wake
                finally:
                    timer.cancel()
                    self._wake = None
            self._hurried = False
            taken, self._waiting = self._waiting, []
            try:
                await self._write([result for result, _ in taken])
            except Exception as exc:
                self._failed = exc
                for _, future in taken + self._waiting:
                    if not future.done():
                        future.set_exception(exc)
                        # Senders that do not wait on their records never look: close()
                        # raises this error for the batch, so it is not lost unlogged.
                        future.exception()
                self._waiting = []
                return
            for _, future in taken:
                if not future.done():
                    future.set_result(None)

    async def _write(self, results: list[Result]) -> None:
        suppressed, self._suppressed = self._suppressed, {}
        for pause in (*WRITE_RETRIES, None):
            try:
                await self._write_once(results, suppressed)
                return
            except Exception:
                if pause is None:
                    raise
                log.warning("recording %d result(s) failed; trying again", len(results))
                await asyncio.sleep(pause)

    async def _write_once(self, results: list[Result], suppressed: Mapping[int, str]) -> None:
        now = self.now or utcnow()
        if not suppressed and all(
            r.outcome is Outcome.SENT and r.new_chat_id is None for r in results
        ):  # nearly every write: messages sent, nothing more to say about them
            ids = [r.outbox_id for r in results]
            await self.store.quick.execute(SENT, sent_params(ids, now=now))
            self.report.sent += len(ids)
            return
        counted = DeliverReport()  # added once the write commits, not per try
        async with self.store.transaction() as session:
            await record(
                session, self.settings, results, suppressed, self.claimed, now, counted,
                worker=self.worker,
            )  # fmt: skip
        self.report.add(counted)

    async def close(self) -> None:
        """Wait until every result given is written (raises if that failed), then write what the
        batch leaves behind (`finish`)."""
        self.hurry()
        if self._suppressed and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write_all(), name="record results")
        if self._writer is not None:
            await self._writer
        if self._failed is not None:
            raise self._failed
        if self.finish is not None:
            async with self.store.transaction() as session:
                await self.finish(session)
